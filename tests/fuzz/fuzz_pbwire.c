/* Fuzzes the descriptor-driven protobuf decoder of POST /v1/external
 * (src/proxy/pbwire.c) with a message of every kind of field: any bytes
 * decode into a tree that renders as JSON, or are refused with a reason.
 * The first byte picks a single message or a ?batch=1 body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "model/proto.h"
#include "proxy/pbwire.h"
#include "reestr/error.h"

static const char proto[] =
	"syntax = \"proto3\";\n"
	"package fuzz;\n"
	"enum Color { RED = 0; GREEN = 1; }\n"
	"message Inner { int64 id = 1; Inner next = 2; string s = 3; }\n"
	"message All {\n"
	"  double d = 1; float f = 2; int64 i64 = 3; uint64 u64 = 4;\n"
	"  int32 i32 = 5; fixed64 f64 = 6; fixed32 f32 = 7; bool b = 8;\n"
	"  string s = 9; bytes by = 10; uint32 u32 = 11; sfixed32 sf32 = 12;\n"
	"  sfixed64 sf64 = 13; sint32 si32 = 14; sint64 si64 = 15;\n"
	"  Color c = 16; Inner in = 17; repeated int32 ri = 18;\n"
	"  repeated string rs = 19; map<string, Inner> m = 20;\n"
	"  oneof o { string os = 21; int32 oi = 22; }\n"
	"  repeated double rd = 23;\n"
	"}\n";

static const rs_proto_message *all;
static rs_arena *keep;

static int each(void *ctx, const uint8_t *msg, size_t len, size_t index)
{
	(void)index;
	rs_arena *a = ctx;
	rs_pb_limits lim = {8, 4096};
	rs_json *tree;
	char err[240];
	int rc = rs_pb_decode(all, msg, len, &lim, a, &tree, err, sizeof err);
	if (rc == 0) {
		rs_buf out = RS_BUF_INIT;
		if (tree->type != RS_JSON_OBJECT || rs_json_write(&out, tree))
			abort();
		rs_buf_free(&out);
	} else if (rc == RS_EINVAL && !err[0]) {
		abort();
	}
	return rc == RS_ENOMEM ? rc : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!all) {
		rs_diags d = RS_DIAGS_INIT;
		rs_proto_file *f;
		keep = rs_arena_new(16 * 1024);
		if (!keep || rs_proto_parse(keep, "all.proto", proto,
					    sizeof proto - 1, &f, &d))
			abort();
		all = rs_proto_find_message(f, "All");
		if (!all)
			abort();
	}
	if (!size)
		return 0;
	rs_arena *a = rs_arena_new(16 * 1024);
	if (!a)
		return 0;
	char err[240];
	if (data[0] & 1)
		rs_pb_each_in_batch(data + 1, size - 1, each, a, err,
				    sizeof err);
	else
		each(a, data + 1, size - 1, 0);
	rs_arena_free(a);
	return 0;
}
