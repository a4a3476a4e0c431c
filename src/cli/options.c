#include "cli/options.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rs_parse_size_option(const char *name, const char *value, size_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(value, &end, 10);
	unsigned long long mult = 1;
	if (*end == 'K' || *end == 'k')
		mult = 1024, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1024 * 1024, end++;
	else if (*end == 'G' || *end == 'g')
		mult = 1024ULL * 1024 * 1024, end++;
	if (errno || end == value || *end || value[0] == '-' || v == 0 ||
	    v > (unsigned long long)SIZE_MAX / mult) {
		fprintf(stderr,
			"reestr: --%s wants a positive number (e.g. 1000 or "
			"16M), not '%s'\n",
			name, value);
		return -1;
	}
	*out = (size_t)(v * mult);
	return 0;
}

int rs_parse_listen(const char *value, char *host, size_t host_size,
		    unsigned short *port)
{
	const char *colon;
	const char *h = value;
	size_t hlen;
	if (value[0] == '[') {
		const char *close = strchr(value, ']');
		if (!close || close[1] != ':')
			goto bad;
		h = value + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(value, ':');
		if (!colon)
			goto bad;
		hlen = (size_t)(colon - value);
	}
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || p < 0 || p > 65535 ||
	    hlen == 0 || hlen >= host_size)
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (!strcmp(host, "localhost"))
		snprintf(host, host_size, "127.0.0.1");
	*port = (unsigned short)p;
	return 0;
bad:
	fprintf(stderr,
		"reestr: --listen wants HOST:PORT (e.g. 127.0.0.1:8080 or "
		"[::1]:8080), not '%s'\n",
		value);
	return -1;
}

void rs_block_stop_signals(sigset_t *stop)
{
	sigemptyset(stop);
	sigaddset(stop, SIGINT);
	sigaddset(stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, stop, NULL);
	signal(SIGPIPE, SIG_IGN);
}
