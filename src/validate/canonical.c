#include "validate/canonical.h"

#include <string.h>

#include "json/json.h"
#include "reestr/error.h"

int rs_canonical_envelope_write(rs_buf *out, int64_t event_id, int version,
				const char *uuid, const char *time,
				const char *environment, const char *source,
				const char *fields, size_t fields_len)
{
	if (rs_buf_printf(out, "{\"event_id\":%lld,\"version\":%d,\"uuid\":",
			  (long long)event_id, version) < 0 ||
	    rs_json_write_string(out, uuid, strlen(uuid)) < 0 ||
	    rs_buf_puts(out, ",\"time\":") < 0 ||
	    rs_json_write_string(out, time, strlen(time)) < 0 ||
	    rs_buf_puts(out, ",\"environment\":") < 0 ||
	    rs_json_write_string(out, environment, strlen(environment)) < 0 ||
	    rs_buf_puts(out, ",\"source\":") < 0 ||
	    rs_json_write_string(out, source, strlen(source)) < 0 ||
	    rs_buf_puts(out, ",\"fields\":") < 0 ||
	    rs_buf_append(out, fields, fields_len) < 0 ||
	    rs_buf_putc(out, '}') < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	return 0;
}

int rs_canonical_event_write(rs_buf *out, const rs_checked_event *ev,
			     const char *fields, size_t fields_len)
{
	return rs_canonical_envelope_write(out, ev->event_id, ev->version,
					   ev->uuid, ev->time, ev->environment,
					   ev->source, fields, fields_len);
}
