/* --kafka-config FILE (src/sink/kafka_config.c): key=value lines, comments
 * and blanks skipped, every error naming FILE:LINE, the keys a sink sets
 * itself refused; and the one rule for unsafe topic settings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reestr/error.h"
#include "sink/kafka_config.h"
#include "sink/kafka_sink.h"

static char path[64];

/* Writes text to a fresh temporary file, named in path. */
static void file_with(const char *text, size_t len)
{
	snprintf(path, sizeof path, "/tmp/kafka-config-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static size_t text_len; /* 0: strlen */

static int load(const char *text, rs_kafka_config *cfg)
{
	file_with(text, text_len ? text_len : strlen(text));
	text_len = 0;
	int rc = rs_kafka_config_load(path, rs_kafka_sink_refused_keys,
				      rs_kafka_sink_refused_key_count, cfg);
	unlink(path);
	return rc;
}

/* The error of loading text, with the temporary path replaced by F. */
static const char *error_of(const char *text)
{
	static char out[600];
	rs_kafka_config cfg;
	assert_int_equal(load(text, &cfg), RS_EINVAL);
	const char *e = rs_error_last();
	size_t n = strlen(path);
	assert_memory_equal(e, path, n);
	snprintf(out, sizeof out, "F%s", e + n);
	return out;
}

static void test_lines_comments_and_spaces(void **state)
{
	rs_kafka_config cfg;
	assert_int_equal(load("# librdkafka\n\n  linger.ms = 20 \r\n"
			      "\tcompression.type=zstd\n"
			      "client.id=a=b\n"
			      "   # indented comment\n"
			      "batch.size=65536",
			      &cfg),
			 0);
	assert_int_equal(cfg.count, 4);
	assert_string_equal(cfg.props[0].key, "linger.ms");
	assert_string_equal(cfg.props[0].value, "20");
	assert_int_equal(cfg.props[0].line, 3);
	assert_string_equal(cfg.props[1].value, "zstd");
	assert_string_equal(cfg.props[2].key, "client.id");
	assert_string_equal(cfg.props[2].value, "a=b");
	assert_int_equal(cfg.props[3].line, 7);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	assert_int_equal(rs_kafka_config_apply(&cfg, conf), 0);
	char v[64];
	size_t vn = sizeof v;
	assert_int_equal(rd_kafka_conf_get(conf, "linger.ms", v, &vn),
			 RD_KAFKA_CONF_OK);
	assert_string_equal(v, "20");
	rd_kafka_conf_destroy(conf);
	rs_kafka_config_free(&cfg);
}

static void test_errors_name_file_and_line(void **state)
{
	assert_string_equal(error_of("linger.ms=5\nlinger\n"),
			    "F:2: 'linger' is not key=value");
	assert_string_equal(error_of("\n = 5\n"), "F:2: no key before '='");
	assert_string_equal(error_of("linger.ms=5\n# x\nlinger.ms = 6\n"),
			    "F:3: linger.ms is already set on line 1");
	text_len = 7;
	assert_string_equal(error_of("a=1\0b=2"), "F: holds a NUL byte");
	char *long_line = malloc(RS_KAFKA_CONFIG_MAX_LINE + 10);
	memset(long_line, 'x', RS_KAFKA_CONFIG_MAX_LINE + 1);
	strcpy(long_line + RS_KAFKA_CONFIG_MAX_LINE + 1, "=1");
	char want[64];
	snprintf(want, sizeof want, "F:1: line longer than %u bytes",
		 RS_KAFKA_CONFIG_MAX_LINE);
	assert_string_equal(error_of(long_line), want);
	free(long_line);
	rs_kafka_config cfg;
	assert_int_equal(rs_kafka_config_load("/nonexistent/kafka.properties",
					      NULL, 0, &cfg),
			 RS_EIO);
	assert_non_null(
		strstr(rs_error_last(), "/nonexistent/kafka.properties"));
}

static void test_oversized_file_is_refused(void **state)
{
	size_t n = RS_KAFKA_CONFIG_MAX_BYTES + 1;
	char *big = malloc(n);
	memset(big, '#', n);
	file_with(big, n);
	free(big);
	rs_kafka_config cfg;
	assert_int_equal(rs_kafka_config_load(path, NULL, 0, &cfg), RS_EINVAL);
	assert_non_null(strstr(rs_error_last(), "larger than"));
	unlink(path);
}

static void test_sink_keys_are_refused(void **state)
{
	assert_string_equal(error_of("linger.ms=5\nacks=1\n"),
			    "F:2: acks cannot be set here: the Kafka sink "
			    "always uses acks=all");
	assert_string_equal(error_of("enable.idempotence = false\n"),
			    "F:1: enable.idempotence cannot be set here: the "
			    "Kafka sink always uses an idempotent producer");
	assert_string_equal(error_of("request.required.acks=0"),
			    "F:1: request.required.acks cannot be set here: "
			    "the Kafka sink always uses acks=all");
}

static void test_unknown_property_names_line(void **state)
{
	rs_kafka_config cfg;
	assert_int_equal(load("linger.ms=5\n\nno.such.property=1\n", &cfg), 0);
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	assert_int_equal(rs_kafka_config_apply(&cfg, conf), RS_EINVAL);
	char want[100];
	snprintf(want, sizeof want, "%s:3: ", cfg.file);
	assert_memory_equal(rs_error_last(), want, strlen(want));
	assert_non_null(strstr(rs_error_last(), "no.such.property"));
	rd_kafka_conf_destroy(conf);
	rs_kafka_config_free(&cfg);
}

static void test_unsafe_settings_rule(void **state)
{
	char buf[200];
	assert_null(rs_kafka_unsafe_settings(3, 2, 0, buf, sizeof buf));
	assert_null(rs_kafka_unsafe_settings(5, 3, 0, buf, sizeof buf));
	assert_non_null(
		strstr(rs_kafka_unsafe_settings(3, 1, 0, buf, sizeof buf),
		       "min.insync.replicas is 1"));
	assert_non_null(
		strstr(rs_kafka_unsafe_settings(2, 2, 0, buf, sizeof buf),
		       "replication factor 2"));
	assert_non_null(
		strstr(rs_kafka_unsafe_settings(3, 2, 1, buf, sizeof buf),
		       "unclean.leader.election.enable is true"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lines_comments_and_spaces),
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test(test_oversized_file_is_refused),
		cmocka_unit_test(test_sink_keys_are_refused),
		cmocka_unit_test(test_unknown_property_names_line),
		cmocka_unit_test(test_unsafe_settings_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
