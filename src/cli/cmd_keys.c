/* reestr keys: the collector's write and read keys (docs/security.md).
 * create, list, revoke, rotate, limit; each change written to the audit
 * log. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/audit.h"
#include "auth/key.h"
#include "auth/keystore.h"
#include "auth/rate.h"
#include "auth/secret.h"
#include "base/timefmt.h"
#include "cli/commands.h"
#include "json/json.h"
#include "model/origins.h"
#include "reestr/error.h"

/* a rotated key's grace period when --grace is not given */
#define DEFAULT_GRACE "24h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: reestr keys create SOURCE [SOURCE...] [--environment "
		"ENV]\n"
		"                          [--expires DURATION|DATE] "
		"[--publishable --origin O...]\n"
		"                          [--read] [--events-per-second N] "
		"[--bytes-per-second N]\n"
		"                          [--data DIR]\n"
		"       reestr keys list [--format table|json] [--data DIR]\n"
		"       reestr keys revoke ID [--data DIR]\n"
		"       reestr keys rotate ID [--grace DURATION] [--data DIR]\n"
		"       reestr keys limit ID [--events-per-second N] "
		"[--bytes-per-second N]\n"
		"                        [--data DIR]\n"
		"\n"
		"The collector's keys (docs/security.md), kept in "
		"DIR/keys.db as\nHMAC-SHA-256 under DIR/server.secret (both "
		"made on first use): the key\nitself is printed once, by "
		"create and rotate, and stored nowhere.\n"
		"\n"
		"  create       a write key (rk_live_...) for events of "
		"SOURCE (several: an\n"
		"               agent's key, for its host's sources), of "
		"environment ENV\n"
		"               only when given; --publishable: a browser's "
		"key (rk_pub_...),\n"
		"               used only from the origins given (--origin, "
		"one or more) and\n"
		"               needing --environment; --read: a read key "
		"(rk_read_...) for\n"
		"               /v1/stats, /v1/registry and private packages "
		"(SOURCE names\n"
		"               its holder)\n"
		"  list         every key: id, kind, sources, environment, "
		"state, dates\n"
		"  revoke       the key stops working at once, also on a "
		"running serve\n"
		"               (within a second)\n"
		"  rotate       prints a new key with the same rights; the old "
		"one keeps\n"
		"               working for the grace period (default %s), "
		"then stops\n"
		"  limit        changes a write or publishable key's rate "
		"limits (0: none);\n"
		"               a running serve applies them within a second\n"
		"\n"
		"options:\n"
		"  --data DIR              the collector's data folder "
		"(default: var)\n"
		"  --environment ENV       the key writes events of ENV only\n"
		"  --expires WHEN          a duration from now (30d, 12h, 90m, "
		"45s) or a date\n"
		"                          (2027-01-31 or RFC 3339): the key "
		"stops working then\n"
		"  --publishable           a browser's key (with --origin and "
		"--environment)\n"
		"  --origin ORIGIN         an origin it may be used from, as "
		"browsers send it\n"
		"                          (https://shop.example.com); "
		"repeatable\n"
		"  --read                  a read key\n"
		"  --grace DURATION        rotate: how long the old key still "
		"works\n"
		"  --events-per-second N   create, limit: at most N events a "
		"second on average,\n"
		"                          in bursts of %g seconds' worth; "
		"beyond it a batch is\n"
		"                          refused whole with 429 and "
		"Retry-After (default: none)\n"
		"  --bytes-per-second N    create, limit: the same for the "
		"bytes of the batches'\n"
		"                          bodies (decoded)\n"
		"  --format table|json     list's output (default: table)\n"
		"  -h, --help              show this help\n"
		"\n"
		"Every create, revoke, rotate and limit appends a line to "
		"DIR/audit.log (the key's\nid, sources, the OS user, the "
		"time), fsync'd before the key is printed.\n",
		DEFAULT_GRACE, RS_RATE_BURST_S);
}

/* --events-per-second, --bytes-per-second: a number >= 0 (0: no limit);
 * -1 when not one. */
