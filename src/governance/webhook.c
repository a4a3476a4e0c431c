/* Owners' webhooks: see webhook.h. */
#include "governance/webhook.h"

#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
	(void)p, (void)ctx;
	return size * n;
}

/* One POST: 0 on a 2xx answer, else -1 with why in err. */
static int post_once(const char *url, const rs_buf *body, char *err,
		     size_t size)
{
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(err, size, "cannot start libcurl");
		return -1;
	}
	struct curl_slist *h =
		curl_slist_append(NULL, "Content-Type: application/json");
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body->data);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)body->len);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)RS_WEBHOOK_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 2L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	CURLcode rc = curl_easy_perform(c);
	long status = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK) {
		snprintf(err, size, "%s",
			 *cerr ? cerr : curl_easy_strerror(rc));
		return -1;
	}
	if (status < 200 || status > 299) {
		snprintf(err, size, "answered %ld", status);
		return -1;
	}
	return 0;
}

size_t rs_webhooks_notify(rs_devdb *db, const rs_registry *reg,
			  const int64_t *ids, size_t n, size_t *failed)
{
	size_t told = 0, bad = 0;
	for (size_t i = 0; n && i < rs_registry_owner_count(reg); i++) {
		const rs_owner *o = rs_registry_owner_at(reg, i);
		if (!*o->webhook)
			continue;
		rs_buf body = RS_BUF_INIT;
		if (rs_devdb_json_owner(db, o->name, ids, n, &body) < 0) {
			fprintf(stderr,
				"reestr: deviations: webhook of %s: cannot "
				"read the items\n",
				o->name);
			bad++;
			rs_buf_free(&body);
			continue;
		}
		if (!strcmp(body.data, "{\"deviations\":[]}")) {
			rs_buf_free(&body);
			continue; /* none of this owner's */
		}
		char err[CURL_ERROR_SIZE + 64] = "";
		int ok = -1;
		for (int t = 0; t < RS_WEBHOOK_TRIES && ok < 0; t++) {
			if (t)
				sleep((unsigned)t); /* 1 s, then 2 s */
			ok = post_once(o->webhook, &body, err, sizeof err);
		}
		if (ok < 0) {
			fprintf(stderr,
				"reestr: deviations: webhook of %s (%s): %s, "
				"after %d tries; the items stay in "
				"deviations.db\n",
				o->name, o->webhook, err, RS_WEBHOOK_TRIES);
			bad++;
		} else {
			told++;
		}
		rs_buf_free(&body);
	}
	if (failed)
		*failed = bad;
	return told;
}
