/* reestr check's warning about string fields whose names suggest personal
 * data but are not marked `pii: true` (docs/security.md, "Personal
 * data"): the one word list, and the walk that warns. */
#ifndef RS_MODEL_PII_WORDS_H
#define RS_MODEL_PII_WORDS_H

#include "reestr/diag.h"
#include "reestr/registry.h"

/* NULL-terminated; each a word or two words joined by '_'. */
extern const char *const rs_pii_words[];

/* The word of the list that name holds as whole words ("user_email":
 * "email"), or NULL. */
const char *rs_pii_name_suggests(const char *name);

/* Adds a "warning: " diagnostic at each string field (or array of
 * strings), in objects and event versions, inline objects too, whose name
 * suggests personal data and that is not marked. Returns 0 or RS_ENOMEM. */
int rs_pii_lint(const rs_registry *reg, rs_diags *warnings);
/* rs_pii_lint's warnings about one event's versions alone (its part of
 * rs_pii_lint, for a lint of the events that changed). */
int rs_pii_lint_event(const rs_event *ev, rs_diags *warnings);

#endif
