/* Parsing helpers shared by the subcommands; each prints its own error
 * naming the option and returns -1 on bad input. */
#ifndef RS_CLI_OPTIONS_H
#define RS_CLI_OPTIONS_H

#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "base/limits.h"

/* A positive decimal integer, optionally with a K, M or G suffix (x1024). */
int rs_parse_size_option(const char *name, const char *value, size_t *out);

/* The --max-… options that set the collector's limits, read the same way
 * by serve and check (check warns against the limits given):
 * RS_LIMIT_LONGOPTS(base) gives their getopt_long entries, numbered base
 * .. base + RS_LIMIT_OPTION_COUNT - 1 in this order; rs_limit_option()
 * stores the value of the i-th (0-based) into l, or prints why not and
 * returns -1; rs_limit_options_help() prints their --help lines with the
 * defaults. */
/* clang-format off */
#define RS_LIMIT_LONGOPTS(base)                                        \
	{"max-body-bytes", required_argument, NULL, (base)},           \
	{"max-batch-events", required_argument, NULL, (base) + 1},     \
	{"max-string-bytes", required_argument, NULL, (base) + 2},     \
	{"max-depth", required_argument, NULL, (base) + 3}
/* clang-format on */
enum { RS_LIMIT_OPTION_COUNT = 4 };
int rs_limit_option(int i, const char *value, rs_ingest_limits *l);
void rs_limit_options_help(FILE *out);

/* "HOST:PORT" or "[IPV6]:PORT"; "localhost" is taken as 127.0.0.1. */
int rs_parse_listen(const char *value, char *host, size_t host_size,
		    unsigned short *port);

/* After a failure to listen on host:port: when another socket holds the
 * port, prints to out how to pick another, naming a free one near it
 * (--listen, and make run's LISTEN=), and returns 1; else prints nothing
 * and returns 0. */
int rs_port_in_use_hint(const char *who, const char *host, unsigned short port,
			FILE *out);

/* For the long-running commands (serve, agent): SIGINT and SIGTERM are
 * blocked, to be taken by sigwait(stop) in the main thread, and SIGPIPE is
 * ignored. Call before starting any thread, so every thread inherits the
 * mask and a signal during startup waits instead of killing the process
 * half-started. */
void rs_block_stop_signals(sigset_t *stop);

#endif
