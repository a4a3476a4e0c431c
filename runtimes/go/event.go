// Package reestr is the runtime of reestr's Go langpacks: the canonical
// event encoding (docs/wire-format.md), the error type of the checks made
// before an event leaves the process, and the Sender that batches events to
// the collector.
//
// Generated langpacks carry a copy of this package as <module>/reestr; it
// depends on the standard library only.
package reestr

import (
	"strings"
	"time"
)

// Base holds what every event carries besides its fields: its UUID and its
// time. Every generated event type embeds it, which is also what lets the
// type satisfy Event.
type Base struct {
	uuid string
	time time.Time
}

// NewBase returns a Base for an event happening now, with a fresh,
// time-ordered UUIDv7 taken from the same instant.
func NewBase() Base {
	now := time.Now().Round(0) // no monotonic reading: the time is data
	return Base{uuid: newUUIDv7(now), time: now}
}

// EventUUID returns the event's UUID, lowercase, 36 characters.
func (b *Base) EventUUID() string { return b.uuid }

// SetEventUUID replaces the event's UUID, for backfills and tests. It is
// stored lowercase, the canonical form; the collector checks it is a UUID.
func (b *Base) SetEventUUID(u string) { b.uuid = strings.ToLower(u) }

// EventTime returns when the event happened.
func (b *Base) EventTime() time.Time { return b.time }

// SetEventTime replaces when the event happened (it is sent in UTC,
// truncated to microseconds).
func (b *Base) SetEventTime(t time.Time) { b.time = t }

func (b *Base) base() *Base { return b }

// Event is a generated event version, what Sender.Send takes. Its unexported
// method is provided by Base, so only types embedding Base satisfy it.
type Event interface {
	// EventID returns the event's id in the registry.
	EventID() int64
	// EventVersion returns the version of the event this type is.
	EventVersion() int
	// EventName returns the event's registry name, e.g. "clickstream_event".
	EventName() string
	// Validate returns nil, or a *FieldError for the first failed check.
	Validate() error
	// AppendFields appends the canonical "fields" object, braces included.
	AppendFields(dst []byte) []byte

	base() *Base
}
