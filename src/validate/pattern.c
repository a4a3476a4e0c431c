/* The portable pattern dialect (docs/registry.md, "Patterns").
 *
 * One parser turns a registry pattern into a tree; everything else is made
 * from that tree: the collector's matcher (a Thompson automaton over code
 * points, simulated state set by state set, so time is linear in the value
 * and memory bounded by the automaton) and each language's spelling, in
 * which every class is written out explicitly so no engine's own reading of
 * \d, \w, \s, . or [[:alpha:]] ever applies. */
#include "validate/pattern.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"

#define MAX_CP 0x10FFFFu
#define MAX_DEPTH 32 /* nested groups */
/* Instructions besides the positions (splits and jumps); a pattern of
 * empty alternatives has few positions but many of these. */
#define MAX_INST (4 * RS_PATTERN_MAX_SIZE)

typedef struct range {
	uint32_t lo, hi;
} range;

/* A set of code points: the listed ranges, or everything else when neg. */
typedef struct cset {
	range *r;
	size_t n, cap;
	bool neg;
	uint64_t ascii[2]; /* membership below 128, neg applied */
} cset;

enum kind { N_EMPTY, N_SET, N_CAT, N_ALT, N_REP };

typedef struct node {
	enum kind kind;
	cset *set;	    /* N_SET */
	struct node **kids; /* N_CAT, N_ALT */
	size_t nkids, capkids;
	struct node *sub; /* N_REP */
	int min, max;	  /* N_REP; max -1 is unbounded */
} node;

enum op { I_CHAR, I_SPLIT, I_JMP, I_MATCH };

#define FOLLOW_MAX 4 /* leaves kept per I_CHAR */

typedef struct inst {
	enum op op;
	uint32_t x, y;
	const cset *set;
	/* I_CHAR: the I_CHAR and I_MATCH reachable from the next
	 * instruction without reading, when few (nfollow <= FOLLOW_MAX);
	 * else the matcher walks the splits (add_closure) */
	uint8_t nfollow;
	uint32_t follow[FOLLOW_MAX];
} inst;

struct rs_pattern {
	rs_arena *a; /* the tree and its sets */
	node *root;
	inst *prog;
	size_t ninst, capinst;
	size_t size; /* positions: I_CHAR instructions */
	bool overflow;
};

/* ---- sets --------------------------------------------------------------- */

static bool set_add(rs_arena *a, cset *s, uint32_t lo, uint32_t hi)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 4;
		range *r = rs_arena_alloc(a, cap * sizeof *r);
		if (!r)
			return false;
		if (s->n)
			memcpy(r, s->r, s->n * sizeof *r);
		s->r = r;
		s->cap = cap;
	}
	s->r[s->n++] = (range){lo, hi};
	return true;
}

static int range_cmp(const void *x, const void *y)
{
	const range *a = x, *b = y;
	return a->lo < b->lo ? -1 : a->lo > b->lo;
}

/* Sorts and merges the ranges, then fills the ASCII bitmap. */
static void set_finish(cset *s)
{
	if (s->n > 1) {
		qsort(s->r, s->n, sizeof *s->r, range_cmp);
		size_t k = 0;
		for (size_t i = 1; i < s->n; i++) {
			if (s->r[i].lo <= s->r[k].hi + 1) {
				if (s->r[i].hi > s->r[k].hi)
					s->r[k].hi = s->r[i].hi;
			} else {
				s->r[++k] = s->r[i];
			}
		}
		s->n = k + 1;
	}
	s->ascii[0] = s->ascii[1] = 0;
	for (size_t i = 0; i < s->n && s->r[i].lo < 128; i++)
		for (uint32_t c = s->r[i].lo; c <= s->r[i].hi && c < 128; c++)
			s->ascii[c >> 6] |= (uint64_t)1 << (c & 63);
	if (s->neg)
		s->ascii[0] = ~s->ascii[0], s->ascii[1] = ~s->ascii[1];
}

static inline bool set_has(const cset *s, uint32_t c)
{
	if (c < 128)
		return (s->ascii[c >> 6] >> (c & 63)) & 1;
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (c < s->r[mid].lo)
			hi = mid;
		else if (c > s->r[mid].hi)
			lo = mid + 1;
		else
			return !s->neg;
	}
	return s->neg;
}

/* The ASCII classes of the dialect, as ranges. */
typedef struct named_class {
	const char *name;
	const char *ranges; /* pairs of bytes */
} named_class;

static const named_class posix_classes[] = {
	{"alnum", "09AZaz"},   {"alpha", "AZaz"},
	{"ascii", "\x01\x7f"}, /* with NUL added below */
	{"blank", "\t\t  "},   {"cntrl", "\x01\x1f\x7f\x7f"},
	{"digit", "09"},       {"graph", "!~"},
	{"lower", "az"},       {"print", " ~"},
	{"punct", "!/:@[`{~"}, {"space", "\t\r  "},
	{"upper", "AZ"},       {"word", "09AZ__az"},
	{"xdigit", "09AFaf"},  {NULL, NULL}};

/* Adds the named class to s (its complement when neg). */
static bool add_class(rs_arena *a, cset *s, const char *ranges, bool nul,
		      bool neg)
{
	range r[8];
	size_t n = 0;
	if (nul)
		r[n++] = (range){0, 0};
	for (const char *p = ranges; *p; p += 2)
		r[n++] = (range){(unsigned char)p[0], (unsigned char)p[1]};
	if (!neg) {
		for (size_t i = 0; i < n; i++)
			if (!set_add(a, s, r[i].lo, r[i].hi))
				return false;
		return true;
	}
	uint32_t next = 0; /* the ranges are sorted and disjoint */
	for (size_t i = 0; i < n; i++) {
		if (r[i].lo > next && !set_add(a, s, next, r[i].lo - 1))
			return false;
		next = r[i].hi + 1;
	}
	return set_add(a, s, next, MAX_CP);
}

/* \d \w \s and their complements. */
static const char *escape_class(char c)
{
	switch (c) {
	case 'd':
	case 'D':
		return "09";
	case 'w':
	case 'W':
		return "09AZ__az";
	case 's':
	case 'S':
		return "\t\r  ";
	}
	return NULL;
}

/* ---- parser ---------------------------------------------------------------
 */

typedef struct parser {
	const char *s;
	size_t n, i; /* bytes; i is the next one */
	rs_pattern *p;
	int depth;
	size_t alt_start; /* where the current top-level alternative began */
	bool failed, oom;
	size_t err_col;
	char *err;
	size_t err_size;
} parser;

static size_t column_of(const parser *P, size_t off)
{
	size_t col = 1;
	for (size_t k = 0; k < off && k < P->n; k++)
		if (((unsigned char)P->s[k] & 0xc0) != 0x80)
			col++;
	return col;
}

