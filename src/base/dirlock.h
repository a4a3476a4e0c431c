/* One process per folder: `reestr serve` on its data folder and `reestr
 * agent` on its spool take an exclusive flock on DIR/.lock before touching
 * anything else there, so a second copy (a second `make run`, a restarted
 * agent whose predecessor still runs) refuses instead of sharing the files.
 * The lock file also says who holds it (pid and a description), so the
 * refusal can name the holder. The lock ends with the process, however it
 * ends: flock locks are released by the kernel when the descriptor closes. */
#ifndef RS_BASE_DIRLOCK_H
#define RS_BASE_DIRLOCK_H

typedef struct rs_dirlock rs_dirlock;

/* Creates dir when missing, then locks dir/.lock without waiting. who
 * describes this process for a later refusal ("reestr serve listening on
 * 127.0.0.1:8080"). Returns 0, RS_EINVAL (with rs_error_last() naming the
 * holder) when another process holds it, or RS_EIO. */
int rs_dirlock_take(const char *dir, const char *who, rs_dirlock **out);
/* Releases the lock (the file stays, with no holder in it). */
void rs_dirlock_free(rs_dirlock *l);

#endif
