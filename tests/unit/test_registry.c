/* The registry loader: the example registry's contents through the API,
 * and every problem it reports, pinned with its file:line:col. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "model/loader.h"
#include "reestr/error.h"

static const char base_yaml[] = "owners:\n"
				"  team_a: {contact: a@example.com}\n"
				"sources:\n"
				"  svc-one: {owner: team_a}\n";

/* Loads base_yaml as "base.yaml" plus yaml as "t.yaml"; returns every
 * diagnostic as "file:line:col: message" lines. */
static char *load(const char *yaml, int *rc)
{
	rs_registry_file files[] = {
		{"base.yaml", base_yaml, strlen(base_yaml)},
		{"t.yaml", yaml, strlen(yaml)},
	};
	rs_registry *reg = NULL;
	rs_diags d = RS_DIAGS_INIT;
	*rc = rs_registry_load_files(files, 2, &reg, &d);
	static char out[8192];
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < d.count && o < sizeof out; i++)
		o += (size_t)snprintf(out + o, sizeof out - o, "%s:%d:%d: %s\n",
				      d.items[i].file, d.items[i].line,
				      d.items[i].col, d.items[i].message);
	if (*rc == 0)
		assert_non_null(reg);
	else
		assert_null(reg);
	rs_registry_free(reg);
	rs_diags_free(&d);
	return out;
}

static void assert_problem(const char *yaml, const char *want)
{
	int rc;
	char *got = load(yaml, &rc);
	assert_int_equal(rc, RS_EINVAL);
	if (!strstr(got, want))
		fail_msg("expected\n  %s\nin\n%s", want, got);
}

#define EVENT(fields)                                                          \
	"events:\n"                                                            \
	"  ev_one:\n"                                                          \
	"    id: 1\n"                                                          \
	"    owner: team_a\n"                                                  \
	"    versions:\n"                                                      \
	"      - version: 0\n"                                                 \
	"        fields:\n" fields

static void test_example_registry(void **state)
{
	rs_registry *reg = NULL;
	rs_diags d = RS_DIAGS_INIT;
	int rc = rs_registry_load(REESTR_SOURCE_DIR "/examples/registry", &reg,
				  &d);
	rs_diags_print(&d, stderr);
	assert_int_equal(rc, 0);
	assert_int_equal(d.count, 0);

	const rs_event *ev = rs_registry_event_by_id(reg, 100);
	assert_non_null(ev);
	assert_string_equal(ev->name, "clickstream_event");
	assert_ptr_equal(rs_registry_event_by_name(reg, "clickstream_event"),
			 ev);
	assert_string_equal(ev->owner->name, "analytics_platform");
	assert_int_equal(ev->version_count, 1);
	const rs_version *v0 = rs_event_version(ev, 0);
	assert_int_equal(v0->field_count, 3);
	assert_string_equal(v0->fields[0].name, "user");
	assert_int_equal(v0->fields[0].type.kind, RS_TYPE_OBJECT);
	assert_string_equal(v0->fields[0].type.object->name, "user");
	assert_string_equal(v0->fields[1].name, "geo");
	assert_string_equal(v0->fields[2].name, "user_agent");
	assert_int_equal(v0->fields[2].type.kind, RS_TYPE_STRING);
	assert_true(v0->fields[2].constraints.has_max_length);
	assert_int_equal(v0->fields[2].constraints.max_length, 512);
	assert_null(rs_event_version(ev, 1));
	assert_null(rs_event_version(ev, -1));

	const rs_object *user = rs_registry_object_by_name(reg, "user");
	assert_string_equal(user->fields[1].name, "email");
	assert_true(user->fields[1].pii);
	assert_false(user->fields[1].required);
	assert_true(user->fields[0].required);

	/* an object nesting another: location.point is a geo */
	const rs_object *loc = rs_registry_object_by_name(reg, "location");
	assert_string_equal(loc->fields[0].type.object->name, "geo");
	assert_int_equal(loc->fields[2].type.kind, RS_TYPE_ENUM);
	assert_int_equal(loc->fields[2].type.enum_count, 3);
	assert_string_equal(loc->fields[2].type.enum_values[0], "gps");

	/* two versions; a deprecated event */
	const rs_event *click = rs_registry_event_by_name(reg, "item_click");
	assert_int_equal(click->version_count, 2);
	const rs_event *fav =
		rs_registry_event_by_name(reg, "legacy_item_favorite");
	assert_int_equal(fav->status, RS_STATUS_DEPRECATED);
	assert_int_equal(rs_version_status(fav, &fav->versions[0]),
			 RS_STATUS_DEPRECATED);

	/* environments: bo has clickstream_event, front does not */
	const rs_environment *bo = rs_registry_environment_by_name(reg, "bo");
	const rs_environment *front =
		rs_registry_environment_by_name(reg, "front");
	assert_true(rs_environment_has_event(bo, ev));
	assert_false(rs_environment_has_event(front, ev));
	assert_true(rs_environment_has_event(front, click));
	/* bo, front, mobile (apps), partners (mappings) */
	assert_int_equal(rs_registry_environment_count(reg), 4);
	/* partners: the example mapping (mappings/partner_feed.yaml) */
	assert_int_equal(rs_registry_mapping_count(reg), 1);
	assert_non_null(rs_registry_mapping_by_name(reg, "partner_feed"));
	assert_null(rs_registry_mapping_by_name(reg, "partner"));
	assert_int_equal(rs_registry_owner_count(reg), 3);
	assert_non_null(rs_registry_source_by_name(reg, "example-service"));
	assert_null(rs_registry_source_by_name(reg, "example-service")->app_id);

	/* mobile apps: a source with app {id, environment} */
	const rs_source *app =
		rs_registry_source_by_app(reg, "com.example.android");
	assert_non_null(app);
	assert_string_equal(app->name, "example-android");
	assert_ptr_equal(app->app_environment,
			 rs_registry_environment_by_name(reg, "mobile"));
	assert_null(rs_registry_source_by_app(reg, "com.example"));
	assert_null(rs_registry_source_by_app(reg, NULL));

	/* events are ordered by id */
	for (size_t i = 1; i < rs_registry_event_count(reg); i++)
		assert_true(rs_registry_event_at(reg, i - 1)->id <
			    rs_registry_event_at(reg, i)->id);
	rs_registry_free(reg);
	rs_diags_free(&d);
}

