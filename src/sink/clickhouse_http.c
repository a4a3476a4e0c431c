#include "sink/clickhouse_http.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "reestr/error.h"

struct rs_ch_http {
	CURL *curl;
	char *base;  /* scheme://authority, as given */
	char *shown; /* the same with the password hidden */
	long timeout_ms;
	rs_buf url; /* scratch: the request's URL */
};

/* The URL as errors show it: user:password@ becomes user:***@. */
static char *hide_password(const char *base, size_t scheme_len,
			   size_t authority_len)
{
	const char *auth = base + scheme_len;
	const char *at = memchr(auth, '@', authority_len);
	const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	rs_buf b = RS_BUF_INIT;
	if (colon) {
		rs_buf_append(&b, base, (size_t)(colon - base) + 1);
		rs_buf_puts(&b, "***");
		rs_buf_puts(&b, at);
	} else {
		rs_buf_puts(&b, base);
	}
	return b.data ? rs_buf_detach(&b) : NULL;
}

int rs_ch_http_new(const char *url, long timeout_ms, rs_ch_http **out)
{
	*out = NULL;
	size_t scheme_len;
	if (!strncmp(url, "http://", 7))
		scheme_len = 7;
	else if (!strncmp(url, "https://", 8))
		scheme_len = 8;
	else
		return rs_error_set(RS_EINVAL,
				    "ClickHouse URL '%s': it starts with "
				    "http:// or https://",
				    url);
	const char *auth = url + scheme_len;
	size_t alen = strcspn(auth, "/?#");
	const char *rest = auth + alen;
	if (alen == 0 || (*rest && strcmp(rest, "/")))
		return rs_error_set(RS_EINVAL,
				    "ClickHouse URL '%s': give only "
				    "http://[user:password@]HOST:PORT (the "
				    "database is --clickhouse-database)",
				    url);
	rs_ch_http *h = calloc(1, sizeof *h);
	if (!h)
		return rs_error_set(RS_ENOMEM, "out of memory");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	h->curl = curl_easy_init();
	h->base = strndup(url, scheme_len + alen);
	h->shown = h->base ? hide_password(h->base, scheme_len, alen) : NULL;
	h->timeout_ms =
		timeout_ms > 0 ? timeout_ms : RS_CLICKHOUSE_DEFAULT_TIMEOUT_MS;
	if (!h->curl || !h->base || !h->shown) {
		rs_ch_http_free(h);
		return rs_error_set(RS_ENOMEM, "out of memory");
	}
	*out = h;
	return 0;
}

void rs_ch_http_free(rs_ch_http *h)
{
	if (!h)
		return;
	if (h->curl) {
		curl_easy_cleanup(h->curl);
		curl_global_cleanup();
	}
	free(h->base);
	free(h->shown);
	rs_buf_free(&h->url);
	free(h);
}

const char *rs_ch_http_url(const rs_ch_http *h)
{
	return h->shown;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
	return rs_buf_append(ctx, data, size * n) < 0 ? 0 : size * n;
}

/* ClickHouse's message on one line, at most RS_CLICKHOUSE_MAX_MESSAGE
 * bytes, without 18.16's ", e.what() = DB::Exception" tail. */
static void message_of(const rs_buf *body, char *out, size_t size)
{
	size_t n = 0;
	const char *s = body->data ? body->data : "";
	for (size_t i = 0; i < body->len && n + 1 < size; i++)
		out[n++] = s[i] == '\n' || s[i] == '\r' || s[i] == '\t' ? ' '
									: s[i];
	out[n] = 0;
	char *tail = strstr(out, ", e.what() = ");
	if (tail)
		*tail = 0;
	n = strlen(out);
	while (n && out[n - 1] == ' ')
		out[--n] = 0;
	if (!n)
		snprintf(out, size, "(no message)");
}

int rs_ch_http_post(rs_ch_http *h, const char *params, const char *query,
		    const char *body, size_t body_len, rs_buf *resp)
{
	rs_buf *u = &h->url;
	rs_buf_reset(u);
	rs_buf_puts(u, h->base);
	rs_buf_puts(u, "/?");
	if (params && *params)
		rs_buf_puts(u, params);
	if (query) {
		char *q = curl_easy_escape(h->curl, query, 0);
		if (!q)
			return rs_error_set(RS_ENOMEM, "out of memory");
		rs_buf_printf(u, "%squery=%s", params && *params ? "&" : "", q);
		curl_free(q);
	}
	if (!u->data)
		return rs_error_set(RS_ENOMEM, "out of memory");
	rs_buf answer = RS_BUF_INIT;
	CURL *c = h->curl;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, u->data);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)(body ? body_len : 0));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp ? resp : &answer);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 h->timeout_ms < RS_CLICKHOUSE_CONNECT_TIMEOUT_MS
				 ? h->timeout_ms
				 : RS_CLICKHOUSE_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	/* an INSERT's rows go at once, without waiting for 100-continue */
	struct curl_slist *hdr = curl_slist_append(NULL, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	size_t resp_start = resp ? resp->len : 0;
	CURLcode rc = curl_easy_perform(c);
	curl_slist_free_all(hdr);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	int ret = 0;
	if (rc == CURLE_OPERATION_TIMEDOUT) {
		ret = rs_error_set(RS_EIO,
				   "ClickHouse at %s: no answer within %ld ms",
				   h->shown, h->timeout_ms);
	} else if (rc == CURLE_COULDNT_CONNECT ||
		   rc == CURLE_COULDNT_RESOLVE_HOST) {
		ret = rs_error_set(RS_EIO,
				   "ClickHouse at %s: cannot connect: %s",
				   h->shown, curl_easy_strerror(rc));
	} else if (rc != CURLE_OK) {
		ret = rs_error_set(RS_EIO,
				   "ClickHouse at %s: request failed: %s",
				   h->shown, curl_easy_strerror(rc));
	} else if (status != 200) {
		char msg[RS_CLICKHOUSE_MAX_MESSAGE + 1];
		rs_buf err = RS_BUF_INIT;
		const rs_buf *from = &answer;
		if (resp && resp->len > resp_start) {
			rs_buf_append(&err, resp->data + resp_start,
				      resp->len - resp_start);
		}
		if (resp)
			from = &err;
		message_of(from, msg, sizeof msg);
		rs_buf_free(&err);
		if (resp) { /* the caller sees only what succeeded */
			resp->len = resp_start;
			if (resp->data)
				resp->data[resp_start] = 0;
		}
		ret = rs_error_set(RS_EIO, "ClickHouse at %s: HTTP %ld: %s",
				   h->shown, status, msg);
	}
	rs_buf_free(&answer);
	return ret;
}
