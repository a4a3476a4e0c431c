/* The HTTP server on a loopback port with a fake sink: /healthz asks the
 * sink whether it can commit, and every 503 says when to retry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/server.h"
#include "reestr/error.h"

typedef struct fake_sink {
	rs_sink base;
	bool healthy;
	bool writable;
} fake_sink;

static int fake_write(rs_sink *s, rs_sink_batch *b)
{
	if (!((fake_sink *)s)->writable)
		return rs_error_set(RS_EIO, "disk full (fake)");
	for (size_t i = 0; i < b->event_count; i++)
		b->outcomes[i] = RS_SINK_STORED;
	return 0;
}

static int fake_health(rs_sink *s)
{
	return ((fake_sink *)s)->healthy
		       ? 0
		       : rs_error_set(RS_EIO, "the last commit failed: disk "
					      "full (fake)");
}

static void fake_free(rs_sink *s)
{
	(void)s;
}

static const rs_sink_ops fake_ops = {
	.name = "fake",
	.write = fake_write,
	.health = fake_health,
	.free = fake_free,
};

typedef struct fixture {
	fake_sink sink;
	rs_registry *reg;
	rs_server *server;
} fixture;

static int start(void **state)
{
	fixture *f = calloc(1, sizeof *f);
	f->sink = (fake_sink){{&fake_ops}, true, true};
	rs_diags diags = RS_DIAGS_INIT;
	if (rs_registry_load(REESTR_SOURCE_DIR
			     "/tests/integration/fixtures/registry",
			     &f->reg, &diags) < 0)
		return -1;
	rs_diags_free(&diags);
	rs_server_options so = {.host = "127.0.0.1", .port = 0};
	rs_ingest_limits_default(&so.limits);
	if (rs_server_start(&so, f->reg, &f->sink.base, &f->server) < 0)
		return -1;
	*state = f;
	return 0;
}

static int stop(void **state)
{
	fixture *f = *state;
	rs_server_stop(f->server);
	rs_registry_free(f->reg);
	free(f);
	return 0;
}

/* Sends one HTTP/1.0 request and returns the whole answer (to free()). */
static char *exchange(const fixture *f, const char *request)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(rs_server_port(f->server))};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	size_t len = strlen(request);
	assert_int_equal(write(fd, request, len), (ssize_t)len);
	size_t cap = 1 << 16, n = 0;
	char *out = malloc(cap);
	ssize_t r;
	while ((r = read(fd, out + n, cap - n - 1)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fd);
	return out;
}

static void healthz_ok_when_the_sink_can_commit(void **state)
{
	fixture *f = *state;
	char *ans = exchange(f, "GET /healthz HTTP/1.0\r\n\r\n");
	assert_non_null(strstr(ans, "HTTP/1.1 200"));
	assert_non_null(strstr(ans, "\r\n\r\n{\"status\":\"ok\"}"));
	free(ans);
}

static void healthz_503_with_the_reason_when_it_cannot(void **state)
{
	fixture *f = *state;
	f->sink.healthy = false;
	char *ans = exchange(f, "GET /healthz HTTP/1.0\r\n\r\n");
	assert_non_null(strstr(ans, "HTTP/1.1 503"));
	assert_non_null(strstr(ans, "\r\nRetry-After: 5\r\n"));
	assert_non_null(
		strstr(ans, "{\"status\":\"unavailable\",\"reason\":\"the last "
			    "commit failed: disk full (fake)\"}"));
	free(ans);
	f->sink.healthy = true;
	ans = exchange(f, "GET /healthz HTTP/1.0\r\n\r\n");
	assert_non_null(strstr(ans, "HTTP/1.1 200"));
	free(ans);
}

