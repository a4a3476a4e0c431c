/* reestr check's warning about personal data that is not marked: a string
 * field whose name suggests it (docs/security.md, "Personal data"). The
 * word list is here and only here; docs/security.md prints it, and
 * tests/unit/test_pii.c checks the two agree. */
#include "model/pii_words.h"

#include <stdio.h>
#include <string.h>

#include "reestr/error.h"

/* Words (or two words joined by '_') of a field name that suggest personal
 * data. A bare "name" is not one: an item, a category or a city has a name
 * too; a person's name is first_name, full_name, user_name and so on. */
const char *const rs_pii_words[] = {
	"email",	 "e_mail",	"phone",      "telephone",
	"mobile_number", "msisdn",	"ip",	      "ipv4",
	"ipv6",		 "address",	"street",     "postcode",
	"zipcode",	 "postal_code", "passport",   "ssn",
	"iban",		 "card_number", "birthday",   "birthdate",
	"birth_date",	 "dob",		"surname",    "first_name",
	"last_name",	 "full_name",	"given_name", "family_name",
	"middle_name",	 "user_name",	"username",   "display_name",
	"firstname",	 "lastname",	"fullname",   NULL};

/* Whether name has word (one or two '_'-joined words) as whole words. */
static bool has_word(const char *name, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = name; (p = strstr(p, word)); p++) {
		bool start = p == name || p[-1] == '_';
		bool end = p[wl] == '\0' || p[wl] == '_';
		if (start && end)
			return true;
	}
	return false;
}

const char *rs_pii_name_suggests(const char *name)
{
	for (size_t i = 0; rs_pii_words[i]; i++)
		if (has_word(name, rs_pii_words[i]))
			return rs_pii_words[i];
	return NULL;
}

static bool stringish(const rs_type *t)
{
	while (t->kind == RS_TYPE_ARRAY && t->items)
		t = t->items;
	return t->kind == RS_TYPE_STRING;
}

enum { DEPTH_MAX = 64 };

static int walk(const rs_field *f, size_t n, const char *where, unsigned depth,
		rs_diags *out)
{
	if (depth > DEPTH_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const char *w = rs_pii_name_suggests(f[i].name);
		if (w && !f[i].pii && stringish(&f[i].type) &&
		    rs_diags_add(out, f[i].pos,
				 "warning: field '%s' of %s looks like "
				 "personal data ('%s') but is not marked: add "
				 "pii: true so each environment's policy "
				 "applies to it (docs/security.md, \"Personal "
				 "data\")",
				 f[i].name, where, w) < 0)
			return RS_ENOMEM;
		const rs_type *t = &f[i].type;
		while (t->kind == RS_TYPE_ARRAY && t->items)
			t = t->items;
		/* named objects are walked once, by themselves */
		if (t->kind == RS_TYPE_OBJECT && t->object &&
		    !t->object->name) {
			int rc = walk(t->object->fields, t->object->field_count,
				      where, depth + 1, out);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int rs_pii_lint_event(const rs_event *ev, rs_diags *warnings)
{
	char where[300];
	for (size_t j = 0; j < ev->version_count; j++) {
		const rs_version *v = &ev->versions[j];
		snprintf(where, sizeof where, "event %s v%d", ev->name,
			 v->number);
		int rc = walk(v->fields, v->field_count, where, 0, warnings);
		if (rc)
			return rc;
	}
	return 0;
}

int rs_pii_lint(const rs_registry *reg, rs_diags *warnings)
{
	char where[300];
	for (size_t i = 0; i < rs_registry_object_count(reg); i++) {
		const rs_object *o = rs_registry_object_at(reg, i);
		snprintf(where, sizeof where, "object %s", o->name);
		int rc = walk(o->fields, o->field_count, where, 0, warnings);
		if (rc)
			return rc;
	}
	for (size_t i = 0; i < rs_registry_event_count(reg); i++) {
		int rc = rs_pii_lint_event(rs_registry_event_at(reg, i),
					   warnings);
		if (rc)
			return rc;
	}
	return 0;
}
