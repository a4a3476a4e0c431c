package reestr

import (
	crand "crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"sync"
	"time"
)

// uuidClock keeps the UUIDv7s made by this process strictly increasing, so
// that events made one after another sort in that order in the store's
// (time, uuid) index even within one millisecond.
var uuidClock struct {
	sync.Mutex
	ms  int64  // unix_ts_ms of the last UUID
	seq uint16 // its 12-bit rand_a
}

// newUUIDv7 returns a lowercase, 36-character UUIDv7 (RFC 9562, section
// 5.7) for the time t.
//
// The layout is 48 bits of Unix milliseconds, version 7, 12 bits of rand_a,
// variant 10 and 62 random bits. rand_a holds the fraction of the
// millisecond (RFC 9562 section 6.2, method 3); when that does not advance
// (the same fraction, or the clock stepped back) it is incremented instead,
// and a counter that runs out borrows the next millisecond (method 1), so
// the order never goes backwards.
func newUUIDv7(t time.Time) string {
	ns := t.UnixNano()
	ms := ns / 1e6
	frac := uint16((ns % 1e6) * 4096 / 1e6)

	uuidClock.Lock()
	if ms > uuidClock.ms || (ms == uuidClock.ms && frac > uuidClock.seq) {
		uuidClock.ms, uuidClock.seq = ms, frac
	} else if uuidClock.seq < 0xfff {
		uuidClock.seq++
	} else {
		uuidClock.ms++
		uuidClock.seq = 0
	}
	ms, seq := uuidClock.ms, uuidClock.seq
	uuidClock.Unlock()

	var u [16]byte
	u[0] = byte(ms >> 40)
	u[1] = byte(ms >> 32)
	u[2] = byte(ms >> 24)
	u[3] = byte(ms >> 16)
	u[4] = byte(ms >> 8)
	u[5] = byte(ms)
	u[6] = 0x70 | byte(seq>>8)
	u[7] = byte(seq)
	if _, err := crand.Read(u[8:]); err != nil {
		// crypto/rand does not fail on supported systems since Go 1.24;
		// before that, fall back to the runtime's ChaCha8 rather than panic.
		binary.BigEndian.PutUint64(u[8:], mrand.Uint64())
	}
	u[8] = 0x80 | u[8]&0x3f
	return formatUUID(&u)
}

// formatUUID writes u in the canonical 8-4-4-4-12 lowercase hex form.
func formatUUID(u *[16]byte) string {
	const hex = "0123456789abcdef"
	var s [36]byte
	j := 0
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			s[j] = '-'
			j++
		}
		s[j] = hex[b>>4]
		s[j+1] = hex[b&0xf]
		j += 2
	}
	return string(s[:])
}
