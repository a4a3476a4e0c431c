package reestr

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

var uuidV7 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestUUIDv7(t *testing.T) {
	before := time.Now().UnixMilli()
	prev := ""
	seen := map[string]bool{}
	for i := 0; i < 20000; i++ {
		b := NewBase()
		u := b.EventUUID()
		if !uuidV7.MatchString(u) {
			t.Fatalf("%q is not a lowercase UUIDv7 with variant 10", u)
		}
		if u <= prev {
			t.Fatalf("not time-ordered: %s after %s", u, prev)
		}
		if seen[u] {
			t.Fatalf("duplicate %s", u)
		}
		seen[u] = true
		prev = u
	}
	after := time.Now().UnixMilli()

	// The first 48 bits are the Unix time in milliseconds.
	ms, err := strconv.ParseInt(prev[0:8]+prev[9:13], 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	// 20,000 UUIDs may borrow a few milliseconds ahead of the clock.
	if ms < before || ms > after+10 {
		t.Errorf("timestamp %d outside [%d, %d]", ms, before, after)
	}
}

func TestUUIDTimestampMatchesEventTime(t *testing.T) {
	b := NewBase()
	ms, _ := strconv.ParseInt(b.EventUUID()[0:8]+b.EventUUID()[9:13], 16, 64)
	if d := ms - b.EventTime().UnixMilli(); d < 0 || d > 5 {
		t.Errorf("uuid time %d, event time %d", ms, b.EventTime().UnixMilli())
	}
}

func TestSetEventUUIDLowercases(t *testing.T) {
	b := NewBase()
	b.SetEventUUID("0192F0C4-8B7A-7CDE-8F00-1A2B3C4D5E6F")
	if b.EventUUID() != "0192f0c4-8b7a-7cde-8f00-1a2b3c4d5e6f" {
		t.Error(b.EventUUID())
	}
	tm := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	b.SetEventTime(tm)
	if !b.EventTime().Equal(tm) {
		t.Error(b.EventTime())
	}
}

func BenchmarkNewBase(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_ = NewBase()
	}
}
