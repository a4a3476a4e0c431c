package reestr

import (
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"
)

// ErrQueueFull is returned by Sender.Send when QueueCapacity events are
// already queued and not yet finished; the event is dropped and reported.
var ErrQueueFull = errors.New("reestr: queue full")

// ErrClosed is returned by Sender.Send after Sender.Close; the event is
// dropped and reported.
var ErrClosed = errors.New("reestr: sender closed")

// FieldError is a check that failed before an event left the process. The
// generated Validate methods return it, naming the event, its version and the
// field's path from the event (e.g. "fields.user.email").
type FieldError struct {
	Event   string
	Version int
	Field   string
	Message string
}

// NewFieldError returns a *FieldError; generated code calls it with the
// message it wrote for the failed check.
func NewFieldError(event string, version int, field, message string) *FieldError {
	return &FieldError{Event: event, Version: version, Field: field, Message: message}
}

// Error formats the error as "<event> v<version>: <field>: <message>", the
// same line every runtime writes.
func (e *FieldError) Error() string {
	return e.Event + " v" + strconv.Itoa(e.Version) + ": " + e.Field + ": " + e.Message
}

// ErrTooLarge is returned by Sender.Send when the event, encoded, makes a
// body larger than Config.MaxBatchBytes even alone; the event is rejected and
// reported with its size.
var ErrTooLarge = errors.New("reestr: event larger than MaxBatchBytes")

// UndeliveredError is what Flush and Close return when events finished
// without being delivered since the previous Flush or Close: how many the
// collector rejected and how many never got there, with the first reason of
// each kind (Config.OnResult has every event's own).
type UndeliveredError struct {
	Rejected, Dropped             int
	RejectedReason, DroppedReason string
}

func (e *UndeliveredError) Error() string {
	msg := "reestr: " + events(e.Rejected+e.Dropped) + " not delivered:"
	if e.Rejected > 0 {
		msg += " " + strconv.Itoa(e.Rejected) + " rejected (first: " + e.RejectedReason + ")"
	}
	if e.Dropped > 0 {
		if e.Rejected > 0 {
			msg += ","
		}
		msg += " " + strconv.Itoa(e.Dropped) + " dropped (first: " + e.DroppedReason + ")"
	}
	return msg
}

func events(n int) string {
	if n == 1 {
		return "1 event"
	}
	return strconv.Itoa(n) + " events"
}

// lossLogInterval is the least time between two log lines about lost events
// of one kind (rejected, dropped): a collector refusing thousands of events
// a second makes one line every 10 s, with the count of the others.
const lossLogInterval = 10 * time.Second

// lossLog tells of lost events: a warning per kind at most every
// lossLogInterval, and the counts Flush and Close return. Safe for
// concurrent use (Send reports refused events from its caller).
type lossLog struct {
	logger *slog.Logger // nil: slog.Default() at the time of the line
	now    func() time.Time

	mu      sync.Mutex
	kinds   [2]lossKind // rejected, dropped
	pending UndeliveredError
}

type lossKind struct {
	logged     bool
	last       time.Time // when the last line was written
	suppressed int       // losses since then, not logged
}

// event records one lost event and logs it unless a line of its kind was
// written less than lossLogInterval ago.
func (l *lossLog) event(ref eventRef, outcome Outcome, reason string) {
	now := l.now()
	l.mu.Lock()
	var k *lossKind
	if outcome == Rejected {
		k = &l.kinds[0]
		if l.pending.Rejected == 0 {
			l.pending.RejectedReason = reason
		}
		l.pending.Rejected++
	} else {
		k = &l.kinds[1]
		if l.pending.Dropped == 0 {
			l.pending.DroppedReason = reason
		}
		l.pending.Dropped++
	}
	if k.logged && now.Sub(k.last) < lossLogInterval {
		k.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := k.suppressed
	k.logged, k.last, k.suppressed = true, now, 0
	l.mu.Unlock()

	attrs := []any{"event", ref.name, "version", ref.version, "uuid", ref.uuid, "reason", reason}
	if suppressed > 0 {
		attrs = append(attrs, "not_logged_since_last_line", suppressed)
	}
	logger := l.logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.Warn("reestr: event "+string(outcome), attrs...)
}

// take returns the losses since the last take as an *UndeliveredError, or
// nil when there were none.
func (l *lossLog) take() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pending.Rejected == 0 && l.pending.Dropped == 0 {
		return nil
	}
	e := l.pending
	l.pending = UndeliveredError{}
	return &e
}