static void test_valid_minimal_registry(void **state)
{
	int rc;
	char *got =
		load(EVENT("          a: string\n"
			   "          b: {type: int, required: false}\n"
			   "          c: {type: array, items: {type: enum, "
			   "values: [x, y]}, max_items: 2}\n"
			   "          d: {type: object, fields: {e: bool}}\n"
			   "          f: {type: string, pattern: '[a-z]+',"
			   " min_length: 1, max_length: 9}\n"),
		     &rc);
	assert_string_equal(got, "");
	assert_int_equal(rc, 0);
}

static void test_yaml_syntax_error(void **state)
{
	assert_problem("owners: {a: b: c}\n",
		       "t.yaml:1:14: YAML: missing comma in flow mapping");
	assert_problem("events:\n\tx: 1\n", "t.yaml:2:1: YAML: tab");
}

static void test_file_shape(void **state)
{
	assert_problem("owners:\n  x\xff: 1\n",
		       "t.yaml:2:4: invalid UTF-8; a registry file must be "
		       "UTF-8 text");
	assert_problem("%\xb4", "t.yaml:1:2: invalid UTF-8");
	assert_problem("- a\n- b\n",
		       "t.yaml:1:3: a registry file must be a mapping");
	assert_problem("evnts: {}\n",
		       "t.yaml:1:1: unknown key 'evnts' in a registry file "
		       "(allowed: owners, sources, environments, objects, "
		       "events, mappings)");
	assert_problem("events: [a]\n",
		       "t.yaml:1:1: 'events' must be a mapping from name to "
		       "definition, not a list");
}

static void test_names(void **state)
{
	assert_problem("events:\n  clickEvent: {id: 1, owner: team_a, "
		       "versions: [{version: 0, fields: {}}]}\n",
		       "t.yaml:2:3: event name 'clickEvent' is not lower "
		       "snake_case (try 'click_event')");
	assert_problem(EVENT("          userAgent: string\n"),
		       "t.yaml:8:11: field name 'userAgent' is not lower "
		       "snake_case (try 'user_agent')");
	assert_problem(EVENT("          k: {type: enum, values: [Big]}\n"),
		       "t.yaml:8:36: enum value name 'Big' is not lower "
		       "snake_case (try 'big')");
	assert_problem("sources:\n  Bad_Service: {owner: team_a}\n",
		       "t.yaml:2:3: source name 'Bad_Service' must be "
		       "lowercase");
	assert_problem("owners:\n  team__b: {contact: x}\n",
		       "t.yaml:2:3: owner name 'team__b' is not lower "
		       "snake_case");
}

