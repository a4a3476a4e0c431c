package reestr

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// The canonical encoding of docs/wire-format.md: one spelling per value,
// whichever language sent it, so these functions follow RFC 8785 (JCS) rather
// than encoding/json (which escapes <, >, & and U+2028 and writes floats
// differently).

// plain marks the bytes AppendString copies unchanged with no further
// check: printable ASCII except '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// AppendString appends s as a quoted JSON string with RFC 8785 escapes: '"'
// and '\' escaped, control characters as \b \f \n \r \t or \u00xx (lowercase
// hex), everything else as raw UTF-8. Invalid UTF-8 is replaced by U+FFFD so
// the output is always valid JSON.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, to be copied as it is
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendInt appends v in decimal.
func AppendInt(dst []byte, v int64) []byte {
	return strconv.AppendInt(dst, v, 10)
}

// AppendBool appends true or false.
func AppendBool(dst []byte, v bool) []byte {
	return strconv.AppendBool(dst, v)
}

// AppendFloat appends v as ECMAScript's Number::toString writes it (RFC 8785
// section 3.2.2.3): the shortest digits that read back as v, in plain
// notation from 1e-6 up to but excluding 1e21 and in exponent form outside
// (1e-7, 1.5e+21); -0 is written 0. JSON has no NaN or infinity: they are
// written null, which the collector refuses for a float field.
func AppendFloat(dst []byte, v float64) []byte {
	if v == 0 {
		return append(dst, '0') // also -0
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(dst, "null"...)
	}
	a := math.Abs(v)
	if a < 1<<53 && a == math.Trunc(a) {
		// An integer below 2^53 is exact, so its digits are the shortest.
		return strconv.AppendInt(dst, int64(v), 10)
	}
	// strconv's shortest digits are ECMAScript's; only the placement
	// differs from strconv's 'g'. 1e-6 and 1e21 are the doubles whose
	// shortest digits are exactly those powers, so comparing the double
	// gives ECMAScript's choice.
	if a >= 1e-6 && a < 1e21 {
		return strconv.AppendFloat(dst, v, 'f', -1, 64)
	}
	// Exponent form: strconv writes at least two exponent digits
	// ("1e-07"); ECMAScript writes no leading zero ("1e-7").
	dst = strconv.AppendFloat(dst, v, 'e', -1, 64)
	if n := len(dst); dst[n-2] == '0' && (dst[n-3] == '-' || dst[n-3] == '+') {
		dst[n-2] = dst[n-1]
		dst = dst[:n-1]
	}
	return dst
}

// AppendTime appends t as a quoted RFC 3339 time in UTC with exactly six
// fraction digits, truncated (not rounded) to microseconds:
// "2018-04-11T19:37:05.000000Z". A year outside 0000–9999 has no RFC 3339
// form; it is written in full, so that the collector refuses the event
// rather than store another time.
func AppendTime(dst []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	b := [29]byte{'"', 0, 0, 0, 0, '-', 0, 0, '-', 0, 0, 'T', 0, 0, ':', 0, 0, ':', 0, 0, '.', 0, 0, 0, 0, 0, 0, 'Z', '"'}
	putDigits(b[6:8], int(month))
	putDigits(b[9:11], day)
	putDigits(b[12:14], hour)
	putDigits(b[15:17], minute)
	putDigits(b[18:20], sec)
	putDigits(b[21:27], t.Nanosecond()/1000)
	if year < 0 || year > 9999 {
		dst = strconv.AppendInt(append(dst, '"'), int64(year), 10)
		return append(dst, b[5:]...)
	}
	putDigits(b[1:5], year)
	return append(dst, b[:]...)
}

// putDigits writes v in decimal into b, zero-padded to fill it.
func putDigits(b []byte, v int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}

// AppendEvent appends the event's canonical JSON: the envelope keys in the
// order event_id, version, uuid, time, environment, source, fields, and no
// whitespace. It does not validate the event.
func AppendEvent(dst []byte, e Event, environment, source string) []byte {
	b := e.base()
	dst = append(dst, `{"event_id":`...)
	dst = AppendInt(dst, e.EventID())
	dst = append(dst, `,"version":`...)
	dst = AppendInt(dst, int64(e.EventVersion()))
	dst = append(dst, `,"uuid":`...)
	dst = AppendString(dst, b.uuid)
	dst = append(dst, `,"time":`...)
	dst = AppendTime(dst, b.time)
	dst = append(dst, `,"environment":`...)
	dst = AppendString(dst, environment)
	dst = append(dst, `,"source":`...)
	dst = AppendString(dst, source)
	dst = append(dst, `,"fields":`...)
	dst = e.AppendFields(dst)
	return append(dst, '}')
}
