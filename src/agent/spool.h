/* The agent's on-disk spool: events appended to segment files, each record
 * framed and checksummed, read back in order for forwarding, and a segment
 * deleted only once every event in it was acknowledged by the collector.
 *
 * A record: "RSPL" (magic), length (u32 LE), CRC-32 of the payload (u32
 * LE), payload. A torn write or a flipped bit fails the checksum; the
 * reader counts it, skips to the next record that checks out, and goes on.
 *
 * One writer and one reader may use a spool from two threads. */
#ifndef RS_AGENT_SPOOL_H
#define RS_AGENT_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/buf.h"

#define RS_SPOOL_MAX_RECORD (16u << 20)

typedef struct rs_spool rs_spool;

typedef struct rs_spool_stats {
	uint64_t bytes; /* on disk, every segment */
	uint64_t segments;
	uint64_t corrupt; /* records found damaged and skipped */
} rs_spool_stats;

/* Opens (creating) the spool in dir. A new segment is started: what is
 * already there is replayed. max_bytes caps the spool on disk (0: no cap);
 * segments are rotated at segment_bytes. */
int rs_spool_open(const char *dir, uint64_t max_bytes, uint64_t segment_bytes,
		  rs_spool **out);
void rs_spool_free(rs_spool *s);

/* Appends n records and syncs them to disk before returning: durable when
 * this returns 0. RS_ELIMIT (nothing written) when they would take the
 * spool over its cap; RS_EIO when they could not be made durable (the
 * caller must keep them). A failed write or sync poisons the segment: it
 * is cut back to what was durable, and the records are written once more
 * to a new segment; 0 only if that one synced. */
int rs_spool_append(rs_spool *s, const char *const *records, const size_t *lens,
		    size_t n);

/* A position in the spool: a segment and an offset in it. */
typedef struct rs_spool_cursor {
	uint64_t segment;
	uint64_t offset;
} rs_spool_cursor;

/* Reads up to max records from cursor into out (each record's payload,
 * then its length as a size_t is kept in lens); advances cursor past them.
 * Stops at the end of what has been appended. Returns the number read. */
size_t rs_spool_read(rs_spool *s, rs_spool_cursor *cursor, size_t max,
		     rs_buf *payloads, size_t *lens);

/* The records in the spool now, read without counting damage (the reader
 * counts it when it gets there). */
uint64_t rs_spool_count(rs_spool *s);

/* Everything before cursor was acknowledged: deletes the segments wholly
 * before it. */
int rs_spool_ack(rs_spool *s, const rs_spool_cursor *cursor);

/* The first position of the spool (its oldest segment). */
void rs_spool_start(rs_spool *s, rs_spool_cursor *cursor);

void rs_spool_stats_get(rs_spool *s, rs_spool_stats *out);

/* The calls through which the spool writes and syncs, so tests can make
 * them fail as a failing or full disk does. NULL (or a NULL member) puts
 * back the real call. Process-wide; set it before opening a spool. */
typedef struct rs_spool_io {
	ssize_t (*write)(int fd, const void *buf, size_t len);
	int (*fdatasync)(int fd);
	int (*fsync)(int fd); /* the spool folder's, after a new segment */
} rs_spool_io;
void rs_spool_set_io(const rs_spool_io *io);

/* Reads up to max records from a segment's bytes, as rs_spool_read does
 * (and the fuzzer): calls fn for each good record, counts damaged ones in
 * *corrupt, and returns the offset after what it consumed. at_end says the
 * bytes end where the segment ends, so a partial record there is damage,
 * not a record still being read. */
size_t rs_spool_scan(const char *data, size_t len, bool at_end, size_t max,
		     void (*fn)(void *ctx, const char *rec, size_t len),
		     void *ctx, uint64_t *corrupt);

#endif