static void test_duplicates(void **state)
{
	assert_problem("owners:\n  team_a: {contact: b@example.com}\n",
		       "t.yaml:2:3: owner 'team_a' already defined at "
		       "base.yaml:2:3");
	assert_problem(
		EVENT("          a: int\n") "  ev_two:\n"
					    "    id: 1\n"
					    "    owner: team_a\n"
					    "    versions: [{version: 0, "
					    "fields: {}}]\n",
		"t.yaml:10:9: event id 1 is already used by event "
		"'ev_one' (t.yaml:2:3)");
	assert_problem(EVENT("          k: {type: enum, values: [a, a]}\n"),
		       "t.yaml:8:39: enum value 'a' is listed twice");
}

static void test_unknown_references(void **state)
{
	assert_problem("events:\n  ev: {id: 1, owner: nobody, versions: "
		       "[{version: 0, fields: {}}]}\n",
		       "t.yaml:2:22: unknown owner 'nobody'");
	assert_problem("sources:\n  svc-two: {owner: nobody}\n",
		       "t.yaml:2:20: unknown owner 'nobody'");
	assert_problem(EVENT("          a: strnig\n"),
		       "t.yaml:8:14: unknown type 'strnig'");
	assert_problem(EVENT("          a: {type: usr}\n"),
		       "t.yaml:8:21: unknown type 'usr'");
	assert_problem("environments:\n  bo: {events: [ev_none]}\n",
		       "t.yaml:2:17: environment 'bo' lists unknown event "
		       "'ev_none'");
}

static void test_object_cycle(void **state)
{
	assert_problem("objects:\n"
		       "  address: {fields: {owner: person}}\n"
		       "  person: {fields: {home: {type: array, items: "
		       "address}}}\n",
		       "t.yaml:2:3: object cycle: address -> person -> "
		       "address");
	assert_problem("objects:\n  node: {fields: {next: {type: object, "
		       "fields: {n: node}}}}\n",
		       "object cycle: node -> node");
}

static void test_versions(void **state)
{
	assert_problem("events:\n  ev: {id: 1, owner: team_a, versions: "
		       "[{version: 1, fields: {}}]}\n",
		       "t.yaml:2:51: versions of event 'ev' must be numbered "
		       "0, 1, 2 ... in order: expected 0 here, found 1");
	assert_problem("events:\n  ev: {id: 1, owner: team_a, versions: "
		       "[]}\n",
		       "event 'ev' needs 'versions', a non-empty list");
	assert_problem("events:\n  ev: {id: 1, owner: team_a, status: gone, "
		       "versions: [{version: 0, fields: {}}]}\n",
		       "t.yaml:2:38: unknown status 'gone'");
	assert_problem("events:\n  ev: {id: x1, owner: team_a, versions: "
		       "[{version: 0, fields: {}}]}\n",
		       "t.yaml:2:12: id must be an integer, not 'x1'");
	assert_problem("events:\n  ev: {owner: team_a, versions: "
		       "[{version: 0, fields: {}}]}\n",
		       "t.yaml:2:3: event 'ev' needs an 'id'");
}

