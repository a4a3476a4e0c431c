#include "codegen/gen.h"
#include "reestr/error.h"
int rs_gen_python(const rs_plan *plan, const rs_langpack_options *o,
		  rs_langpack *out)
{
	return rs_error_set(RS_EINVAL, "python: not yet");
}
