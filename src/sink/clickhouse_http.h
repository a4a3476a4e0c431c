/* One ClickHouse server over its HTTP interface (libcurl): a statement or an
 * INSERT with its data is one POST, answered 200 with the result, or another
 * status with ClickHouse's message in the body. Used by the ClickHouse store
 * (clickhouse_sink.c) and `reestr query --clickhouse`. */
#ifndef RS_SINK_CLICKHOUSE_HTTP_H
#define RS_SINK_CLICKHOUSE_HTTP_H

#include <stddef.h>

#include "base/buf.h"

/* How long one request may take when the caller says 0. */
#define RS_CLICKHOUSE_DEFAULT_TIMEOUT_MS 60000L
/* How long connecting may take (within the request's time). */
#define RS_CLICKHOUSE_CONNECT_TIMEOUT_MS 5000L
/* How much of ClickHouse's error message an error quotes. */
#define RS_CLICKHOUSE_MAX_MESSAGE 400

typedef struct rs_ch_http rs_ch_http;

/* url is http://[user:password@]HOST:PORT[/]; anything after the port other
 * than "/" is refused (the statements choose the path and parameters). A
 * timeout_ms of 0 means RS_CLICKHOUSE_DEFAULT_TIMEOUT_MS. Connects to
 * nothing yet. Returns 0, RS_EINVAL naming what is wrong with url, or
 * RS_ENOMEM. */
int rs_ch_http_new(const char *url, long timeout_ms, rs_ch_http **out);
void rs_ch_http_free(rs_ch_http *h);

/* The URL as errors show it: the password, if any, replaced by "***". */
const char *rs_ch_http_url(const rs_ch_http *h);

/* POSTs to the server. params are extra URL parameters, already encoded
 * ("database=reestr&readonly=2"), or NULL. With query NULL the body is the
 * statement; otherwise query is the statement (sent URL-encoded as the
 * `query` parameter) and body its data (an INSERT's rows). The answer's
 * body is appended to resp (may be NULL). Not safe for two threads at once.
 *
 * Returns 0 when ClickHouse answered 200. Otherwise RS_EIO with
 * rs_error_last() naming the URL and what went wrong: the connection
 * ("cannot connect: ...", "request failed: ...", "no answer within N ms") or
 * ClickHouse's status and message ("HTTP 404: Code: 60, ... Table reestr.x
 * doesn't exist"). */
int rs_ch_http_post(rs_ch_http *h, const char *params, const char *query,
		    const char *body, size_t body_len, rs_buf *resp);

#endif