static double parse_rate(const char *opt, const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || *end || !(v >= 0) || v > 1e15) {
		fprintf(stderr,
			"reestr keys: --%s '%s': not a number from 0 (no "
			"limit) to 1e15\n",
			opt, s);
		return -1;
	}
	return v;
}

/* "30d", "12h", "90m", "45s", "2w": microseconds; -1 if not one. */
static int64_t parse_duration(const char *s)
{
	char *end;
	long long n = strtoll(s, &end, 10);
	if (end == s || n < 0 || n > 100LL * 366 * 86400 || end[0] == '\0' ||
	    end[1] != '\0')
		return -1;
	long long unit;
	switch (*end) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	case 'w':
		unit = 7 * 86400;
		break;
	default:
		return -1;
	}
	if (n * unit > 100LL * 366 * 86400)
		return -1;
	return (int64_t)(n * unit) * 1000000;
}

/* --expires: a duration from now, a date (midnight UTC) or an RFC 3339
 * time. -1 when none of these. */
static int64_t parse_when(const char *s, int64_t now)
{
	int64_t d = parse_duration(s);
	if (d >= 0)
		return now + d;
	char buf[64];
	if (strlen(s) == 10) {
		snprintf(buf, sizeof buf, "%sT00:00:00Z", s);
		s = buf;
	}
	int64_t t;
	const char *why;
	if (rs_time_parse(s, strlen(s), &t, &why) < 0)
		return -1;
	return t;
}

static int open_store(const char *data, unsigned char *secret, rs_keystore **ks)
{
	if ((secret && rs_server_secret_load(data, secret) < 0) ||
	    rs_keystore_open(data, ks) < 0) {
		fprintf(stderr, "reestr keys: %s\n", rs_error_last());
		return -1;
	}
	return 0;
}

/* Appends word to a space-separated list of at most max bytes. */
static int add_word(char *list, size_t max, const char *word, const char *what)
{
	size_t n = strlen(word);
	if (n == 0 || strpbrk(word, " \t\n\r\"\\")) {
		fprintf(stderr,
			"reestr keys: %s '%s': empty, or has a space, quote or "
			"backslash\n",
			what, word);
		return -1;
	}
	if (strlen(list) + 1 + n > max) {
		fprintf(stderr,
			"reestr keys: the %ss given are longer than %zu "
			"bytes in all\n",
			what, max);
		return -1;
	}
	if (*list)
		strcat(list, " ");
	strcat(list, word);
	return 0;
}

/* "100 events/s, 65536 bytes/s", or "" for a key without rates. */
static void rates_text(const rs_key_record *k, char *out, size_t size)
{
	out[0] = '\0';
	if (k->rate_events_per_s > 0 && k->rate_bytes_per_s > 0)
		snprintf(out, size, "%.15g events/s, %.15g bytes/s",
			 k->rate_events_per_s, k->rate_bytes_per_s);
	else if (k->rate_events_per_s > 0)
		snprintf(out, size, "%.15g events/s", k->rate_events_per_s);
	else if (k->rate_bytes_per_s > 0)
		snprintf(out, size, "%.15g bytes/s", k->rate_bytes_per_s);
}

/* The store refused a key whose audit line was written, or the line
 * could not be made durable (its write may have reached the file, its
 * fsync failed): a second line says the key was not made after all (best
 * effort: the first error is the one reported). */
static void audit_not_made(const char *data, const char *action,
			   const rs_key_record *k)
{
	char undone[64];
	snprintf(undone, sizeof undone, "%s failed", action);
	(void)rs_audit_key(data, undone, k);
}

/* A new key's audit line, written before the key is stored: a key works
 * only once its line is durable (docs/security.md, "The audit log"). If
 * the line cannot be written, nothing is stored and nothing printed. */
static int audit_new_key(const char *data, const char *action,
			 const rs_key_record *k)
{
	if (rs_audit_key(data, action, k) == 0)
		return 0;
	fprintf(stderr,
		"reestr keys: the audit log could not be written (%s): %s "
		"(nothing stored, nothing printed); free the disk and run the "
		"command again\n",
		rs_error_last(),
		strcmp(action, "key limit") ? "no key was made"
					    : "the limit was not changed");
	audit_not_made(data, action, k);
	return -1;
}

