#include "validate/canonical.h"

#include <string.h>

#include "json/json.h"
#include "reestr/error.h"

int rs_canonical_event_write(rs_buf *out, const rs_checked_event *ev,
			     const char *fields, size_t fields_len)
{
	if (rs_buf_printf(out, "{\"event_id\":%lld,\"version\":%d,\"uuid\":",
			  (long long)ev->event_id, ev->version) < 0 ||
	    rs_json_write_string(out, ev->uuid, strlen(ev->uuid)) < 0 ||
	    rs_buf_puts(out, ",\"time\":") < 0 ||
	    rs_json_write_string(out, ev->time, strlen(ev->time)) < 0 ||
	    rs_buf_puts(out, ",\"environment\":") < 0 ||
	    rs_json_write_string(out, ev->environment,
				 strlen(ev->environment)) < 0 ||
	    rs_buf_puts(out, ",\"source\":") < 0 ||
	    rs_json_write_string(out, ev->source, strlen(ev->source)) < 0 ||
	    rs_buf_puts(out, ",\"fields\":") < 0 ||
	    rs_buf_append(out, fields, fields_len) < 0 ||
	    rs_buf_putc(out, '}') < 0)
		return rs_error_set(RS_ENOMEM, "out of memory");
	return 0;
}
