/* RFC 3339 timestamps <-> microseconds since the Unix epoch (UTC). */
#ifndef RS_BASE_TIMEFMT_H
#define RS_BASE_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" plus the terminator. */
#define RS_TIME_TEXT_SIZE 28

/* Parses an RFC 3339 date-time: "T" or "t" (or one space) between date and
 * time, 0-9 fraction digits (kept to microseconds, the rest truncated), and
 * a zone "Z", "z" or "+hh:mm"/"-hh:mm", which is required. Years 0001-9999.
 * Returns 0, or -1 with *why set to a static description. */
int rs_time_parse(const char *s, size_t len, int64_t *unix_us,
		  const char **why);

/* Formats as UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ" (always 6 digits). */
void rs_time_format(int64_t unix_us, char out[RS_TIME_TEXT_SIZE]);

/* Now, from CLOCK_REALTIME. */
int64_t rs_time_now_us(void);

#endif
