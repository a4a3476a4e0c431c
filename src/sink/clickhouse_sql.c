#include "sink/clickhouse_sql.h"

#include <ctype.h>
#include <string.h>

int rs_ch_put_ident(rs_buf *b, const char *name)
{
	int bad = rs_buf_putc(b, '`');
	for (const char *c = name; *c; c++) {
		if (*c == '`' || *c == '\\')
			bad |= rs_buf_putc(b, '\\');
		bad |= rs_buf_putc(b, *c);
	}
	return bad | rs_buf_putc(b, '`');
}

int rs_ch_put_table(rs_buf *b, const char *database, const char *table)
{
	return rs_ch_put_ident(b, database) | rs_buf_putc(b, '.') |
	       rs_ch_put_ident(b, table);
}

int rs_ch_put_string(rs_buf *b, const char *s)
{
	int bad = rs_buf_putc(b, '\'');
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		switch (*c) {
		case '\'':
		case '\\':
			bad |= rs_buf_putc(b, '\\') | rs_buf_putc(b, (char)*c);
			break;
		case '\n':
			bad |= rs_buf_puts(b, "\\n");
			break;
		case '\t':
			bad |= rs_buf_puts(b, "\\t");
			break;
		case '\r':
			bad |= rs_buf_puts(b, "\\r");
			break;
		default:
			bad |= *c < 0x20 || *c == 0x7f
				       ? rs_buf_printf(b, "\\x%02X", *c)
				       : rs_buf_putc(b, (char)*c);
		}
	}
	return bad | rs_buf_putc(b, '\'');
}

int rs_ch_put_encoded(rs_buf *b, const char *s)
{
	int bad = 0;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		bad |= isalnum(*c) || *c == '_' || *c == '-' || *c == '.'
			       ? rs_buf_putc(b, (char)*c)
			       : rs_buf_printf(b, "%%%02X", *c);
	return bad;
}

const char *rs_ch_tsv_field(const char *s, const char *end, rs_buf *out,
			    bool *null, bool *bad)
{
	rs_buf_reset(out);
	*null = false;
	if (end - s >= 2 && s[0] == '\\' && s[1] == 'N' &&
	    (s + 2 == end || s[2] == '\t' || s[2] == '\n')) {
		*null = true;
		return s + 2;
	}
	*bad |= rs_buf_puts(out, "") < 0;
	while (s < end && *s != '\t' && *s != '\n') {
		char c = *s++;
		if (c == '\\' && s < end) {
			c = *s++;
			switch (c) {
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case '0':
				c = '\0';
				break;
			default: /* \\ \' and anything else: the character */
				break;
			}
		}
		*bad |= rs_buf_putc(out, c) < 0;
	}
	return s;
}
