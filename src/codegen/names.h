/* Spelling registry names (lower snake_case) in each language's idiom. */
#ifndef RS_CODEGEN_NAMES_H
#define RS_CODEGEN_NAMES_H

#include <stdbool.h>

#include "base/arena.h"

/* user_agent -> UserAgent. With go_initialisms, the words of Go's style
 * guide are upper case: user_id -> UserID, device_os -> DeviceOS. */
char *rs_name_pascal(rs_arena *a, const char *snake, bool go_initialisms);
/* user_agent -> userAgent (PHP properties and method suffixes). */
char *rs_name_camel(rs_arena *a, const char *snake);
/* user_agent -> USER_AGENT (Python enum members); i and o, alone, give I_
 * and O_, since pycodestyle refuses I and O as names (E741). */
char *rs_name_upper(rs_arena *a, const char *snake);

/* The longest generated type name made by nesting (an inline object or an
 * enum named after its owner and field: AdAuctionV0Winner). Names are at
 * most RS_REGISTRY_MAX_NAME long, but nesting adds them up; PHP keeps a
 * class per file, whose name must stay within 255 bytes. */
#define RS_NAME_NESTED_MAX 100u

/* owner + member (AdAuctionV0 + Winner), or, when longer than
 * RS_NAME_NESTED_MAX, the owner cut short and marked with a hash of the
 * whole name: AdAuctionV0LongO + H1F2E3D4C + Winner (docs/langpacks.md,
 * "Names"). */
char *rs_name_nested(rs_arena *a, const char *owner, const char *member);

bool rs_name_is_python_keyword(const char *s);
/* A word PHP reserves, compared case-insensitively (class names). */
bool rs_name_is_php_reserved(const char *s);

#endif