static int print_new_key(const rs_key_record *k, const char *text)
{
	char exp[RS_TIME_TEXT_SIZE] = "never", rates[120];
	if (k->expires_us)
		rs_time_format(k->expires_us, exp);
	rates_text(k, rates, sizeof rates);
	fprintf(stderr,
		"reestr keys: %s key %s for source %s, environment %s%s%s, "
		"expires %s%s%s. It is shown once, here: keep it in your "
		"secrets store (REESTR_KEY)\n",
		rs_key_kind_name(k->kind), k->id, k->sources,
		k->environment[0] ? k->environment : "any",
		k->origins[0] ? ", origins " : "", k->origins, exp,
		rates[0] ? ", at most " : "", rates);
	printf("%s\n", text);
	return 0;
}

static int make_key(const unsigned char *secret, rs_key_record *k,
		    char text[RS_KEY_TEXT_SIZE])
{
	if (rs_key_make(k->kind, text, k->id) < 0) {
		fprintf(stderr, "reestr keys: %s\n", rs_error_last());
		return -1;
	}
	rs_key_hash(secret, text, strlen(text), k->hash);
	return 0;
}

static int cmd_create(int argc, char **argv, const char *data, int64_t now)
{
	enum {
		O_ENV = 256,
		O_EXPIRES,
		O_PUB,
		O_ORIGIN,
		O_READ,
		O_DATA,
		O_EVENTS,
		O_BYTES
	};
	static const struct option longopts[] = {
		{"environment", required_argument, NULL, O_ENV},
		{"events-per-second", required_argument, NULL, O_EVENTS},
		{"bytes-per-second", required_argument, NULL, O_BYTES},
		{"expires", required_argument, NULL, O_EXPIRES},
		{"publishable", no_argument, NULL, O_PUB},
		{"origin", required_argument, NULL, O_ORIGIN},
		{"read", no_argument, NULL, O_READ},
		{"data", required_argument, NULL, O_DATA},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static rs_key_record k;
	memset(&k, 0, sizeof k);
	k.kind = RS_KEY_WRITE;
	bool pub = false, read = false;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_ENV:
			if (strlen(optarg) > RS_KEY_ENV_MAX || !*optarg ||
			    strpbrk(optarg, " \t\"\\")) {
				fprintf(stderr,
					"reestr keys: --environment '%s': "
					"not an environment name\n",
					optarg);
				return 2;
			}
			snprintf(k.environment, sizeof k.environment, "%s",
				 optarg);
			break;
		case O_EXPIRES:
			k.expires_us = parse_when(optarg, now);
			if (k.expires_us < 0) {
				fprintf(stderr,
					"reestr keys: --expires '%s': not a "
					"duration (30d, 12h, 90m, 45s, 2w) or "
					"a date (2027-01-31, RFC 3339)\n",
					optarg);
				return 2;
			}
			if (k.expires_us <= now) {
				fprintf(stderr,
					"reestr keys: --expires '%s' is in "
					"the past\n",
					optarg);
				return 2;
			}
			break;
		case O_PUB:
			pub = true;
			break;
		case O_ORIGIN: {
			char why[200];
			if (rs_origin_check(optarg, strlen(optarg), why,
					    sizeof why) < 0) {
				fprintf(stderr,
					"reestr keys: --origin '%s' %s\n",
					optarg, why);
				return 2;
			}
			if (add_word(k.origins, RS_KEY_ORIGINS_MAX, optarg,
				     "origin") < 0)
				return 2;
			break;
		}
		case O_READ:
			read = true;
			break;
		case O_EVENTS:
			if ((k.rate_events_per_s = parse_rate(
				     "events-per-second", optarg)) < 0)
				return 2;
			break;
		case O_BYTES:
			if ((k.rate_bytes_per_s = parse_rate("bytes-per-second",
							     optarg)) < 0)
				return 2;
			break;
		case O_DATA:
			data = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "reestr keys create: name the SOURCE the key "
				"writes for (or, with --read, its holder)\n");
		return 2;
	}
	for (int i = optind; i < argc; i++)
		if (add_word(k.sources, RS_KEY_SOURCES_MAX, argv[i], "source") <
		    0)
			return 2;
	if (pub && read) {
		fprintf(stderr,
			"reestr keys create: --publishable and --read: a key "
			"is one or the other\n");
		return 2;
	}
	if (read && (k.rate_events_per_s > 0 || k.rate_bytes_per_s > 0)) {
		fprintf(stderr, "reestr keys create: a --read key writes no "
				"events: it takes no rate limits\n");
		return 2;
	}
	if (k.origins[0] && !pub) {
		fprintf(stderr, "reestr keys create: --origin is for a "
				"--publishable key\n");
		return 2;
	}
	if (pub && (!k.origins[0] || !k.environment[0])) {
		fprintf(stderr,
			"reestr keys create: a --publishable key needs its "
			"--environment and at least one --origin\n");
		return 2;
	}
	k.kind = pub ? RS_KEY_PUBLISHABLE : read ? RS_KEY_READ : RS_KEY_WRITE;
	k.created_us = now;
	unsigned char secret[RS_SERVER_SECRET_BYTES];
	rs_keystore *ks = NULL;
	if (open_store(data, secret, &ks) < 0)
		return 1;
	char text[RS_KEY_TEXT_SIZE];
	int status = 1;
	if (make_key(secret, &k, text) == 0 &&
	    audit_new_key(data, "key create", &k) == 0) {
		if (rs_keystore_add(ks, &k) < 0) {
			fprintf(stderr, "reestr keys: %s\n", rs_error_last());
			audit_not_made(data, "key create", &k);
		} else {
			status = print_new_key(&k, text);
		}
	}
	rs_keystore_free(ks);
	return status;
}

