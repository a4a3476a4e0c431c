/* The mappings' .proto reader (src/model/proto.c) and the protobuf wire
 * decoder (src/proxy/pbwire.c): names resolved by protobuf's scoping, map
 * entries, json_name and presence; wire bytes by hand into the tree. The
 * integration tests (test_external.py) check both against Python's
 * protobuf library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "model/proto.h"
#include "proxy/pbwire.h"
#include "reestr/error.h"

static const char shop[] =
	"syntax = \"proto3\";\n"
	"package shop.v1;\n"
	"option java_package = \"x\"; // skipped\n"
	"enum Kind { KIND_UNSPECIFIED = 0; KIND_VIEW = 1; }\n"
	"message Order {\n"
	"  message Line { int64 item_id = 1; Kind kind = 2; }\n"
	"  enum State { NEW = 0; PAID = 1; }\n"
	"  reserved 9, 10 to 12;\n"
	"  string order_id = 1 [json_name = \"id\"];\n"
	"  repeated Line lines = 2;\n"
	"  map<string, int64> totals = 3;\n"
	"  oneof payer { string card = 4; string wallet = 5; }\n"
	"  optional double score = 6;\n"
	"  State state = 7;\n"
	"  .shop.v1.Kind kind = 8;\n"
	"  sint64 delta = 13;\n"
	"}\n";

static const rs_proto_file *parse(rs_arena *a, const char *src, char *diag,
				  size_t size)
{
	rs_diags d = RS_DIAGS_INIT;
	rs_proto_file *f = NULL;
	int rc = rs_proto_parse(a, "t.proto", src, strlen(src), &f, &d);
	diag[0] = '\0';
	if (d.count)
		snprintf(diag, size, "%s:%d:%d: %s", d.items[0].file,
			 d.items[0].line, d.items[0].col, d.items[0].message);
	rs_diags_free(&d);
	assert_true(rc == 0 || rc == RS_EINVAL);
	return f;
}

static void test_names_and_scopes(void **state)
{
	(void)state;
	rs_arena *a = rs_arena_new(4096);
	char diag[512];
	const rs_proto_file *f = parse(a, shop, diag, sizeof diag);
	assert_non_null(f);
	assert_string_equal(f->package, "shop.v1");
	const rs_proto_message *o = rs_proto_find_message(f, "Order");
	assert_non_null(o);
	assert_ptr_equal(o, rs_proto_find_message(f, "shop.v1.Order"));
	assert_null(rs_proto_find_message(f, "Order.TotalsEntry"));
	const rs_proto_message *line = rs_proto_find_message(f, "Order.Line");
	assert_non_null(line);
	assert_string_equal(line->full_name, "shop.v1.Order.Line");

	const rs_proto_field *id = rs_proto_field_by_name(o, "id", 2);
	assert_non_null(id);
	assert_string_equal(id->name, "order_id");
	assert_ptr_equal(id, rs_proto_field_by_name(o, "order_id", 8));
	const rs_proto_field *lines = rs_proto_field_by_number(o, 2);
	assert_true(lines->repeated && lines->type == RS_PB_MESSAGE);
	assert_ptr_equal(lines->message, line);
	const rs_proto_field *totals = rs_proto_field_by_number(o, 3);
	assert_true(totals->is_map && totals->repeated);
	assert_true(totals->message->map_entry);
	assert_int_equal(totals->message->fields[1].type, RS_PB_INT64);
	assert_true(rs_proto_field_by_number(o, 4)->optional); /* oneof */
	assert_true(rs_proto_field_by_number(o, 6)->optional);
	assert_false(rs_proto_field_by_number(o, 13)->optional);
	/* State: the nested enum; Kind in Line: the package's, outward */
	const rs_proto_field *st = rs_proto_field_by_number(o, 7);
	assert_string_equal(st->enumeration->full_name, "shop.v1.Order.State");
	assert_string_equal(line->fields[1].enumeration->full_name,
			    "shop.v1.Kind");
	assert_string_equal(rs_proto_field_by_number(o, 8)->json_name, "kind");
	assert_string_equal(rs_proto_field_by_number(line, 1)->json_name,
			    "itemId");
	rs_arena_free(a);
}

