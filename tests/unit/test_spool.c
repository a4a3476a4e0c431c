/* The agent's spool: durable appends, reading in order, deleting what was
 * acknowledged, the size cap, replay after reopening, damage (a torn
 * write, a flipped bit) counted and skipped without losing the rest, and a
 * failing or full disk (write, fdatasync and the folder's fsync made to
 * fail through rs_spool_set_io): every record answered 0 is read exactly
 * once, live and after reopening. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
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

/* Which calls of a kind fail, counted from 1: [from, to] (to 0: every
 * one from `from`), with err. */
typedef struct fault {
	int calls, from, to, err;
} fault;
static fault write_fault, datasync_fault, fsync_fault;

static bool failing(fault *f)
{
	f->calls++;
	if (f->from && f->calls >= f->from && (!f->to || f->calls <= f->to)) {
		errno = f->err;
		return true;
	}
	return false;
}

static ssize_t faulty_write(int fd, const void *buf, size_t len)
{
	return failing(&write_fault) ? -1 : write(fd, buf, len);
}

static int faulty_fdatasync(int fd)
{
	if (failing(&datasync_fault))
		return -1;
	return fdatasync(fd);
}

static int faulty_fsync(int fd)
{
	return failing(&fsync_fault) ? -1 : fsync(fd);
}

static void plan(fault *f, int from, int to, int err)
{
	*f = (fault){0, from, to, err};
}

static int teardown(void **state)
{
	rs_spool_set_io(NULL);
	memset(&write_fault, 0, sizeof write_fault);
	memset(&datasync_fault, 0, sizeof datasync_fault);
	memset(&fsync_fault, 0, sizeof fsync_fault);
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

static int count_segments(bool empty_only)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		char p[512];
		struct stat st;
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		if (strstr(e->d_name, ".seg") && !stat(p, &st) &&
		    (!empty_only || st.st_size == 0))
			n++;
	}
	closedir(d);
	return n;
}

/* Appends records from..from+n-1 one by one; marks acked[i] for those
 * answered 0. */
static void append_marking(rs_spool *s, int from, int n, bool *acked)
{
	for (int i = from; i < from + n; i++) {
		char rec[32];
		int len = snprintf(rec, sizeof rec, "{\"n\":%d}", i);
		const char *r = rec;
		size_t l = (size_t)len;
		int rc = rs_spool_append(s, &r, &l, 1);
		assert_true(rc == 0 || rc == RS_EIO);
		acked[i] = rc == 0;
	}
}

/* Every acknowledged record is read exactly once, in order; records that
 * were refused may be read at most once (their events carry uuids the
 * collector keeps once). */
static void expect_acked_once(rs_spool *s, const bool *acked, int total)
{
	rs_spool_cursor c;
	rs_spool_start(s, &c);
	int got[400], seen[400] = {0};
	int n = read_all(s, &c, got, 400);
	for (int i = 0; i < n; i++) {
		assert_in_range(got[i], 0, total - 1);
		seen[got[i]]++;
		if (i)
			assert_true(got[i] > got[i - 1]);
	}
	for (int i = 0; i < total; i++)
		if (acked[i])
			assert_int_equal(seen[i], 1);
	rs_spool_stats st;
	rs_spool_stats_get(s, &st);
	assert_int_equal(st.corrupt, 0);
}

/* One failed fdatasync: the records are written again to a new segment
 * and answered 0; the records appended after it are not cut off as
 * damage (the old code recorded a size short by the failed append, so
 * the reader cut the segment's last acknowledged records). */
static void test_failed_sync_rotates_and_loses_nothing(void **state)
{
	rs_spool_io hooks = {.fdatasync = faulty_fdatasync};
	rs_spool_set_io(&hooks);
	plan(&datasync_fault, 5, 5, EIO);
	rs_spool *s;
	assert_int_equal(rs_spool_open(dir, 0, 200, &s), 0);
	bool acked[40];
	append_marking(s, 0, 40, acked);
	expect_acked_once(s, acked, 40);
	for (int i = 0; i < 40; i++)
		assert_true(acked[i]); /* the retry in a new segment synced */
	rs_spool_free(s);
	assert_int_equal(rs_spool_open(dir, 0, 200, &s), 0);
	expect_acked_once(s, acked, 40);
	rs_spool_free(s);
}

/* A sync that fails twice in a row (the segment and the retry): the
 * append is refused, and what comes after is acknowledged and read. */
static void test_sync_failing_twice_refuses_and_keeps_the_rest(void **state)
{
	rs_spool_io hooks = {.fdatasync = faulty_fdatasync};
	rs_spool_set_io(&hooks);
	plan(&datasync_fault, 4, 5, EIO);
	rs_spool *s;
	assert_int_equal(rs_spool_open(dir, 0, 1 << 20, &s), 0);
	bool acked[20];
	append_marking(s, 0, 20, acked);
	char why[300];
	snprintf(why, sizeof why, "%s", rs_error_last());
	expect_acked_once(s, acked, 20);
	assert_false(acked[3]);
	assert_non_null(strstr(why, "sync spool segment"));
	for (int i = 0; i < 20; i++)
		if (i != 3)
			assert_true(acked[i]);
	rs_spool_free(s);
	assert_int_equal(rs_spool_open(dir, 0, 1 << 20, &s), 0);
	expect_acked_once(s, acked, 20);
	rs_spool_free(s);
}

