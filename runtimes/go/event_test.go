package reestr

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// clickstreamEvent is written by hand as reestr gen would write
// clickstream_event v0 (tests/vectors/talk_clickstream_event.json): fields
// user{id, email?}, geo{latitude, longitude}, user_agent, in registry order.
type clickstreamEvent struct {
	Base
	userID    int64
	email     string
	hasEmail  bool
	latitude  float64
	longitude float64
	userAgent string
}

func newClickstreamEvent() *clickstreamEvent {
	return &clickstreamEvent{Base: NewBase()}
}

func (e *clickstreamEvent) EventID() int64    { return 100 }
func (e *clickstreamEvent) EventVersion() int { return 0 }
func (e *clickstreamEvent) EventName() string { return "clickstream_event" }

func (e *clickstreamEvent) SetEmail(v string) { e.email, e.hasEmail = v, true }

func (e *clickstreamEvent) Validate() error {
	if e.hasEmail {
		if n := utf8.RuneCountInString(e.email); n > 254 {
			return NewFieldError("clickstream_event", 0, "fields.user.email",
				strconv.Itoa(n)+" characters, more than max_length 254")
		}
	}
	return nil
}

func (e *clickstreamEvent) AppendFields(dst []byte) []byte {
	dst = append(dst, `{"user":{"id":`...)
	dst = AppendInt(dst, e.userID)
	if e.hasEmail {
		dst = append(dst, `,"email":`...)
		dst = AppendString(dst, e.email)
	}
	dst = append(dst, `},"geo":{"latitude":`...)
	dst = AppendFloat(dst, e.latitude)
	dst = append(dst, `,"longitude":`...)
	dst = AppendFloat(dst, e.longitude)
	dst = append(dst, `},"user_agent":`...)
	dst = AppendString(dst, e.userAgent)
	return append(dst, '}')
}

// nEvent is the smallest event: one int field n, which the fake collector
// uses to name events.
type nEvent struct {
	Base
	n int64
}

func newNEvent(n int64) *nEvent { return &nEvent{Base: NewBase(), n: n} }

func (e *nEvent) EventID() int64    { return 1 }
func (e *nEvent) EventVersion() int { return 0 }
func (e *nEvent) EventName() string { return "conformance_event" }
func (e *nEvent) Validate() error   { return nil }
func (e *nEvent) AppendFields(dst []byte) []byte {
	dst = append(dst, `{"n":`...)
	dst = AppendInt(dst, e.n)
	return append(dst, '}')
}

var _ Event = (*clickstreamEvent)(nil)
var _ Event = (*nEvent)(nil)

// mustTime parses an RFC 3339 time or panics.
func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}
