#include "cli/options.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* Whether a listening socket could bind host:port now (SO_REUSEADDR, as
 * libmicrohttpd's: a port in TIME_WAIT is free): 1 free, 0 in use, -1
 * another error. */
static int port_free(const char *host, unsigned short port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		len = sizeof *in4;
	} else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		len = sizeof *in6;
	} else {
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	int rc = bind(fd, (struct sockaddr *)&ss, len) == 0 ? 1
		 : errno == EADDRINUSE			    ? 0
							    : -1;
	close(fd);
	return rc;
}

int rs_port_in_use_hint(const char *who, const char *host, unsigned short port,
			FILE *out)
{
	if (port == 0 || port_free(host, port) != 0)
		return 0;
	char at[300];
	bool v6 = strchr(host, ':') != NULL;
	snprintf(at, sizeof at, "%s%s%s", v6 ? "[" : "", host, v6 ? "]" : "");
	unsigned p = port + 1u;
	while (p <= 65535u && p < port + 100u &&
	       port_free(host, (unsigned short)p) != 1)
		p++;
	char free_port[16] = "PORT";
	if (p <= 65535u && p < port + 100u)
		snprintf(free_port, sizeof free_port, "%u", p);
	fprintf(out,
		"%s: another program already listens on %s:%u (another "
		"'reestr serve' or 'make run'?): pick another port, e.g. "
		"--listen %s:%s (make run LISTEN=%s:%s)\n",
		who, at, port, at, free_port, at, free_port);
	return 1;
}
