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

int rs_limit_option(int i, const char *value, rs_ingest_limits *l)
{
	static const struct option names[] = {RS_LIMIT_LONGOPTS(0)};
	size_t *fields[] = {&l->max_body_bytes, &l->max_batch_events,
			    &l->max_string_bytes, &l->max_depth};
	_Static_assert(sizeof names / sizeof names[0] == RS_LIMIT_OPTION_COUNT,
		       "one entry per limit option");
	_Static_assert(sizeof fields / sizeof fields[0] ==
			       RS_LIMIT_OPTION_COUNT,
		       "one field per limit option");
	if (i < 0 || i >= RS_LIMIT_OPTION_COUNT)
		return -1;
	return rs_parse_size_option(names[i].name, value, fields[i]);
}

void rs_limit_options_help(FILE *out)
{
	fprintf(out,
		"  --max-body-bytes N      largest request body, before and "
		"after decoding\n"
		"                          (default: %u)\n"
		"  --max-batch-events N    most events in one batch (default: "
		"%u)\n"
		"  --max-string-bytes N    longest JSON string or key "
		"(default: %u)\n"
		"  --max-depth N           deepest nesting of JSON arrays and "
		"objects (default: %u)\n",
		RS_INGEST_DEFAULT_MAX_BODY_BYTES,
		RS_INGEST_DEFAULT_MAX_BATCH_EVENTS,
		RS_INGEST_DEFAULT_MAX_STRING_BYTES,
		RS_INGEST_DEFAULT_MAX_DEPTH);
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
