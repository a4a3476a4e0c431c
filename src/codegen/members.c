/* Accessor names within one generated class; see members.h. */
#include "codegen/members.h"

#include <string.h>
#include <strings.h>

void rs_members_init(rs_members *m, const char *const *reserved)
{
	m->count = 0;
	m->nocase = false;
	for (; reserved && *reserved; reserved++)
		rs_members_add(m, *reserved);
}

void rs_members_init_nocase(rs_members *m, const char *const *reserved)
{
	rs_members_init(m, reserved);
	m->nocase = true;
}

bool rs_members_has(const rs_members *m, const char *name)
{
	for (size_t i = 0; i < m->count; i++)
		if (m->nocase ? !strcasecmp(m->names[i], name)
			      : !strcmp(m->names[i], name))
			return true;
	return false;
}

void rs_members_add(rs_members *m, const char *name)
{
	if (m->count < RS_MEMBERS_MAX)
		m->names[m->count++] = name;
}

const char *rs_members_claim(rs_members *m, rs_arena *a, const char *stem,
			     const char *const *prefixes, const char *suffix)
{
	for (;;) {
		bool clash = false;
		for (const char *const *p = prefixes; *p && !clash; p++)
			clash = rs_members_has(
				m, rs_arena_printf(a, "%s%s", *p, stem));
		if (!clash)
			break;
		stem = rs_arena_printf(a, "%s%s", stem, suffix);
	}
	for (const char *const *p = prefixes; *p; p++)
		rs_members_add(m, rs_arena_printf(a, "%s%s", *p, stem));
	return stem;
}
