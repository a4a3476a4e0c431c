#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "reestr/error.h"

int rs_json_write_string(rs_buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	if (rs_buf_grow(out, len + 2) < 0)
		return RS_ENOMEM;
	if (rs_buf_putc(out, '"') < 0)
		return RS_ENOMEM;
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (rs_buf_append(out, s + run, i - run) < 0)
			return RS_ENOMEM;
		run = i + 1;
		char esc[7] = {'\\', 0};
		size_t n = 2;
		switch (c) {
		case '"':
			esc[1] = '"';
			break;
		case '\\':
			esc[1] = '\\';
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		if (rs_buf_append(out, esc, n) < 0)
			return RS_ENOMEM;
	}
	if (rs_buf_append(out, s + run, len - run) < 0 ||
	    rs_buf_putc(out, '"') < 0)
		return RS_ENOMEM;
	return 0;
}

/* The shortest decimal digits that read back as d (d > 0, finite), and
 * the ECMAScript exponent n: d = 0.digits x 10^n.
 *
 * Any decimal of at most 15 significant digits survives a round trip
 * through a double (DBL_DIG), so printing 15 digits and dropping trailing
 * zeros yields the shortest form whenever one of 15 digits or fewer exists;
 * otherwise the correctly rounded 16- or 17-digit form is the shortest.
 * That is at most three snprintf/strtod pairs, usually one. Subnormals
 * carry fewer bits, so for them every length is tried from one digit. */
static int shortest_digits(double d, char digits[32], int *n)
{
	char buf[40];
	for (int prec = d < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
		if (prec == 17 || strtod(buf, NULL) == d)
			break;
	}
	/* buf is "D.DDDDe[+-]XX" */
	int k = 0;
	char *e = strchr(buf, 'e');
	for (char *c = buf; c < e; c++)
		if (*c >= '0' && *c <= '9')
			digits[k++] = *c;
	while (k > 1 && digits[k - 1] == '0')
		k--;
	digits[k] = '\0';
	*n = atoi(e + 1) + 1;
	return k;
}

int rs_json_write_double(rs_buf *out, double d)
{
	if (!isfinite(d))
		return rs_error_set(RS_EINVAL, "JSON has no NaN or infinity");
	if (d == 0)
		return rs_buf_putc(out, '0') < 0 ? RS_ENOMEM : 0;
	char digits[32], text[64];
	int n, k;
	size_t o = 0;
	if (d < 0) {
		text[o++] = '-';
		d = -d;
	}
	k = shortest_digits(d, digits, &n);
	if (k <= n && n <= 21) {
		memcpy(text + o, digits, (size_t)k);
		o += (size_t)k;
		for (int i = 0; i < n - k; i++)
			text[o++] = '0';
	} else if (0 < n && n <= 21) {
		memcpy(text + o, digits, (size_t)n);
		o += (size_t)n;
		text[o++] = '.';
		memcpy(text + o, digits + n, (size_t)(k - n));
		o += (size_t)(k - n);
	} else if (-6 < n && n <= 0) {
		text[o++] = '0';
		text[o++] = '.';
		for (int i = 0; i < -n; i++)
			text[o++] = '0';
		memcpy(text + o, digits, (size_t)k);
		o += (size_t)k;
	} else {
		text[o++] = digits[0];
		if (k > 1) {
			text[o++] = '.';
			memcpy(text + o, digits + 1, (size_t)(k - 1));
			o += (size_t)(k - 1);
		}
		o += (size_t)snprintf(text + o, sizeof text - o, "e%c%d",
				      n - 1 < 0 ? '-' : '+', abs(n - 1));
	}
	return rs_buf_append(out, text, o) < 0 ? RS_ENOMEM : 0;
}

int rs_json_write(rs_buf *out, const rs_json *v)
{
	int rc = 0;
	switch (v->type) {
	case RS_JSON_NULL:
		return rs_buf_puts(out, "null") < 0 ? RS_ENOMEM : 0;
	case RS_JSON_TRUE:
		return rs_buf_puts(out, "true") < 0 ? RS_ENOMEM : 0;
	case RS_JSON_FALSE:
		return rs_buf_puts(out, "false") < 0 ? RS_ENOMEM : 0;
	case RS_JSON_NUMBER:
		if (v->u.num.is_int)
			return rs_buf_printf(out, "%lld",
					     (long long)v->u.num.i) < 0
				       ? RS_ENOMEM
				       : 0;
		return rs_json_write_double(out, v->u.num.d);
	case RS_JSON_STRING:
		return rs_json_write_string(out, v->u.str.ptr, v->u.str.len);
	case RS_JSON_ARRAY:
		if (rs_buf_putc(out, '[') < 0)
			return RS_ENOMEM;
		for (size_t i = 0; i < v->u.arr.count && !rc; i++) {
			if (i && rs_buf_putc(out, ',') < 0)
				return RS_ENOMEM;
			rc = rs_json_write(out, &v->u.arr.items[i]);
		}
		return rc ? rc : rs_buf_putc(out, ']') < 0 ? RS_ENOMEM : 0;
	case RS_JSON_OBJECT:
		if (rs_buf_putc(out, '{') < 0)
			return RS_ENOMEM;
		for (size_t i = 0; i < v->u.obj.count && !rc; i++) {
			const rs_json_member *m = &v->u.obj.items[i];
			if (i && rs_buf_putc(out, ',') < 0)
				return RS_ENOMEM;
			rc = rs_json_write_string(out, m->key, m->key_len);
			if (!rc)
				rc = rs_buf_putc(out, ':') < 0 ? RS_ENOMEM : 0;
			if (!rc)
				rc = rs_json_write(out, &m->value);
		}
		return rc ? rc : rs_buf_putc(out, '}') < 0 ? RS_ENOMEM : 0;
	}
	return RS_EINVAL;
}