static const char *state_of(const rs_key_record *k, int64_t now, char *buf,
			    size_t size)
{
	char t[RS_TIME_TEXT_SIZE];
	if (k->revoked_us)
		return "revoked";
	if (k->expires_us && now >= k->expires_us)
		return "expired";
	if (k->grace_until_us) {
		if (now >= k->grace_until_us)
			return "rotated";
		rs_time_format(k->grace_until_us, t);
		snprintf(buf, size, "rotated, valid until %s", t);
		return buf;
	}
	return "valid";
}

static void put_json(const char *name, const char *v, bool first)
{
	rs_buf b = RS_BUF_INIT;
	rs_json_write_string(&b, v, strlen(v));
	printf("%s\"%s\":%.*s", first ? "" : ",", name, (int)b.len,
	       b.data ? b.data : "\"\"");
	rs_buf_free(&b);
}

static int cmd_list(int argc, char **argv, const char *data, int64_t now)
{
	enum { O_DATA = 256, O_FORMAT };
	static const struct option longopts[] = {
		{"data", required_argument, NULL, O_DATA},
		{"format", required_argument, NULL, O_FORMAT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool json = false;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == O_DATA) {
			data = optarg;
		} else if (c == O_FORMAT && (!strcmp(optarg, "json") ||
					     !strcmp(optarg, "table"))) {
			json = !strcmp(optarg, "json");
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "reestr keys list: unexpected argument '%s'\n",
			argv[optind]);
		return 2;
	}
	rs_keystore *ks = NULL;
	if (open_store(data, NULL, &ks) < 0)
		return 1;
	rs_key_record *keys;
	size_t n;
	if (rs_keystore_list(ks, &keys, &n) < 0) {
		fprintf(stderr, "reestr keys: %s\n", rs_error_last());
		rs_keystore_free(ks);
		return 1;
	}
	if (!json)
		printf("%-16s  %-11s  %-24s  %-11s  %-20s  %s\n", "ID", "KIND",
		       "SOURCES", "ENVIRONMENT", "CREATED", "STATE");
	else
		printf("[");
	for (size_t i = 0; i < n; i++) {
		const rs_key_record *k = &keys[i];
		char created[RS_TIME_TEXT_SIZE], exp[RS_TIME_TEXT_SIZE] = "",
						 st[80];
		rs_time_format(k->created_us, created);
		if (k->expires_us)
			rs_time_format(k->expires_us, exp);
		const char *state = state_of(k, now, st, sizeof st);
		char rates[120];
		rates_text(k, rates, sizeof rates);
		if (!json) {
			printf("%-16s  %-11s  %-24s  %-11s  %.19s  "
			       "%s%s%s%s%s\n",
			       k->id, rs_key_kind_name(k->kind), k->sources,
			       k->environment[0] ? k->environment : "any",
			       created, state,
			       k->expires_us ? ", expires " : "", exp,
			       rates[0] ? ", at most " : "", rates);
			continue;
		}
		printf("%s{", i ? "," : "");
		put_json("id", k->id, true);
		put_json("kind", rs_key_kind_name(k->kind), false);
		put_json("sources", k->sources, false);
		put_json("environment", k->environment, false);
		put_json("origins", k->origins, false);
		put_json("created", created, false);
		put_json("expires", exp, false);
		put_json("state", state, false);
		put_json("rotated_from", k->rotated_from, false);
		put_json("replaced_by", k->replaced_by, false);
		printf(",\"events_per_second\":%.15g,\"bytes_per_second\":%"
		       ".15g}",
		       k->rate_events_per_s, k->rate_bytes_per_s);
	}
	if (json)
		printf("]\n");
	free(keys);
	rs_keystore_free(ks);
	return 0;
}

