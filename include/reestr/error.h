/* Errors from library code: a negative return code, plus a message set where
 * the error is born and read by whoever reports it (libgit2's convention).
 * The message is per thread. Library code never exits the process. */
#ifndef REESTR_ERROR_H
#define REESTR_ERROR_H

enum {
	RS_OK = 0,
	RS_ERR = -1,	   /* generic failure; see rs_error_last() */
	RS_ENOMEM = -2,	   /* out of memory */
	RS_EINVAL = -3,	   /* invalid input from the user */
	RS_EIO = -4,	   /* I/O or storage failure */
	RS_ENOTFOUND = -5, /* the thing asked for does not exist */
	RS_ELIMIT = -6,	   /* a configured limit was exceeded */
};

/* Sets this thread's message and returns code, so a caller can write
 * `return rs_error_set(RS_EIO, "open %s: %s", path, strerror(errno));` */
int rs_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* This thread's last message, or "" when none was set. */
const char *rs_error_last(void);
void rs_error_clear(void);

#endif