static void test_problems_have_positions(void **state)
{
	(void)state;
	static const struct {
		const char *src, *want;
	} cases[] = {
		{"syntax = \"proto3\";\nmessage A { int32 a = 1 }\n",
		 "t.proto:2:25: expected ';', found '}'"},
		{"syntax = \"proto3\";\nmessage A { B b = 1; }\n",
		 "t.proto:2:13: type 'B' is not a scalar type nor a message or "
		 "enum of this file (imports are not supported)"},
		{"syntax = \"proto3\";\nmessage A { string s = 1 [json_name = "
		 "\"x]; }\n",
		 "t.proto:2:39: string is not closed on its line"},
		{"syntax = \"proto3\";\nmessage A { map<double, int32> m = 1; "
		 "}\n",
		 "t.proto:2:13: map key type 'double' is not allowed: an "
		 "integer "
		 "type, bool or string"},
		{"syntax = \"proto3\";\nmessage A { int32 a = 0; }\n",
		 "t.proto:2:23: a field number 0 is out of range 1..536870911"},
		{"syntax = \"proto3\";\nmessage A {}\nmessage A {}\n",
		 "t.proto:3:1: 'A' is declared twice"},
		{"syntax = \"proto3\";\n\x01",
		 "t.proto:2:1: unexpected byte 0x01"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		rs_arena *a = rs_arena_new(4096);
		char diag[512];
		const rs_proto_file *f =
			parse(a, cases[i].src, diag, sizeof diag);
		if (f || strcmp(diag, cases[i].want)) {
			printf("case %zu: got '%s'\n want '%s'\n", i, diag,
			       cases[i].want);
			fail();
		}
		rs_arena_free(a);
	}
}

static void test_decode(void **state)
{
	(void)state;
	rs_arena *a = rs_arena_new(4096);
	char diag[512], err[240];
	const rs_proto_file *f = parse(a, shop, diag, sizeof diag);
	const rs_proto_message *o = rs_proto_find_message(f, "Order");
	rs_pb_limits lim = {8, 100};
	/* order_id "ab", lines [{item_id 7}, {item_id -1}], totals {"x": 3},
	 * delta -2 (zigzag 3), an unknown field 99 (varint), score 0.5 */
	static const uint8_t wire[] = {
		0x0a, 2,    'a',  'b',	0x12, 2,    0x08, 7,	0x12,
		11,   0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0x01, 0x1a, 5,    0x0a, 1,	  'x',	0x10,
		3,    0x68, 3,	  0x98, 0x06, 1,    0x31, 0,	0,
		0,    0,    0,	  0,	0xe0, 0x3f};
	rs_json *tree;
	assert_int_equal(rs_pb_decode(o, wire, sizeof wire, &lim, a, &tree, err,
				      sizeof err),
			 0);
	rs_buf out = RS_BUF_INIT;
	assert_int_equal(rs_json_write(&out, tree), 0);
	assert_string_equal(out.data,
			    "{\"order_id\":\"ab\",\"lines\":[{\"item_id\":7},"
			    "{\"item_id\":-1}],\"totals\":[{\"key\":\"x\","
			    "\"value\":3}],\"score\":0.5,\"delta\":-2}");
	rs_buf_free(&out);
	/* a limit: more values than max_values */
	lim.max_values = 3;
	assert_int_equal(rs_pb_decode(o, wire, sizeof wire, &lim, a, &tree, err,
				      sizeof err),
			 RS_EINVAL);
	assert_string_equal(err, "more than 3 values in one message");
	rs_arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_and_scopes),
		cmocka_unit_test(test_problems_have_positions),
		cmocka_unit_test(test_decode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
