#include "base/limits.h"

void rs_ingest_limits_default(rs_ingest_limits *l)
{
	l->max_body_bytes = RS_INGEST_DEFAULT_MAX_BODY_BYTES;
	l->max_batch_events = RS_INGEST_DEFAULT_MAX_BATCH_EVENTS;
	l->max_string_bytes = RS_INGEST_DEFAULT_MAX_STRING_BYTES;
	l->max_depth = RS_INGEST_DEFAULT_MAX_DEPTH;
	l->max_failed_payload_bytes =
		RS_INGEST_DEFAULT_MAX_FAILED_PAYLOAD_BYTES;
	l->grant = NULL;
	l->pii = NULL;
	l->rate = NULL;
}
