/* Spelling registry names in each language's idiom; docs/langpacks.md
 * ("Names") states the rules. */
#include "codegen/names.h"

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* Go's initialisms (the list golint used), lower case. */
static const char *const initialisms[] = {
	"acl",	"api",	"ascii", "cpu", "css",	"dns",	"eof", "guid",
	"html", "http", "https", "id",	"ip",	"json", "lhs", "os",
	"qps",	"ram",	"rhs",	 "rpc", "sla",	"smtp", "sql", "ssh",
	"tcp",	"tls",	"ttl",	 "udp", "ui",	"uid",	"uri", "url",
	"utf8", "uuid", "vm",	 "xml", "xmpp", "xsrf", "xss", "ua",
};

static bool is_initialism(const char *w, size_t n)
{
	for (size_t i = 0; i < sizeof initialisms / sizeof *initialisms; i++)
		if (strlen(initialisms[i]) == n &&
		    !strncmp(initialisms[i], w, n))
			return true;
	return false;
}

/* Joins the words of snake, each capitalised (or, with camel, all but the
 * first). */
static char *join_words(rs_arena *a, const char *snake, bool camel,
			bool go_initialisms)
{
	size_t len = strlen(snake);
	char *out = rs_arena_alloc(a, len + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	bool first = true;
	for (const char *p = snake; *p;) {
		const char *end = strchr(p, '_');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		bool upper_all = go_initialisms && is_initialism(p, n);
		for (size_t i = 0; i < n; i++) {
			char c = p[i];
			if (upper_all || (i == 0 && !(camel && first)))
				c = (char)toupper((unsigned char)c);
			out[o++] = c;
		}
		first = false;
		p += n;
		if (*p == '_')
			p++;
	}
	out[o] = '\0';
	return out;
}

char *rs_name_pascal(rs_arena *a, const char *snake, bool go_initialisms)
{
	return join_words(a, snake, false, go_initialisms);
}

char *rs_name_go_new(rs_arena *a, const char *type)
{
	return rs_arena_printf(a, "New%s", type);
}

char *rs_name_camel(rs_arena *a, const char *snake)
{
	return join_words(a, snake, true, false);
}

char *rs_name_upper(rs_arena *a, const char *snake)
{
	char *out = rs_arena_strdup(a, snake);
	if (!out)
		return NULL;
	for (char *p = out; *p; p++)
		*p = (char)toupper((unsigned char)*p);
	/* I and O alone read as 1 and 0: pycodestyle refuses them as names
	 * (E741) */
	if (!strcmp(out, "I") || !strcmp(out, "O"))
		return rs_arena_printf(a, "%s_", out);
	return out;
}

static bool in_list(const char *const *list, size_t n, const char *s,
		    bool nocase)
{
	for (size_t i = 0; i < n; i++)
		if (nocase ? !strcasecmp(list[i], s) : !strcmp(list[i], s))
			return true;
	return false;
}

bool rs_name_is_python_keyword(const char *s)
{
	/* keyword.kwlist of Python 3.11, lower-case ones only: registry
	 * names are lower case. */
	static const char *const kw[] = {
		"and",	  "as",	      "assert", "async",  "await",    "break",
		"class",  "continue", "def",	"del",	  "elif",     "else",
		"except", "finally",  "for",	"from",	  "global",   "if",
		"import", "in",	      "is",	"lambda", "nonlocal", "not",
		"or",	  "pass",     "raise",	"return", "try",      "while",
		"with",	  "yield",
	};
	return in_list(kw, sizeof kw / sizeof *kw, s, false);
}

bool rs_name_is_php_reserved(const char *s)
{
	/* Words PHP 8 does not allow as a class or enum name. */
	static const char *const kw[] = {
		"abstract",   "and",	    "array",	  "as",
		"bool",	      "break",	    "callable",	  "case",
		"catch",      "class",	    "clone",	  "const",
		"continue",   "declare",    "default",	  "do",
		"echo",	      "else",	    "elseif",	  "empty",
		"enddeclare", "endfor",	    "endforeach", "endif",
		"endswitch",  "endwhile",   "enum",	  "eval",
		"exit",	      "extends",    "false",	  "final",
		"finally",    "float",	    "fn",	  "for",
		"foreach",    "function",   "global",	  "goto",
		"if",	      "implements", "include",	  "instanceof",
		"insteadof",  "int",	    "interface",  "isset",
		"iterable",   "list",	    "match",	  "mixed",
		"namespace",  "never",	    "new",	  "null",
		"object",     "or",	    "parent",	  "print",
		"private",    "protected",  "public",	  "readonly",
		"require",    "return",	    "self",	  "static",
		"string",     "switch",	    "throw",	  "trait",
		"true",	      "try",	    "unset",	  "use",
		"var",	      "void",	    "while",	  "xor",
		"yield",
	};
	return in_list(kw, sizeof kw / sizeof *kw, s, true);
}

char *rs_name_nested(rs_arena *a, const char *owner, const char *member)
{
	if (!owner || !member)
		return NULL;
	size_t o = strlen(owner), m = strlen(member);
	if (o + m <= RS_NAME_NESTED_MAX)
		return rs_arena_printf(a, "%s%s", owner, member);
	/* FNV-1a of the whole name keeps two long names that share their
	 * first characters apart; 'H' and 8 hex digits mark the cut. */
	uint32_t h = 2166136261u;
	for (const char *p = owner; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (const char *p = member; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	size_t keep =
		m + 9 < RS_NAME_NESTED_MAX ? RS_NAME_NESTED_MAX - 9 - m : 1;
	if (keep > o)
		keep = o;
	return rs_arena_printf(a, "%.*sH%08X%s", (int)keep, owner, (unsigned)h,
			       member);
}