static void test_field_specs(void **state)
{
	assert_problem(EVENT("          a: {type: string, maxlength: 3}\n"),
		       "t.yaml:8:29: unknown key 'maxlength' in field 'a' "
		       "(allowed: type,");
	assert_problem(EVENT("          a: {type: int, max_length: 3}\n"),
		       "t.yaml:8:26: max_length applies to strings, not int");
	assert_problem(EVENT("          a: {type: string, min: 3}\n"),
		       "t.yaml:8:29: min applies to int and float, not string");
	assert_problem(EVENT("          a: {type: int, min: 5, max: 1}\n"),
		       "t.yaml:8:26: min 5 is more than max 1");
	assert_problem(EVENT("          a: {type: string, max_length: -1}\n"),
		       "t.yaml:8:41: max_length must not be negative");
	/* pattern errors point at the construct: the value's column, its
	 * opening quote and the construct's column in the pattern */
	assert_problem(
		EVENT("          a: {type: string, pattern: \"a\\0b\"}\n"),
		"t.yaml:8:39: pattern must not contain NUL");
	assert_problem(EVENT("          a: {type: string, pattern: '[a-'}\n"),
		       "t.yaml:8:40: pattern '[a-': column 1: missing ] for "
		       "the class opened here");
	assert_problem(
		EVENT("          a: {type: string, pattern: 'x(?=y)'}\n"),
		"t.yaml:8:41: pattern 'x(?=y)': column 2: lookahead "
		"(?=…) is not supported");
	assert_problem(EVENT("          a: {type: string, pattern: "
			     "\"\\\\d\\\\b\"}\n"),
		       "t.yaml:8:43: pattern '\\d\\b': column 3: word "
		       "boundary \\b is not supported");
	assert_problem(EVENT("          a: {type: string, pattern: "
			     "(?i)abc}\n"),
		       "t.yaml:8:38: pattern '(?i)abc': column 1: inline flags "
		       "such as (?i) are not supported: spell both cases, "
		       "e.g. [Aa]");
	assert_problem(EVENT("          a: {type: string, pattern: "
			     "'((a{1,255}){1,255}){1,255}'}\n"),
		       "t.yaml:8:39: pattern '((a{1,255}){1,255}){1,255}': "
		       "too large: its automaton has 16581375 positions");
	assert_problem(EVENT("          a: {type: string, pattern: "
			     "'a{1001}'}\n"),
		       "t.yaml:8:41: pattern 'a{1001}': column 2: repetition "
		       "bound over 1000");
	int rc;
	load(EVENT("          a: {type: string, pattern: "
		   "'[0-9]{4}-[0-9]{2}-[0-9]{2}'}\n"),
	     &rc);
	assert_int_equal(rc, 0);
	assert_problem(EVENT("          a: {type: enum}\n"),
		       "t.yaml:8:21: an enum needs 'values'");
	assert_problem(EVENT("          a: {type: array}\n"),
		       "t.yaml:8:21: an array needs 'items'");
	assert_problem(EVENT("          a: {type: int, values: [x]}\n"),
		       "t.yaml:8:35: 'values' is for enum types, not int");
	assert_problem(EVENT("          a: {type: int, max_items: 3}\n"),
		       "t.yaml:8:26: max_items applies to arrays, not int");
	assert_problem(EVENT("          a: {required: false}\n"),
		       "t.yaml:8:11: field 'a' has no 'type'");
	assert_problem(EVENT("          a: {type: int, required: maybe}\n"),
		       "t.yaml:8:36: required must be true or false");
}

static void test_column_collisions(void **state)
{
	assert_problem("objects:\n  user: {fields: {id: int}}\n" EVENT(
			       "          user_id: int\n"
			       "          user: user\n"),
		       "ev_one v0: fields 'user_id' and 'user.id' both become "
		       "column 'user_id'");
	assert_problem(EVENT("          source: string\n"),
		       "ev_one v0: field 'source' becomes column 'source', "
		       "which the store keeps for the event's source");
}

static void test_all_problems_reported_in_order(void **state)
{
	int rc;
	char *got = load(EVENT("          a: strnig\n"
			       "          B: int\n"),
			 &rc);
	assert_int_equal(rc, RS_EINVAL);
	const char *first = strstr(got, "t.yaml:8:14:");
	const char *second = strstr(got, "t.yaml:9:11:");
	assert_non_null(first);
	assert_non_null(second);
	assert_true(first < second);
}

static void test_oversized_file(void **state)
{
	static char big[RS_REGISTRY_MAX_FILE_BYTES + 2];
	memset(big, '#', sizeof big - 1);
	int rc;
	char *got = load(big, &rc);
	assert_int_equal(rc, RS_EINVAL);
	assert_non_null(strstr(got, "t.yaml:0:0: file is"));
}

static void test_missing_folder(void **state)
{
	rs_registry *reg = NULL;
	rs_diags d = RS_DIAGS_INIT;
	assert_int_equal(rs_registry_load("/nonexistent/registry", &reg, &d),
			 RS_EIO);
	assert_non_null(strstr(rs_error_last(), "/nonexistent/registry"));
	rs_diags_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_registry),
		cmocka_unit_test(test_valid_minimal_registry),
		cmocka_unit_test(test_yaml_syntax_error),
		cmocka_unit_test(test_file_shape),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_unknown_references),
		cmocka_unit_test(test_object_cycle),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_field_specs),
		cmocka_unit_test(test_column_collisions),
		cmocka_unit_test(test_all_problems_reported_in_order),
		cmocka_unit_test(test_oversized_file),
		cmocka_unit_test(test_missing_folder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
