/* The agent's spool: durable appends, reading in order, deleting what was
 * acknowledged, the size cap, replay after reopening, and damage (a torn
 * write, a flipped bit) counted and skipped without losing the rest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/spool.h"
#include "reestr/error.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof dir, "/tmp/reestr-spool-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	rmdir(dir);
	return 0;
}

static void append_n(rs_spool *s, int from, int n)
{
	for (int i = from; i < from + n; i++) {
		char rec[32];
		int len = snprintf(rec, sizeof rec, "{\"n\":%d}", i);
		const char *r = rec;
		size_t l = (size_t)len;
		assert_int_equal(rs_spool_append(s, &r, &l, 1), 0);
	}
}

/* Reads everything from the cursor; returns the n values in order. */
static int read_all(rs_spool *s, rs_spool_cursor *c, int *out, int cap)
{
	int total = 0;
	for (;;) {
		rs_buf b = RS_BUF_INIT;
		size_t lens[100];
		size_t n = rs_spool_read(s, c, 100, &b, lens);
		size_t off = 0;
		for (size_t i = 0; i < n && total < cap; i++) {
			int v;
			assert_int_equal(sscanf(b.data + off, "{\"n\":%d}", &v),
					 1);
			out[total++] = v;
			off += lens[i];
		}
		rs_buf_free(&b);
		if (n == 0)
			return total;
	}
}

static void test_append_read_ack(void **state)
{
	rs_spool *s;
	assert_int_equal(rs_spool_open(dir, 0, 200, &s), 0);
	append_n(s, 0, 50); /* ~13 bytes each: several segments of 200 */
	rs_spool_stats st;
	rs_spool_stats_get(s, &st);
	assert_true(st.segments > 2);
	rs_spool_cursor c;
	rs_spool_start(s, &c);
	int got[100];
	assert_int_equal(read_all(s, &c, got, 100), 50);
	for (int i = 0; i < 50; i++)
		assert_int_equal(got[i], i);
	assert_int_equal(rs_spool_ack(s, &c), 0);
	rs_spool_stats_get(s, &st);
	assert_int_equal(st.segments, 1); /* only the active one is left */
	rs_spool_free(s);
}

static void test_reopen_replays_what_was_not_acknowledged(void **state)
{
	rs_spool *s;
	assert_int_equal(rs_spool_open(dir, 0, 200, &s), 0);
	append_n(s, 0, 30);
	rs_spool_free(s); /* as if killed: nothing acknowledged */
	assert_int_equal(rs_spool_open(dir, 0, 200, &s), 0);
	append_n(s, 30, 5);
	rs_spool_cursor c;
	rs_spool_start(s, &c);
	int got[100];
	assert_int_equal(read_all(s, &c, got, 100), 35);
	for (int i = 0; i < 35; i++)
		assert_int_equal(got[i], i);
	rs_spool_free(s);
}

static void test_cap_refuses_without_writing(void **state)
{
	rs_spool *s;
	assert_int_equal(rs_spool_open(dir, 80, 1 << 20, &s), 0);
	append_n(s, 0, 4); /* 4 x 19 bytes of the 80 */
	const char *r = "{\"n\":99}";
	size_t l = strlen(r);
	assert_int_equal(rs_spool_append(s, &r, &l, 1), RS_ELIMIT);
	assert_non_null(strstr(rs_error_last(), "spool full"));
	rs_spool_cursor c;
	rs_spool_start(s, &c);
	int got[10];
	assert_int_equal(read_all(s, &c, got, 10), 4);
	rs_spool_free(s);
}

static void damage(const char *how)
{
	/* the oldest segment */
	DIR *d = opendir(dir);
	struct dirent *e;
	char first[300] = "";
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".seg") &&
		    (!*first || strcmp(e->d_name, first) < 0))
			snprintf(first, sizeof first, "%s", e->d_name);
	closedir(d);
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, first);
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	if (!strcmp(how, "truncate")) {
		assert_int_equal(truncate(p, st.st_size - 3), 0);
	} else {
		int fd = open(p, O_RDWR);
		char c;
		assert_int_equal(pread(fd, &c, 1, 20), 1); /* in record 2 */
		c ^= 0x10;
		assert_int_equal(pwrite(fd, &c, 1, 20), 1);
		close(fd);
	}
}

static void test_damage_is_counted_and_skipped(void **state)
{
	rs_spool *s;
	assert_int_equal(rs_spool_open(dir, 0, 1 << 20, &s), 0);
	append_n(s, 0, 10);
	rs_spool_free(s);
	damage("flip");
	damage("truncate");
	assert_int_equal(rs_spool_open(dir, 0, 1 << 20, &s), 0);
	rs_spool_cursor c;
	rs_spool_start(s, &c);
	int got[20];
	/* record 1 (bit flip) and record 9 (torn) are lost, the rest not */
	assert_int_equal(read_all(s, &c, got, 20), 8);
	int want[] = {0, 2, 3, 4, 5, 6, 7, 8};
	for (int i = 0; i < 8; i++)
		assert_int_equal(got[i], want[i]);
	rs_spool_stats st;
	rs_spool_stats_get(s, &st);
	assert_int_equal(st.corrupt, 2);
	rs_spool_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_read_ack, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_reopen_replays_what_was_not_acknowledged, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_cap_refuses_without_writing, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_damage_is_counted_and_skipped, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