/* Writes failing with EIO now and then: everything answered 0 is there
 * once, live and after reopening. */
static void test_failed_writes_lose_nothing_acknowledged(void **state)
{
	rs_spool_io hooks = {.write = faulty_write};
	rs_spool_set_io(&hooks);
	plan(&write_fault, 7, 9, EIO);
	rs_spool *s;
	assert_int_equal(rs_spool_open(dir, 0, 150, &s), 0);
	bool acked[60];
	append_marking(s, 0, 60, acked);
	int refused = 0;
	for (int i = 0; i < 60; i++)
		refused += !acked[i];
	assert_int_equal(refused, 1); /* calls 7 and 8: one append, twice */
	expect_acked_once(s, acked, 60);
	rs_spool_free(s);
	assert_int_equal(rs_spool_open(dir, 0, 150, &s), 0);
	expect_acked_once(s, acked, 60);
	rs_spool_free(s);
}

/* A full disk: 100 appends fail with ENOSPC. The old code created an
 * empty segment per failure; at most one may be left. When space comes
 * back, appends succeed again. */
static void test_full_disk_leaves_at_most_one_empty_segment(void **state)
{
	rs_spool_io hooks = {.write = faulty_write};
	rs_spool_set_io(&hooks);
	rs_spool *s;
	assert_int_equal(rs_spool_open(dir, 0, 1 << 20, &s), 0);
	bool acked[120];
	append_marking(s, 0, 10, acked);
	plan(&write_fault, 1, 0, ENOSPC);
	append_marking(s, 10, 100, acked);
	for (int i = 10; i < 110; i++)
		assert_false(acked[i]);
	assert_non_null(strstr(rs_error_last(), "No space left on device"));
	assert_true(count_segments(true) <= 1);
	assert_int_equal(count_segments(false), 2); /* the 10, the active */
	plan(&write_fault, 0, 0, 0);
	append_marking(s, 110, 10, acked);
	for (int i = 110; i < 120; i++)
		assert_true(acked[i]);
	expect_acked_once(s, acked, 120);
	rs_spool_free(s);
	assert_int_equal(rs_spool_open(dir, 0, 1 << 20, &s), 0);
	expect_acked_once(s, acked, 120);
	rs_spool_free(s);
}

/* The folder's fsync (a new segment's name) is checked: when it fails the
 * spool does not open, and a rotation's append is refused, not answered
 * ok in a file whose name may not survive a crash. */
static void test_failed_folder_sync_is_an_error(void **state)
{
	rs_spool_io hooks = {.fsync = faulty_fsync};
	rs_spool_set_io(&hooks);
	plan(&fsync_fault, 1, 1, EIO);
	rs_spool *s;
	assert_int_equal(rs_spool_open(dir, 0, 40, &s), RS_EIO);
	assert_non_null(strstr(rs_error_last(), "sync"));
	assert_int_equal(rs_spool_open(dir, 0, 40, &s), 0);
	bool acked[5];
	append_marking(s, 0, 3, acked); /* 3 x 19 bytes fill the 40 */
	plan(&fsync_fault, 1, 0, EIO);
	append_marking(s, 3, 1, acked);
	assert_false(acked[3]);
	plan(&fsync_fault, 0, 0, 0);
	append_marking(s, 4, 1, acked);
	assert_true(acked[0] && acked[1] && acked[2] && acked[4]);
	expect_acked_once(s, acked, 5);
	rs_spool_free(s);
}

/* The spool folder's own name is synced in its parent when it opens:
 * made by the spool (or by anyone) and never synced, a power cut could
 * take the whole folder with what it acknowledged. */
static void test_open_syncs_the_folder_in_its_parent(void **state)
{
	rs_spool_io hooks = {.fsync = faulty_fsync};
	rs_spool_set_io(&hooks);
	char sub[128];
	snprintf(sub, sizeof sub, "%s/spool", dir);
	plan(&fsync_fault, 1, 1, EIO);
	rs_spool *s;
	assert_int_equal(rs_spool_open(sub, 0, 0, &s), RS_EIO);
	char want[160];
	snprintf(want, sizeof want, "sync %s:", dir);
	assert_non_null(strstr(rs_error_last(), want));
	assert_int_equal(rs_spool_open(sub, 0, 0, &s), 0);
	/* the failed one; then the parent, and the spool folder for the
	 * first segment's name */
	assert_int_equal(fsync_fault.calls, 3);
	rs_spool_free(s);
	DIR *d = opendir(sub);
	struct dirent *e;
	char p[512];
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof p, "%s/%s", sub, e->d_name);
			unlink(p);
		}
	if (d)
		closedir(d);
	rmdir(sub);
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
		cmocka_unit_test_setup_teardown(
			test_failed_sync_rotates_and_loses_nothing, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_sync_failing_twice_refuses_and_keeps_the_rest,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_failed_writes_lose_nothing_acknowledged, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_full_disk_leaves_at_most_one_empty_segment, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			test_failed_folder_sync_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_open_syncs_the_folder_in_its_parent, setup,
			teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