static void *fail(parser *P, size_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Records the first error (at byte offset off) and returns NULL. */
static void *fail(parser *P, size_t off, const char *fmt, ...)
{
	if (P->failed)
		return NULL;
	P->failed = true;
	P->err_col = column_of(P, off);
	if (P->err && P->err_size) {
		char msg[400];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(msg, sizeof msg, fmt, ap);
		va_end(ap);
		snprintf(P->err, P->err_size, "column %zu: %s", P->err_col,
			 msg);
	}
	return NULL;
}

static void *oom(parser *P)
{
	P->oom = true;
	return fail(P, P->i, "out of memory");
}

static node *new_node(parser *P, enum kind k)
{
	node *n = rs_arena_calloc(P->p->a, 1, sizeof *n);
	if (!n)
		return oom(P);
	n->kind = k;
	return n;
}

static bool add_kid(parser *P, node *n, node *kid)
{
	if (n->nkids == n->capkids) {
		size_t cap = n->capkids ? n->capkids * 2 : 4;
		node **k = rs_arena_alloc(P->p->a, cap * sizeof *k);
		if (!k) {
			oom(P);
			return false;
		}
		if (n->nkids)
			memcpy(k, n->kids, n->nkids * sizeof *k);
		n->kids = k;
		n->capkids = cap;
	}
	n->kids[n->nkids++] = kid;
	return true;
}

static node *set_node(parser *P, cset *s)
{
	node *n = new_node(P, N_SET);
	if (!n)
		return NULL;
	set_finish(s);
	n->set = s;
	return n;
}

static cset *new_set(parser *P)
{
	cset *s = rs_arena_calloc(P->p->a, 1, sizeof *s);
	if (!s)
		return oom(P);
	return s;
}

static bool at_end(const parser *P)
{
	return P->i >= P->n;
}

static char peek(const parser *P)
{
	return at_end(P) ? '\0' : P->s[P->i];
}

/* Reads the code point at P->i. */
static bool next_cp(parser *P, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)P->s + P->i;
	size_t k = rs_utf8_seq_len(u, P->n - P->i);
	if (!k) {
		fail(P, P->i, "not valid UTF-8");
		return false;
	}
	uint32_t c = u[0];
	if (k == 2)
		c = (uint32_t)(u[0] & 0x1f) << 6 | (u[1] & 0x3f);
	else if (k == 3)
		c = (uint32_t)(u[0] & 0x0f) << 12 |
		    (uint32_t)(u[1] & 0x3f) << 6 | (u[2] & 0x3f);
	else if (k == 4)
		c = (uint32_t)(u[0] & 0x07) << 18 |
		    (uint32_t)(u[1] & 0x3f) << 12 |
		    (uint32_t)(u[2] & 0x3f) << 6 | (u[3] & 0x3f);
	P->i += k;
	*cp = c;
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_punct(unsigned char c)
{
	return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') ||
	       (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
}

/* What an escape stands for: a code point, or a class (\d and the like). */
typedef struct escaped {
	bool is_class;
	uint32_t cp;
	const char *ranges;
	bool neg;
} escaped;

/* Reads an escape; P->i is on the backslash. */
static bool parse_escape(parser *P, escaped *e, bool in_class)
{
	size_t at = P->i;
	P->i++;
	if (at_end(P)) {
		fail(P, at,
		     "a pattern cannot end with a lone backslash; write "
		     "\\\\ for a literal one");
		return false;
	}
	char c = P->s[P->i++];
	memset(e, 0, sizeof *e);
	switch (c) {
	case 'd':
	case 'w':
	case 's':
	case 'D':
	case 'W':
	case 'S':
		e->is_class = true;
		e->ranges = escape_class(c);
		e->neg = c >= 'A' && c <= 'Z';
		return true;
	case 't':
		e->cp = '\t';
		return true;
	case 'n':
		e->cp = '\n';
		return true;
	case 'r':
		e->cp = '\r';
		return true;
	case 'f':
		e->cp = '\f';
		return true;
	case 'v':
		e->cp = '\v';
		return true;
	case 'x':
	case 'u': {
		uint32_t v = 0;
		int digits = 0;
		if (c == 'x' && peek(P) == '{') {
			P->i++;
			while (!at_end(P) && hexval(peek(P)) >= 0 && digits < 7)
				v = v * 16 + (uint32_t)hexval(P->s[P->i++]),
				digits++;
			if (!digits || digits > 6 || peek(P) != '}') {
				fail(P, at,
				     "\\x{ must be followed by 1 to 6 hex "
				     "digits and }");
				return false;
			}
			P->i++;
		} else {
			int want = c == 'x' ? 2 : 4;
			for (; digits < want; digits++) {
				int h = at_end(P) ? -1 : hexval(peek(P));
				if (h < 0) {
					fail(P, at,
					     "\\%c must be followed by %d hex "
					     "digits%s",
					     c, want,
					     c == 'x' ? " (or {…})" : "");
					return false;
				}
				v = v * 16 + (uint32_t)h;
				P->i++;
			}
		}
		if (v > MAX_CP || (v >= 0xd800 && v <= 0xdfff)) {
			fail(P, at,
			     "\\%c escape U+%04X is not a Unicode scalar value",
			     c, (unsigned)v);
			return false;
		}
		e->cp = v;
		return true;
	}
	case 'b':
		if (in_class)
			fail(P, at,
			     "\\b inside a class has no portable "
			     "meaning; write \\x08 for a backspace");
		else
			fail(P, at,
			     "word boundary \\b is not supported (Go, "
			     "Python and PHP disagree on what a word "
			     "is); match the characters instead, e.g. "
			     "[^0-9A-Za-z_]");
		return false;
	case 'B':
		fail(P, at, "\\B (not a word boundary) is not supported");
		return false;
	case 'A':
	case 'Z':
	case 'z':
	case 'G':
		fail(P, at,
		     "anchor \\%c is not supported: a pattern always matches "
		     "the whole value, so drop it",
		     c);
		return false;
	case 'p':
	case 'P':
		fail(P, at,
		     "Unicode property \\%c{…} is not supported (engines "
		     "disagree on them); list the characters in a class, "
		     "e.g. [A-Za-z\\x{C0}-\\x{24F}]",
		     c);
		return false;
	case 'k':
	case 'g':
		fail(P, at,
		     "backreference \\%c is not supported (no linear-"
		     "time engine has them)",
		     c);
		return false;
	case 'Q':
	case 'E':
		fail(P, at,
		     "quoting \\Q…\\E is not supported; escape each "
		     "character with a backslash");
		return false;
	case '0':
		fail(P, at, "octal escape \\0 is not supported; write \\x00");
		return false;
	default:
		break;
	}
	if (c >= '1' && c <= '9') {
		fail(P, at,
		     "backreference \\%c is not supported (no linear-time "
		     "engine has them)",
		     c);
		return false;
	}
	if (is_punct((unsigned char)c) || c == ' ') {
		e->cp = (unsigned char)c;
		return true;
	}
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
		fail(P, at, "unknown escape \\%c", c);
	else
		fail(P, at,
		     "only ASCII punctuation can be escaped with a "
		     "backslash");
	return false;
}

/* Reads a POSIX class [:name:]; P->i is on the inner '['. */
static bool parse_posix(parser *P, cset *s)
{
	size_t at = P->i;
	P->i += 2;
	bool neg = peek(P) == '^';
	if (neg)
		P->i++;
	size_t start = P->i;
	while (!at_end(P) && P->s[P->i] >= 'a' && P->s[P->i] <= 'z')
		P->i++;
	size_t len = P->i - start;
	if (P->n - P->i < 2 || P->s[P->i] != ':' || P->s[P->i + 1] != ']') {
		fail(P, at,
		     "[: must start a POSIX class such as [:alnum:]; "
		     "write \\[ for a literal [");
		return false;
	}
	P->i += 2;
	for (const named_class *k = posix_classes; k->name; k++)
		if (strlen(k->name) == len &&
		    !memcmp(k->name, P->s + start, len)) {
			if (!add_class(P->p->a, s, k->ranges,
				       !strcmp(k->name, "ascii"), neg)) {
				oom(P);
				return false;
			}
			return true;
		}
	fail(P, at, "unknown POSIX class [:%.*s:]", (int)len, P->s + start);
	return false;
}

/* Reads a bracket class; P->i is on the '['. */
static node *parse_class(parser *P)
{
	size_t open = P->i;
	P->i++;
	cset *s = new_set(P);
	if (!s)
		return NULL;
	if (peek(P) == '^') {
		s->neg = true;
		P->i++;
	}
	if (peek(P) == ']')
		return fail(P, open,
			    "empty class []; write \\] for a literal ]");
	bool first = true, after_range_or_class = false;
	for (;;) {
		if (at_end(P))
			return fail(P, open,
				    "missing ] for the class opened "
				    "here");
		size_t at = P->i;
		char c = P->s[P->i];
		if (c == ']') {
			P->i++;
			break;
		}
		uint32_t lo;
		bool literal_dash = false;
		if (c == '[') {
			char d = P->i + 1 < P->n ? P->s[P->i + 1] : '\0';
			if (d == ':') {
				if (!parse_posix(P, s))
					return NULL;
				first = false;
				after_range_or_class = true;
				continue;
			}
			if (d == '=' || d == '.')
				return fail(P, at,
					    "collating elements [%c "
					    "are not supported",
					    d);
			return fail(P, at,
				    "a [ inside a class must be "
				    "escaped: \\[");
		}
		if (c == '\\') {
			escaped e;
			if (!parse_escape(P, &e, true))
				return NULL;
			if (e.is_class) {
				if (!add_class(P->p->a, s, e.ranges, false,
					       e.neg))
					return oom(P);
				first = false;
				after_range_or_class = true;
				continue;
			}
			lo = e.cp;
		} else {
			if (!next_cp(P, &lo))
				return NULL;
			if (c == '-') {
				/* literal at either end, or after a range
				 * or a class */
				if (!first && !after_range_or_class &&
				    !at_end(P) && peek(P) != ']')
					return fail(P, at,
						    "a - in the middle of a "
						    "class must be escaped: "
						    "\\- (or put it first or "
						    "last)");
				literal_dash = true;
			}
		}
		bool was_first = first;
		first = false;
		after_range_or_class = false;
		if (peek(P) == '-' && P->i + 1 < P->n &&
		    P->s[P->i + 1] != ']') {
			if (literal_dash && !was_first)
				return fail(P, at,
					    "ambiguous - in a class; "
					    "escape it: \\-");
			size_t dash = P->i;
			P->i++;
			uint32_t hi;
			char h = P->s[P->i];
			if (h == '[')
				return fail(P, P->i,
					    "a [ inside a class must "
					    "be escaped: \\[");
			if (h == '\\') {
				escaped e;
				if (!parse_escape(P, &e, true))
					return NULL;
				if (e.is_class)
					return fail(P, dash,
						    "a range cannot end with "
						    "a class such as \\d");
				hi = e.cp;
			} else if (!next_cp(P, &hi)) {
				return NULL;
			}
			if (hi < lo)
				return fail(P, at,
					    "reversed range: U+%04X is after "
					    "U+%04X; write the smaller end "
					    "first",
					    (unsigned)lo, (unsigned)hi);
			if (!set_add(P->p->a, s, lo, hi))
				return oom(P);
			after_range_or_class = true;
			continue;
		}
		if (!set_add(P->p->a, s, lo, lo))
			return oom(P);
	}
	return set_node(P, s);
}

static node *parse_alt(parser *P);

/* Reads a group; P->i is on the '('. */
static node *parse_group(parser *P)
{
	size_t open = P->i;
	P->i++;
	if (++P->depth > MAX_DEPTH)
		return fail(P, open, "groups nested more than %d deep",
			    MAX_DEPTH);
	if (peek(P) == '?') {
		const char *r = P->s + P->i + 1;
		size_t left = P->n - P->i - 1;
		if (left >= 1 && r[0] == ':') {
			P->i += 2;
		} else if ((left >= 2 && r[0] == 'P' && r[1] == '<') ||
			   (left >= 1 && r[0] == '<' &&
			    (left < 2 || (r[1] != '=' && r[1] != '!')))) {
			/* a named group: read as a plain group */
			size_t k = r[0] == 'P' ? 2 : 1, start = k;
			while (k < left &&
			       ((r[k] >= 'a' && r[k] <= 'z') ||
				(r[k] >= 'A' && r[k] <= 'Z') || r[k] == '_' ||
				(k > start && r[k] >= '0' && r[k] <= '9')))
				k++;
			if (k == start || k >= left || r[k] != '>')
				return fail(P, open,
					    "a named group must be "
					    "(?P<name>…) with a name of "
					    "letters, digits and _");
			P->i += 1 + k + 1;
		} else if (left >= 1 && (r[0] == '=' || r[0] == '!')) {
			return fail(P, open,
				    "lookahead (?%c…) is not supported (no "
				    "linear-time engine has it)",
				    r[0]);
		} else if (left >= 2 && r[0] == '<') {
			return fail(P, open,
				    "lookbehind (?<%c…) is not supported (no "
				    "linear-time engine has it)",
				    r[1]);
		} else if (left >= 1 && r[0] == 'P' &&
			   (left < 2 || r[1] == '=' || r[1] == '>')) {
			return fail(P, open,
				    "backreference (?P=…) is not "
				    "supported");
		} else if (left >= 1 && r[0] == '#') {
			return fail(P, open,
				    "comments (?#…) are not "
				    "supported");
		} else if (left >= 1 && r[0] == '>') {
			return fail(P, open,
				    "atomic groups (?>…) are not "
				    "supported");
		} else {
			bool i_flag = false;
			size_t k = 0;
			while (k < left && r[k] != ')' && r[k] != ':') {
				if (r[k] == 'i')
					i_flag = true;
				k++;
			}
			if (i_flag)
				return fail(P, open,
					    "inline flags such as (?i) are not "
					    "supported: spell both cases, "
					    "e.g. [Aa]");
			return fail(P, open,
				    "inline flags and other (? groups are "
				    "not supported; only (?:…) and "
				    "(?P<name>…)");
		}
	}
	node *n = parse_alt(P);
	if (!n)
		return NULL;
	if (peek(P) != ')')
		return fail(P, open, "missing ) for the group opened here");
	P->i++;
	P->depth--;
	return n;
}

/* Reads {n}, {n,} or {n,m} at P->i when there is one; false otherwise
 * (P->i unchanged). */
static bool read_braces(parser *P, long *min, long *max, bool *overflow)
{
	size_t k = P->i + 1;
	long a = 0, b = -1;
	size_t d = 0;
	*overflow = false;
	while (k < P->n && P->s[k] >= '0' && P->s[k] <= '9' && d < 12)
		a = a * 10 + (P->s[k++] - '0'), d++;
	if (!d)
		return false;
	if (d >= 12)
		*overflow = true;
	if (k < P->n && P->s[k] == ',') {
		k++;
		size_t e = 0;
		long v = 0;
		while (k < P->n && P->s[k] >= '0' && P->s[k] <= '9' && e < 12)
			v = v * 10 + (P->s[k++] - '0'), e++;
		if (e >= 12)
			*overflow = true;
		b = e ? v : -1;
	} else {
		b = a;
	}
	if (k >= P->n || P->s[k] != '}')
		return false;
	P->i = k + 1;
	*min = a;
	*max = b;
	return true;
}

static bool is_quantifier_start(const parser *P)
{
	char c = peek(P);
	if (c == '*' || c == '+' || c == '?')
		return true;
	if (c != '{')
		return false;
	parser q = *P;
	long a, b;
	bool o;
	return read_braces(&q, &a, &b, &o);
}

static node *parse_atom(parser *P, bool *anchor)
{
	size_t at = P->i;
	char c = P->s[P->i];
	*anchor = false;
	switch (c) {
	case '(':
		return parse_group(P);
	case '[':
		return parse_class(P);
	case '.': {
		P->i++;
		cset *s = new_set(P);
		if (!s)
			return NULL;
		s->neg = true;
		if (!set_add(P->p->a, s, '\n', '\n'))
			return oom(P);
		return set_node(P, s);
	}
	case '^':
		if (P->depth || at != P->alt_start)
			return fail(P, at,
				    "^ is only accepted at the start of the "
				    "pattern or of a top-level alternative (a "
				    "pattern always matches the whole value); "
				    "write \\^ for a literal ^");
		P->i++;
		*anchor = true;
		return new_node(P, N_EMPTY);
	case '$':
		if (P->depth || (at != P->n - 1 && P->s[at + 1] != '|'))
			return fail(P, at,
				    "$ is only accepted at the end of the "
				    "pattern or of a top-level alternative (a "
				    "pattern always matches the whole value); "
				    "write \\$ for a literal $");
		P->i++;
		*anchor = true;
		return new_node(P, N_EMPTY);
	case '*':
	case '+':
	case '?':
		return fail(P, at,
			    "nothing to repeat before %c; write \\%c "
			    "for a literal %c",
			    c, c, c);
	case '{':
		if (is_quantifier_start(P))
			return fail(P, at, "nothing to repeat before {");
		return fail(P, at, "a literal { must be escaped: \\{");
	case '\\': {
		escaped e;
		if (!parse_escape(P, &e, false))
			return NULL;
		cset *s = new_set(P);
		if (!s)
			return NULL;
		if (e.is_class) {
			if (!add_class(P->p->a, s, e.ranges, false, e.neg))
				return oom(P);
		} else if (!set_add(P->p->a, s, e.cp, e.cp)) {
			return oom(P);
		}
		return set_node(P, s);
	}
	default: {
		uint32_t cp;
		if (!next_cp(P, &cp))
			return NULL;
		cset *s = new_set(P);
		if (!s)
			return NULL;
		if (!set_add(P->p->a, s, cp, cp))
			return oom(P);
		return set_node(P, s);
	}
	}
}

static node *parse_piece(parser *P)
{
	bool anchor;
	node *atom = parse_atom(P, &anchor);
	if (!atom)
		return NULL;
	if (at_end(P) || !is_quantifier_start(P))
		return atom;
	size_t at = P->i;
	if (anchor)
		return fail(P, at, "an anchor cannot be repeated");
	long min, max;
	char c = P->s[P->i];
	if (c == '{') {
		bool overflow;
		read_braces(P, &min, &max, &overflow);
		if (overflow || min > RS_PATTERN_MAX_REPEAT ||
		    max > RS_PATTERN_MAX_REPEAT)
			return fail(P, at,
				    "repetition bound over %d (the largest "
				    "every engine accepts)",
				    RS_PATTERN_MAX_REPEAT);
		if (max >= 0 && min > max)
			return fail(P, at,
				    "repetition {%ld,%ld}: the minimum is "
				    "above the maximum",
				    min, max);
	} else {
		P->i++;
		min = c == '+';
		max = c == '?' ? 1 : -1;
	}
	if (peek(P) == '?')
		return fail(P, P->i,
			    "lazy quantifier %.*s? is not supported; a pattern "
			    "matches the whole value, so drop the ?",
			    (int)(P->i - at), P->s + at);
	if (peek(P) == '+')
		return fail(P, P->i,
			    "possessive quantifier %.*s+ is not "
			    "supported",
			    (int)(P->i - at), P->s + at);
	if (is_quantifier_start(P))
		return fail(P, P->i,
			    "a repetition cannot follow another directly; "
			    "group the first: (?:x%.*s)%c",
			    (int)(P->i - at), P->s + at, P->s[P->i]);
	node *r = new_node(P, N_REP);
	if (!r)
		return NULL;
	r->sub = atom;
	r->min = (int)min;
	r->max = (int)max;
	return r;
}

static node *parse_cat(parser *P)
{
	node *cat = new_node(P, N_CAT);
	if (!cat)
		return NULL;
	while (!at_end(P) && peek(P) != '|' && peek(P) != ')') {
		node *piece = parse_piece(P);
		if (!piece)
			return NULL;
		/* an anchor or an empty group adds nothing to a sequence */
		if (piece->kind != N_EMPTY && !add_kid(P, cat, piece))
			return NULL;
	}
	if (cat->nkids == 1)
		return cat->kids[0];
	if (cat->nkids == 0)
		cat->kind = N_EMPTY;
	return cat;
}

static node *parse_alt(parser *P)
{
	node *first = parse_cat(P);
	if (!first || peek(P) != '|')
		return first;
	node *alt = new_node(P, N_ALT);
	if (!alt || !add_kid(P, alt, first))
		return NULL;
	while (peek(P) == '|') {
		P->i++;
		if (!P->depth)
			P->alt_start = P->i;
		node *next = parse_cat(P);
		if (!next || !add_kid(P, alt, next))
			return NULL;
	}
	return alt;
}

/* ---- size --------------------------------------------------------------- */

static size_t sat_add(size_t a, size_t b)
{
	return a + b < a ? SIZE_MAX : a + b;
}

static size_t sat_mul(size_t a, size_t b)
{
	return b && a > SIZE_MAX / b ? SIZE_MAX : a * b;
}

/* Copies of sub a repetition makes (see emit_rep). */
static size_t rep_copies(const node *n)
{
	return n->max < 0 ? (n->min ? (size_t)n->min : 1) : (size_t)n->max;
}

/* Positions (I_CHAR) and other instructions the automaton will have. */
static void measure(const node *n, size_t *pos, size_t *other)
{
	switch (n->kind) {
	case N_EMPTY:
		*pos = *other = 0;
		return;
	case N_SET:
		*pos = 1, *other = 0;
		return;
	case N_CAT:
	case N_ALT: {
		/* an alternation of k: k-1 splits and k-1 jumps */
		size_t p = 0, o = n->kind == N_ALT ? 2 * (n->nkids - 1) : 0;
		for (size_t i = 0; i < n->nkids; i++) {
			size_t kp = 0, ko = 0;
			measure(n->kids[i], &kp, &ko);
			p = sat_add(p, kp);
			o = sat_add(o, ko);
		}
		*pos = p, *other = o;
		return;
	}
	case N_REP: {
		/* as compile_rep emits it */
		size_t kp = 0, ko = 0, c = rep_copies(n);
		measure(n->sub, &kp, &ko);
		*pos = sat_mul(kp, c);
		if (n->max < 0)
			*other = n->min ? sat_add(sat_mul(ko, c), 1)
					: sat_add(ko, 2);
		else
			*other = sat_add(sat_mul(ko, c),
					 (size_t)(n->max - n->min));
		return;
	}
	}
}

/* Go's RE2 refuses nested counted repetitions whose copies multiply past
 * 1000 (regexp/syntax repeatIsValid); the dialect refuses them too. */
static bool go_repeat_ok(const node *n, long budget)
{
	if (n->kind == N_REP) {
		long m = n->max;
		if (m == 0)
			return true;
		if (m < 0)
			m = n->min;
		if (m > budget)
			return false;
		if (m > 0)
			budget /= m;
		return go_repeat_ok(n->sub, budget);
	}
	if (n->kind == N_CAT || n->kind == N_ALT)
		for (size_t i = 0; i < n->nkids; i++)
			if (!go_repeat_ok(n->kids[i], budget))
				return false;
	return true;
}

/* ---- automaton ---------------------------------------------------------- */

static uint32_t emit(rs_pattern *p, enum op op, uint32_t x, uint32_t y,
		     const cset *s)
{
	/* room was reserved from measure(); should the two ever disagree,
	 * the spare slot past the end takes the rest and compilation fails */
	if (p->ninst == p->capinst) {
		p->overflow = true;
		p->prog[p->capinst] = (inst){op, x, y, s, 0, {0}};
		return (uint32_t)p->capinst;
	}
	p->prog[p->ninst] = (inst){op, x, y, s, 0, {0}};
	if (op == I_CHAR)
		p->size++;
	return (uint32_t)p->ninst++;
}

static void compile(rs_pattern *p, const node *n);

static void compile_rep(rs_pattern *p, const node *n)
{
	if (n->max < 0) {
		if (n->min == 0) { /* L: split L+1, out; sub; jmp L */
			uint32_t l = emit(p, I_SPLIT, 0, 0, NULL);
			p->prog[l].x = l + 1;
			compile(p, n->sub);
			emit(p, I_JMP, l, 0, NULL);
			p->prog[l].y = (uint32_t)p->ninst;
			return;
		}
		for (int i = 0; i < n->min - 1; i++)
			compile(p, n->sub);
		uint32_t l = (uint32_t)p->ninst; /* L: sub; split L, out */
		compile(p, n->sub);
		uint32_t s = emit(p, I_SPLIT, l, 0, NULL);
		p->prog[s].y = s + 1;
		return;
	}
	for (int i = 0; i < n->min; i++)
		compile(p, n->sub);
	/* x{0,k} nested: (x(x(x)?)?)? so at most one copy is live; the
	 * splits are chained through y until the end is known */
	uint32_t chain = UINT32_MAX;
	for (int i = 0; i < n->max - n->min; i++) {
		uint32_t s = emit(p, I_SPLIT, 0, chain, NULL);
		p->prog[s].x = s + 1;
		chain = s;
		compile(p, n->sub);
	}
	while (chain != UINT32_MAX && !p->overflow) {
		uint32_t prev = p->prog[chain].y;
		p->prog[chain].y = (uint32_t)p->ninst;
		chain = prev;
	}
}

static void compile(rs_pattern *p, const node *n)
{
	if (p->overflow)
		return;
	switch (n->kind) {
	case N_EMPTY:
		return;
	case N_SET:
		emit(p, I_CHAR, 0, 0, n->set);
		return;
	case N_CAT:
		for (size_t i = 0; i < n->nkids; i++)
			compile(p, n->kids[i]);
		return;
	case N_ALT: {
		/* split k1, next; k1; jmp end; next: split k2, ...; kn */
		size_t nk = n->nkids;
		uint32_t last_jmp = UINT32_MAX; /* chain of jumps to patch */
		for (size_t i = 0; i < nk; i++) {
			if (i + 1 < nk) {
				uint32_t s = emit(p, I_SPLIT, 0, 0, NULL);
				p->prog[s].x = s + 1;
				compile(p, n->kids[i]);
				uint32_t j = emit(p, I_JMP, last_jmp, 0, NULL);
				last_jmp = j;
				p->prog[s].y = (uint32_t)p->ninst;
			} else {
				compile(p, n->kids[i]);
			}
		}
		uint32_t end = (uint32_t)p->ninst;
		while (last_jmp != UINT32_MAX && !p->overflow) {
			uint32_t prev = p->prog[last_jmp].x;
			p->prog[last_jmp].x = end;
			last_jmp = prev;
		}
		return;
	}
	case N_REP:
		compile_rep(p, n);
		return;
	}
}

/* Fills each I_CHAR's follow list when its closure is small: a walk of
 * at most 16 instructions finding at most FOLLOW_MAX leaves. */
static bool find_follows(rs_pattern *p)
{
	uint32_t *mark = calloc(p->ninst, sizeof *mark);
	if (!mark)
		return false;
	for (size_t pc = 0; pc < p->ninst; pc++) {
		inst *in = &p->prog[pc];
		if (in->op != I_CHAR)
			continue;
		uint32_t gen = (uint32_t)pc + 1, stack[16];
		size_t sp = 0, walked = 0, n = 0;
		bool small = true;
		stack[sp++] = (uint32_t)pc + 1;
		while (sp && small) {
			uint32_t q = stack[--sp];
			if (mark[q] == gen)
				continue;
			mark[q] = gen;
			const inst *t = &p->prog[q];
			if (++walked > 16 || sp + 2 > 16) {
				small = false;
			} else if (t->op == I_CHAR || t->op == I_MATCH) {
				if (n == FOLLOW_MAX)
					small = false;
				else
					in->follow[n++] = q;
			} else if (t->op == I_JMP) {
				stack[sp++] = t->x;
			} else {
				stack[sp++] = t->y;
				stack[sp++] = t->x;
			}
		}
		in->nfollow = small ? (uint8_t)n : UINT8_MAX;
	}
	free(mark);
	return true;
}

rs_pattern *rs_pattern_compile(const char *src, size_t *err_col, char *err,
			       size_t err_size)
{
	if (err && err_size)
		err[0] = '\0';
	if (err_col)
		*err_col = 0;
	/* The arena's blocks grow with the pattern: a registry holds
	 * thousands of short patterns, and a fixed 64 KiB block each made
	 * them most of a 10,000-version registry's memory (1.3 GB of
	 * blocks for 18,000 patterns, docs/performance.md). */
	size_t len = strlen(src);
	size_t block = len < 1024 ? 1024 + 64 * len : 64 * 1024;
	rs_pattern *p = calloc(1, sizeof *p);
	if (!p || !(p->a = rs_arena_new(block))) {
		free(p);
		if (err && err_size)
			snprintf(err, err_size, "out of memory");
		return NULL;
	}
	parser P = {
		.s = src, .n = len, .p = p, .err = err, .err_size = err_size};
	node *root = parse_alt(&P);
	if (root && !at_end(&P))
		fail(&P, P.i, "unmatched ); write \\) for a literal one");
	if (P.failed)
		goto fail;
	size_t pos, other;
	measure(root, &pos, &other);
	if (pos > RS_PATTERN_MAX_SIZE || other > MAX_INST) {
		P.failed = true;
		if (err && err_size) {
			if (pos > RS_PATTERN_MAX_SIZE)
				snprintf(err, err_size,
					 "too large: its automaton has %s%zu "
					 "positions (repetitions expanded), "
					 "more than the limit %d",
					 pos == SIZE_MAX ? "over " : "",
					 pos == SIZE_MAX
						 ? (size_t)RS_PATTERN_MAX_SIZE
						 : pos,
					 RS_PATTERN_MAX_SIZE);
			else
				snprintf(err, err_size,
					 "too large: its automaton has more "
					 "than %d instructions",
					 MAX_INST);
		}
		goto fail;
	}
	if (!go_repeat_ok(root, RS_PATTERN_MAX_REPEAT)) {
		if (err && err_size)
			snprintf(err, err_size,
				 "nested repetitions multiply to more than %d "
				 "copies (Go's limit)",
				 RS_PATTERN_MAX_REPEAT);
		goto fail;
	}
	p->root = root;
	p->capinst = pos + other + 1;
	p->prog = malloc((p->capinst + 1) * sizeof *p->prog);
	if (!p->prog) {
		if (err && err_size)
			snprintf(err, err_size, "out of memory");
		goto fail;
	}
	compile(p, root);
	emit(p, I_MATCH, 0, 0, NULL);
	if (p->overflow || p->ninst != p->capinst || p->size != pos) {
		/* measure() and compile() disagree: a bug */
		if (err && err_size)
			snprintf(err, err_size,
				 "internal error: the automaton "
				 "does not have the size measured");
		goto fail;
	}
	if (!find_follows(p)) {
		if (err && err_size)
			snprintf(err, err_size, "out of memory");
		goto fail;
	}
	return p;
fail:
	if (err_col)
		*err_col = P.err_col;
	rs_pattern_free(p);
	return NULL;
}

rs_pattern *rs_pattern_new(const char *src, char *err, size_t err_size)
{
	return rs_pattern_compile(src, NULL, err, err_size);
}

void rs_pattern_free(rs_pattern *p)
{
	if (!p)
		return;
	rs_arena_free(p->a);
	free(p->prog);
	free(p);
}

size_t rs_pattern_size(const rs_pattern *p)
{
	return p->size;
}

/* ---- matching ------------------------------------------------------------ */

typedef struct thread_list {
	uint32_t *pc;
	size_t n;
} thread_list;

/* Adds pc and everything reachable from it without reading to l. */
static void add_closure(const rs_pattern *p, thread_list *l, uint32_t *mark,
			uint32_t gen, uint32_t *stack, uint32_t pc)
{
	size_t sp = 0;
	stack[sp++] = pc;
	while (sp) {
		pc = stack[--sp];
		if (mark[pc] == gen)
			continue;
		mark[pc] = gen;
		const inst *in = &p->prog[pc];
		switch (in->op) {
		case I_CHAR:
		case I_MATCH:
			l->pc[l->n++] = pc;
			break;
		case I_JMP:
			stack[sp++] = in->x;
			break;
		case I_SPLIT:
			stack[sp++] = in->y;
			stack[sp++] = in->x;
			break;
		}
	}
}

static uint32_t decode(const unsigned char *s, size_t n, size_t *k)
{
	unsigned char c = s[0];
	if (c < 0x80 || n < 2) {
		*k = 1;
		return c;
	}
	if (c < 0xe0) {
		*k = 2;
		return (uint32_t)(c & 0x1f) << 6 | (s[1] & 0x3f);
	}
	if (c < 0xf0 || n < 4) {
		*k = n < 3 ? n : 3;
		return *k < 3 ? 0xfffd
			      : (uint32_t)(c & 0x0f) << 12 |
					(uint32_t)(s[1] & 0x3f) << 6 |
					(s[2] & 0x3f);
	}
	*k = 4;
	return (uint32_t)(c & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
	       (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
}

/* The work space of one match: the state-set simulation's lists, and a
 * cache of the sets met so far (a DFA built lazily, as RE2 does), so a
 * value walks a table for each ASCII character instead of the
 * automaton. The cache is bounded (DFA_MAX_BYTES) and emptied when full,
 * so memory stays proportional to the automaton and time linear. */
#define DFA_MAX_BYTES (2u << 20)
#define DFA_MIN_VALUE 64 /* shorter values: the plain simulation */
#define DFA_MAX_FLUSHES 2

typedef struct dstate {
	uint32_t *pcs; /* sorted */
	size_t n;
	uint64_t hash;
	bool match;
	int32_t next[128]; /* -1: not known yet */
} dstate;

typedef struct matcher {
	const rs_pattern *p;
	uint32_t *mark, *stack, gen;
	thread_list a, b;
	dstate *states;
	size_t nstates, capstates;
	int32_t *table; /* open addressing: state index + 1, 0 free */
	size_t captable;
	size_t bytes;
	unsigned epoch; /* times the cache was emptied */
	bool failed;
} matcher;

/* next = the states reached from cur by reading c. */
static void step(matcher *M, const uint32_t *cur, size_t n, uint32_t c,
		 thread_list *next)
{
	M->gen++;
	next->n = 0;
	uint32_t gen = M->gen, *mark = M->mark;
	for (size_t t = 0; t < n; t++) {
		const inst *in = &M->p->prog[cur[t]];
		if (in->op != I_CHAR || !set_has(in->set, c))
			continue;
		if (in->nfollow == UINT8_MAX) {
			add_closure(M->p, next, mark, gen, M->stack,
				    cur[t] + 1);
			continue;
		}
		for (uint8_t k = 0; k < in->nfollow; k++) {
			uint32_t q = in->follow[k];
			if (mark[q] != gen) {
				mark[q] = gen;
				next->pc[next->n++] = q;
			}
		}
	}
}

static int u32_cmp(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return a < b ? -1 : a > b;
}

static void dfa_flush(matcher *M)
{
	for (size_t i = 0; i < M->nstates; i++)
		free(M->states[i].pcs);
	M->nstates = 0;
	M->bytes = 0;
	M->epoch++;
	if (M->table)
		memset(M->table, 0, M->captable * sizeof *M->table);
}

/* The state for the set l (sorted in place); -1 when memory runs out. */
static int32_t dfa_intern(matcher *M, thread_list *l)
{
	qsort(l->pc, l->n, sizeof *l->pc, u32_cmp);
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < l->n; i++)
		h = (h ^ l->pc[i]) * 1099511628211ull;
	if (M->captable) {
		size_t mask = M->captable - 1;
		for (size_t k = h & mask; M->table[k]; k = (k + 1) & mask) {
			dstate *d = &M->states[M->table[k] - 1];
			if (d->hash == h && d->n == l->n &&
			    !memcmp(d->pcs, l->pc, l->n * sizeof *l->pc))
				return M->table[k] - 1;
		}
	}
	size_t size = sizeof(dstate) + l->n * sizeof *l->pc;
	if (M->bytes + size > DFA_MAX_BYTES)
		dfa_flush(M);
	if (M->nstates == M->capstates) {
		size_t cap = M->capstates ? M->capstates * 2 : 16;
		dstate *st = realloc(M->states, cap * sizeof *st);
		if (!st)
			return -1;
		M->states = st;
		M->capstates = cap;
	}
	if (2 * (M->nstates + 1) > M->captable) {
		size_t cap = M->captable ? M->captable * 2 : 64;
		int32_t *t = calloc(cap, sizeof *t);
		if (!t)
			return -1;
		free(M->table);
		M->table = t;
		M->captable = cap;
		for (size_t i = 0; i < M->nstates; i++) {
			size_t k = M->states[i].hash & (cap - 1);
			while (t[k])
				k = (k + 1) & (cap - 1);
			t[k] = (int32_t)i + 1;
		}
	}
	dstate *d = &M->states[M->nstates];
	d->pcs = malloc((l->n ? l->n : 1) * sizeof *d->pcs);
	if (!d->pcs)
		return -1;
	memcpy(d->pcs, l->pc, l->n * sizeof *l->pc);
	d->n = l->n;
	d->hash = h;
	d->match = false;
	for (size_t i = 0; i < l->n; i++)
		if (M->p->prog[l->pc[i]].op == I_MATCH)
			d->match = true;
	memset(d->next, 0xff, sizeof d->next);
	size_t k = h & (M->captable - 1);
	while (M->table[k])
		k = (k + 1) & (M->captable - 1);
	M->table[k] = (int32_t)M->nstates + 1;
	M->bytes += size;
	return (int32_t)M->nstates++;
}

static bool match_nfa(matcher *M, const unsigned char *u, size_t n);

static bool match_dfa(matcher *M, const unsigned char *u, size_t n)
{
	int32_t cur = dfa_intern(M, &M->a);
	size_t i = 0;
	while (cur >= 0 && i < n) {
		/* A cache that keeps filling up (most characters make a new
		 * set) only costs: simulate without it from here. */
		if (M->epoch >= DFA_MAX_FLUSHES) {
			thread_list *a = &M->a;
			a->n = M->states[cur].n;
			memcpy(a->pc, M->states[cur].pcs, a->n * sizeof *a->pc);
			return match_nfa(M, u + i, n - i);
		}
		if (!M->states[cur].n)
			return false;
		uint32_t c = u[i];
		size_t k = 1;
		if (c < 128 && M->states[cur].next[c] >= 0) {
			cur = M->states[cur].next[c];
			i++;
			continue;
		}
		if (c >= 128)
			c = decode(u + i, n - i, &k);
		i += k;
		step(M, M->states[cur].pcs, M->states[cur].n, c, &M->b);
		unsigned epoch = M->epoch;
		int32_t nx = dfa_intern(M, &M->b);
		/* remember the edge unless the cache was emptied meanwhile */
		if (nx >= 0 && c < 128 && M->epoch == epoch)
			M->states[cur].next[c] = nx;
		cur = nx;
	}
	if (cur < 0) {
		M->failed = true;
		return false;
	}
	return M->states[cur].match;
}

static bool match_nfa(matcher *M, const unsigned char *u, size_t n)
{
	thread_list *cur = &M->a, *nxt = &M->b;
	size_t i = 0;
	while (i < n && cur->n) {
		size_t k;
		uint32_t c = decode(u + i, n - i, &k);
		i += k;
		step(M, cur->pc, cur->n, c, nxt);
		thread_list *t = cur;
		cur = nxt;
		nxt = t;
	}
	if (i < n)
		return false;
	for (size_t t = 0; t < cur->n; t++)
		if (M->p->prog[cur->pc[t]].op == I_MATCH)
			return true;
	return false;
}

bool rs_pattern_match(const rs_pattern *p, const char *s, size_t n)
{
	return rs_pattern_match_how(p, s, n, RS_MATCH_AUTO);
}

bool rs_pattern_match_how(const rs_pattern *p, const char *s, size_t n,
			  rs_match_how how)
{
	size_t m = p->ninst;
	/* two lists, the marks and the closure stack (a pc is pushed at
	 * most once per incoming edge: two per instruction) */
	uint32_t small[4 * 64 + 8];
	uint32_t *mem = small;
	size_t need = 5 * m + 2;
	if (need > sizeof small / sizeof small[0]) {
		mem = malloc(need * sizeof *mem);
		if (!mem)
			return false;
	}
	matcher M = {.p = p,
		     .a = {mem, 0},
		     .b = {mem + m, 0},
		     .mark = mem + 2 * m,
		     .stack = mem + 3 * m,
		     .gen = 1};
	memset(M.mark, 0, m * sizeof *M.mark);
	add_closure(p, &M.a, M.mark, M.gen, M.stack, 0);
	const unsigned char *u = (const unsigned char *)s;
	bool matched =
		n < DFA_MIN_VALUE ? match_nfa(&M, u, n) : match_dfa(&M, u, n);
	dfa_flush(&M);
	free(M.states);
	free(M.table);
	if (mem != small)
		free(mem);
	return matched && !M.failed;
}

/* ---- spelling ------------------------------------------------------------ */

/* One code point as a literal for lang's engine: ASCII letters and digits
 * as they are, other ASCII punctuation escaped with a backslash, and
 * everything else (space, controls, quotes, the backquote, non-ASCII) as a
 * hex escape, so the spelling is printable ASCII without quotes. */
static int spell_cp(rs_buf *b, uint32_t c, rs_lang lang)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return rs_buf_putc(b, (char)c);
	if (c == '_')
		return rs_buf_putc(b, '_');
	/* JavaScript's u flag allows an identity escape of syntax characters
	 * and '/' only: other punctuation is a hex escape */
	if (lang == RS_LANG_TS &&
	    !(c > 0 && c < 128 && strchr("^$\\.*+?()[]{}|/", (int)c)))
		return rs_buf_printf(b, "\\u{%x}", c);
	if (c < 128 && is_punct((unsigned char)c) && c != '\'' && c != '"' &&
	    c != '`') {
		char e[3] = {'\\', (char)c, '\0'};
		return rs_buf_puts(b, e);
	}
	if (lang == RS_LANG_PYTHON)
		return c <= 0xff     ? rs_buf_printf(b, "\\x%02x", c)
		       : c <= 0xffff ? rs_buf_printf(b, "\\u%04x", c)
				     : rs_buf_printf(b, "\\U%08x", c);
	return rs_buf_printf(b, "\\x{%x}", c);
}

static int spell_range(rs_buf *b, uint32_t lo, uint32_t hi, rs_lang lang)
{
	/* surrogates are no code points of valid text; PCRE refuses them */
	if (lo < 0xd800 && hi > 0xdfff)
		return spell_range(b, lo, 0xd7ff, lang) ||
		       spell_range(b, 0xe000, hi, lang);
	if (lo >= 0xd800 && lo <= 0xdfff)
		lo = 0xe000;
	if (hi >= 0xd800 && hi <= 0xdfff)
		hi = 0xd7ff;
	if (lo > hi)
		return 0;
	if (spell_cp(b, lo, lang) < 0)
		return -1;
	if (lo == hi)
		return 0;
	if (hi > lo + 1 && rs_buf_putc(b, '-') < 0)
		return -1;
	return spell_cp(b, hi, lang);
}

static int spell_set(rs_buf *b, const cset *s, rs_lang lang)
{
	if (!s->neg && s->n == 1 && s->r[0].lo == s->r[0].hi)
		return spell_cp(b, s->r[0].lo, lang);
	if (s->n == 0) /* matches nothing, or anything */
		return rs_buf_puts(b, s->neg ? "[\\x00-" : "[^\\x00-") < 0 ||
				       rs_buf_puts(b,
						   lang == RS_LANG_PYTHON
							   ? "\\U0010ffff]"
						   : lang == RS_LANG_TS
							   ? "\\u{10ffff}]"
							   : "\\x{10ffff}]") < 0
			       ? -1
			       : 0;
	if (rs_buf_puts(b, s->neg ? "[^" : "[") < 0)
		return -1;
	for (size_t i = 0; i < s->n; i++)
		if (spell_range(b, s->r[i].lo, s->r[i].hi, lang) < 0)
			return -1;
	return rs_buf_putc(b, ']');
}

static int spell(rs_buf *b, const node *n, rs_lang lang, bool in_seq)
{
	switch (n->kind) {
	case N_EMPTY:
		return 0;
	case N_SET:
		return spell_set(b, n->set, lang);
	case N_CAT:
		for (size_t i = 0; i < n->nkids; i++)
			if (spell(b, n->kids[i], lang, true) < 0)
				return -1;
		return 0;
	case N_ALT:
		if (in_seq && rs_buf_puts(b, "(?:") < 0)
			return -1;
		for (size_t i = 0; i < n->nkids; i++)
			if ((i && rs_buf_putc(b, '|') < 0) ||
			    spell(b, n->kids[i], lang, false) < 0)
				return -1;
		return in_seq ? rs_buf_putc(b, ')') : 0;
	case N_REP: {
		bool group = n->sub->kind != N_SET;
		if ((group && rs_buf_puts(b, "(?:") < 0) ||
		    spell(b, n->sub, lang, false) < 0 ||
		    (group && rs_buf_putc(b, ')') < 0))
			return -1;
		if (n->min == 0 && n->max < 0)
			return rs_buf_putc(b, '*');
		if (n->min == 1 && n->max < 0)
			return rs_buf_putc(b, '+');
		if (n->min == 0 && n->max == 1)
			return rs_buf_putc(b, '?');
		if (n->max < 0)
			return rs_buf_printf(b, "{%d,}", n->min);
		if (n->min == n->max)
			return rs_buf_printf(b, "{%d}", n->min);
		return rs_buf_printf(b, "{%d,%d}", n->min, n->max);
	}
	}
	return 0;
}

const char *rs_pattern_spell(const rs_pattern *p, rs_lang lang, rs_arena *a)
{
	rs_buf b = RS_BUF_INIT;
	const char *pre = "", *post = "";
	if (lang == RS_LANG_GO || lang == RS_LANG_TS)
		pre = "^(?:", post = ")$";
	else if (lang == RS_LANG_PHP)
		pre = "\\A(?:", post = ")\\z";
	const char *out = NULL;
	if (rs_buf_puts(&b, pre) < 0 || spell(&b, p->root, lang, false) < 0 ||
	    rs_buf_puts(&b, post) < 0)
		goto done;
	out = rs_arena_strndup(a, b.data ? b.data : "", b.len);
done:
	rs_buf_free(&b);
	return out;
}
