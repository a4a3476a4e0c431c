/* RFC 3339 timestamps <-> microseconds since the Unix epoch (UTC). */
#ifndef RS_BASE_TIMEFMT_H
#define RS_BASE_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" plus the terminator. */
#define RS_TIME_TEXT_SIZE 28

/* Seconds since the epoch of 0001-01-01T00:00:00Z and of
 * 9999-12-31T23:59:59Z, the ends of the range a timestamp may hold. */
#define RS_TIME_MIN_S (-62135596800LL)
#define RS_TIME_MAX_S 253402300799LL

/* Parses an RFC 3339 date-time, strictly the contract of docs/registry.md:
 * "YYYY-MM-DDTHH:MM:SS", an upper-case "T", optionally "." and 1-9
 * fraction digits (kept to microseconds, the rest truncated), and a zone,
 * which is required: an upper-case "Z" or "+hh:mm"/"-hh:mm" (hh <= 23).
 * Hours 00-23, no leap second (:60), real calendar dates, and the instant
 * converted to UTC within 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999999Z.
 * Returns 0, or -1 with *why set to a static description. */
int rs_time_parse(const char *s, size_t len, int64_t *unix_us,
		  const char **why);

/* Formats as UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ" (always 6 digits); unix_us
 * must lie in the range rs_time_parse accepts. */
void rs_time_format(int64_t unix_us, char out[RS_TIME_TEXT_SIZE]);

/* Now, from CLOCK_REALTIME. */
int64_t rs_time_now_us(void);

#endif