static void a_store_failure_is_503_with_retry_after(void **state)
{
	fixture *f = *state;
	f->sink.writable = false;
	static const char body[] =
		"{\"events\":[{\"event_id\":1,\"version\":0,"
		"\"uuid\":\"01a22c5a-c4f4-7010-9433-cb0d80faf620\","
		"\"time\":\"2026-11-30T12:00:00Z\",\"environment\":\"bo\","
		"\"source\":\"test-service\",\"fields\":{\"user\":{\"id\":7},"
		"\"url\":\"https://example.com/\",\"kind\":\"home\"}}]}";
	char req[1024];
	snprintf(req, sizeof req,
		 "POST /v1/events HTTP/1.0\r\nContent-Type: application/json"
		 "\r\nContent-Length: %zu\r\n\r\n%s",
		 sizeof body - 1, body);
	char *ans = exchange(f, req);
	assert_non_null(strstr(ans, "HTTP/1.1 503"));
	assert_non_null(strstr(ans, "\r\nRetry-After: 5\r\n"));
	assert_non_null(strstr(ans, "disk full (fake)"));
	free(ans);
	f->sink.writable = true;
	ans = exchange(f, req);
	assert_non_null(strstr(ans, "HTTP/1.1 200"));
	assert_null(strstr(ans, "Retry-After"));
	free(ans);
}

/* A server started before its registry snapshot is made: GET
 * /v1/registry waits for it, then answers it; a stop with it still to come
 * answers at once. */
typedef struct get_registry {
	const fixture *f;
	char *answer;
	struct timespec at;
} get_registry;

static void *get_registry_main(void *arg)
{
	get_registry *g = arg;
	g->answer = exchange(g->f, "GET /v1/registry HTTP/1.0\r\n\r\n");
	clock_gettime(CLOCK_MONOTONIC, &g->at);
	return NULL;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void registry_snapshot_after_the_start_is_waited_for(void **state)
{
	fixture *f = *state;
	rs_server_stop(f->server);
	rs_server_options so = {.host = "127.0.0.1",
				.port = 0,
				.registry_snapshot_later = true};
	rs_ingest_limits_default(&so.limits);
	assert_int_equal(
		rs_server_start(&so, f->reg, &f->sink.base, &f->server), 0);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	get_registry g = {.f = f};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, get_registry_main, &g), 0);
	/* other routes do not wait for it */
	char *ans = exchange(f, "GET /healthz HTTP/1.0\r\n\r\n");
	assert_non_null(strstr(ans, "HTTP/1.1 200"));
	free(ans);
	usleep(300 * 1000);
	static const char snap[] = "{\"files\":[{\"path\":\"a.yaml\","
				   "\"content\":\"x\"}]}";
	assert_int_equal(
		rs_server_set_snapshot(f->server, snap, sizeof snap - 1), 0);
	pthread_join(th, NULL);
	assert_non_null(strstr(g.answer, "HTTP/1.1 200"));
	assert_non_null(strstr(g.answer, snap));
	struct timespec answered = g.at;
	double waited = (double)(answered.tv_sec - t0.tv_sec) +
			(double)(answered.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(waited >= 0.3);
	free(g.answer);
	/* and the next request has it at once */
	ans = exchange(f, "GET /v1/registry HTTP/1.0\r\n\r\n");
	assert_non_null(strstr(ans, snap));
	free(ans);

	/* a stop while a request waits for a snapshot that never comes */
	rs_server_stop(f->server);
	assert_int_equal(
		rs_server_start(&so, f->reg, &f->sink.base, &f->server), 0);
	g = (get_registry){.f = f};
	assert_int_equal(pthread_create(&th, NULL, get_registry_main, &g), 0);
	usleep(200 * 1000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rs_server_stop(f->server);
	pthread_join(th, NULL);
	assert_true(seconds_since(&t0) < 5);
	assert_non_null(strstr(g.answer, "HTTP/1.1 404"));
	assert_non_null(strstr(g.answer, "no registry snapshot"));
	free(g.answer);
	rs_server_options plain = {.host = "127.0.0.1", .port = 0};
	rs_ingest_limits_default(&plain.limits);
	assert_int_equal(
		rs_server_start(&plain, f->reg, &f->sink.base, &f->server), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
			healthz_ok_when_the_sink_can_commit, start, stop),
		cmocka_unit_test_setup_teardown(
			healthz_503_with_the_reason_when_it_cannot, start,
			stop),
		cmocka_unit_test_setup_teardown(
			a_store_failure_is_503_with_retry_after, start, stop),
		cmocka_unit_test_setup_teardown(
			registry_snapshot_after_the_start_is_waited_for, start,
			stop),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