static int cmd_change(int argc, char **argv, const char *data, int64_t now,
		      bool rotate)
{
	enum { O_DATA = 256, O_GRACE };
	static const struct option longopts[] = {
		{"data", required_argument, NULL, O_DATA},
		{"grace", required_argument, NULL, O_GRACE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int64_t grace = parse_duration(DEFAULT_GRACE);
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == O_DATA) {
			data = optarg;
		} else if (c == O_GRACE && rotate) {
			grace = parse_duration(optarg);
			if (grace < 0) {
				fprintf(stderr,
					"reestr keys rotate: --grace '%s': not "
					"a duration (0s, 90m, 12h, 7d)\n",
					optarg);
				return 2;
			}
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	const char *cmd = rotate ? "rotate" : "revoke";
	if (optind + 1 != argc) {
		fprintf(stderr,
			"reestr keys %s: name one key ID (see 'reestr "
			"keys list')\n",
			cmd);
		return 2;
	}
	const char *id = argv[optind];
	unsigned char secret[RS_SERVER_SECRET_BYTES];
	rs_keystore *ks = NULL;
	if (open_store(data, rotate ? secret : NULL, &ks) < 0)
		return 1;
	static rs_key_record old, k;
	int status = 1;
	char text[RS_KEY_TEXT_SIZE];
	if (rs_keystore_get(ks, id, &old) < 0) {
		fprintf(stderr, "reestr keys %s: %s\n", cmd, rs_error_last());
		goto done;
	}
	if (!rotate) {
		if (rs_keystore_revoke(ks, id, now) < 0) {
			fprintf(stderr, "reestr keys revoke: %s\n",
				rs_error_last());
			goto done;
		}
		old.revoked_us = now;
		if (rs_audit_key(data, "key revoke", &old) < 0) {
			fprintf(stderr,
				"reestr keys revoke: revoked, but the audit "
				"log could not be written: %s\n",
				rs_error_last());
			goto done;
		}
		fprintf(stderr,
			"reestr keys: key %s revoked; a running serve refuses "
			"it within a second\n",
			id);
		status = 0;
		goto done;
	}
	char st[80];
	const char *state = state_of(&old, now, st, sizeof st);
	if (strcmp(state, "valid")) {
		fprintf(stderr,
			"reestr keys rotate: key %s is %s: only a valid key "
			"is rotated (create a new one)\n",
			id, state);
		goto done;
	}
	k = old;
	k.created_us = now;
	k.revoked_us = 0;
	k.grace_until_us = 0;
	k.replaced_by[0] = '\0';
	memcpy(k.rotated_from, old.id, sizeof k.rotated_from);
	if (make_key(secret, &k, text) < 0)
		goto done;
	/* the new key's line names the old one and its end */
	rs_key_record logged = k;
	logged.grace_until_us = now + grace;
	if (audit_new_key(data, "key rotate", &logged) < 0)
		goto done;
	if (rs_keystore_rotate(ks, id, &k, now + grace) < 0) {
		fprintf(stderr, "reestr keys rotate: %s\n", rs_error_last());
		audit_not_made(data, "key rotate", &logged);
		goto done;
	}
	status = print_new_key(&logged, text);
	if (status == 0) {
		char t[RS_TIME_TEXT_SIZE];
		rs_time_format(now + grace, t);
		fprintf(stderr, "reestr keys: the old key %s works until %s\n",
			id, t);
	}
done:
	rs_keystore_free(ks);
	return status;
}

/* reestr keys limit ID [--events-per-second N] [--bytes-per-second N]:
 * the key's rates, each left as it was unless given (0: none). */
static int cmd_limit(int argc, char **argv, const char *data)
{
	enum { O_DATA = 256, O_EVENTS, O_BYTES };
	static const struct option longopts[] = {
		{"data", required_argument, NULL, O_DATA},
		{"events-per-second", required_argument, NULL, O_EVENTS},
		{"bytes-per-second", required_argument, NULL, O_BYTES},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	double events = -1, bytes = -1;
	optind = 1;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == O_DATA) {
			data = optarg;
		} else if (c == O_EVENTS) {
			if ((events = parse_rate("events-per-second", optarg)) <
			    0)
				return 2;
		} else if (c == O_BYTES) {
			if ((bytes = parse_rate("bytes-per-second", optarg)) <
			    0)
				return 2;
		} else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "reestr keys limit: name one key ID (see "
				"'reestr keys list')\n");
		return 2;
	}
	if (events < 0 && bytes < 0) {
		fprintf(stderr,
			"reestr keys limit: give --events-per-second N and/or "
			"--bytes-per-second N (0: no limit)\n");
		return 2;
	}
	const char *id = argv[optind];
	rs_keystore *ks = NULL;
	if (open_store(data, NULL, &ks) < 0)
		return 1;
	static rs_key_record k;
	int status = 1;
	if (rs_keystore_get(ks, id, &k) < 0) {
		fprintf(stderr, "reestr keys limit: %s\n", rs_error_last());
		goto done;
	}
	if (k.kind == RS_KEY_READ) {
		fprintf(stderr,
			"reestr keys limit: key %s is a read key: it writes "
			"no events, so it takes no rate limits\n",
			id);
		goto done;
	}
	if (events >= 0)
		k.rate_events_per_s = events;
	if (bytes >= 0)
		k.rate_bytes_per_s = bytes;
	/* as a new key: the line first, so a raised rate never works
	 * without it */
	if (audit_new_key(data, "key limit", &k) < 0)
		goto done;
	if (rs_keystore_set_rate(ks, id, k.rate_events_per_s,
				 k.rate_bytes_per_s) < 0) {
		fprintf(stderr, "reestr keys limit: %s\n", rs_error_last());
		audit_not_made(data, "key limit", &k);
		goto done;
	}
	char rates[120];
	rates_text(&k, rates, sizeof rates);
	fprintf(stderr,
		"reestr keys: key %s now sends %s%s; a running serve applies "
		"it within a second\n",
		id, rates[0] ? "at most " : "without a rate limit", rates);
	status = 0;
done:
	rs_keystore_free(ks);
	return status;
}

int rs_cmd_keys(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *sub = argv[1];
	if (!strcmp(sub, "-h") || !strcmp(sub, "--help")) {
		usage(stdout);
		return 0;
	}
	int64_t now = rs_time_now_us();
	if (!strcmp(sub, "create"))
		return cmd_create(argc - 1, argv + 1, "var", now);
	if (!strcmp(sub, "list"))
		return cmd_list(argc - 1, argv + 1, "var", now);
	if (!strcmp(sub, "revoke"))
		return cmd_change(argc - 1, argv + 1, "var", now, false);
	if (!strcmp(sub, "rotate"))
		return cmd_change(argc - 1, argv + 1, "var", now, true);
	if (!strcmp(sub, "limit"))
		return cmd_limit(argc - 1, argv + 1, "var");
	fprintf(stderr, "reestr keys: unknown subcommand '%s'\n\n", sub);
	usage(stderr);
	return 2;
}
