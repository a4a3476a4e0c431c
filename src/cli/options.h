/* Parsing helpers shared by the subcommands; each prints its own error
 * naming the option and returns -1 on bad input. */
#ifndef RS_CLI_OPTIONS_H
#define RS_CLI_OPTIONS_H

#include <signal.h>
#include <stddef.h>

/* A positive decimal integer, optionally with a K, M or G suffix (x1024). */
int rs_parse_size_option(const char *name, const char *value, size_t *out);

/* "HOST:PORT" or "[IPV6]:PORT"; "localhost" is taken as 127.0.0.1. */
int rs_parse_listen(const char *value, char *host, size_t host_size,
		    unsigned short *port);

/* For the long-running commands (serve, agent): SIGINT and SIGTERM are
 * blocked, to be taken by sigwait(stop) in the main thread, and SIGPIPE is
 * ignored. Call before starting any thread, so every thread inherits the
 * mask and a signal during startup waits instead of killing the process
 * half-started. */
void rs_block_stop_signals(sigset_t *stop);

#endif
