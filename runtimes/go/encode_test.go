package reestr

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// vectorsDir holds the repository's canonical-encoding vectors.
const vectorsDir = "../../tests/vectors"

type vector struct {
	Description string          `json:"description"`
	Input       json.RawMessage `json:"input"`
	Wire        string          `json:"wire"`
}

func loadVectors(t *testing.T) map[string]vector {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(vectorsDir, "*.json"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no vectors in %s: the runtime is tested inside the repository", vectorsDir)
	}
	vs := map[string]vector{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var v vector
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		vs[strings.TrimSuffix(filepath.Base(p), ".json")] = v
	}
	return vs
}

// TestVectorsClickstream builds the hand-written clickstream_event from each
// vector of event 100 and checks AppendEvent gives the vector's wire bytes.
func TestVectorsClickstream(t *testing.T) {
	vs := loadVectors(t)
	type input struct {
		EventID     int64  `json:"event_id"`
		UUID        string `json:"uuid"`
		Time        string `json:"time"`
		Environment string `json:"environment"`
		Source      string `json:"source"`
		Fields      struct {
			User struct {
				ID    int64   `json:"id"`
				Email *string `json:"email"`
			} `json:"user"`
			Geo struct {
				Latitude  float64 `json:"latitude"`
				Longitude float64 `json:"longitude"`
			} `json:"geo"`
			UserAgent string `json:"user_agent"`
		} `json:"fields"`
	}
	n := 0
	for name, v := range vs {
		var in input
		if err := json.Unmarshal(v.Input, &in); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if in.EventID != 100 {
			continue
		}
		n++
		e := newClickstreamEvent()
		e.SetEventUUID(in.UUID)
		e.SetEventTime(mustTime(in.Time))
		e.userID = in.Fields.User.ID
		if in.Fields.User.Email != nil {
			e.SetEmail(*in.Fields.User.Email)
		}
		e.latitude = in.Fields.Geo.Latitude
		e.longitude = in.Fields.Geo.Longitude
		e.userAgent = in.Fields.UserAgent
		got := string(AppendEvent(nil, e, in.Environment, in.Source))
		if got != v.Wire {
			t.Errorf("%s:\n got %s\nwant %s", name, got, v.Wire)
		}
	}
	if _, ok := vs["talk_clickstream_event"]; !ok || n < 1 {
		t.Fatal("talk_clickstream_event.json not found")
	}
}

// TestVectorsValues walks every vector's input beside its wire and checks
// that each value, written by the matching Append function, is spelled
// exactly as in the wire.
func TestVectorsValues(t *testing.T) {
	for name, v := range loadVectors(t) {
		var in any
		d := json.NewDecoder(bytes.NewReader(v.Input))
		d.UseNumber()
		if err := d.Decode(&in); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checks := 0
		walkVector(t, name, in, json.RawMessage(v.Wire), &checks)
		if checks < 7 {
			t.Errorf("%s: only %d values checked", name, checks)
		}
	}
}

func walkVector(t *testing.T, path string, in any, wire json.RawMessage, checks *int) {
	t.Helper()
	switch in := in.(type) {
	case map[string]any:
		var w map[string]json.RawMessage
		if err := json.Unmarshal(wire, &w); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for k, v := range in {
			if v == nil {
				if _, ok := w[k]; ok {
					t.Errorf("%s.%s: null should be left out", path, k)
				}
				continue
			}
			walkVector(t, path+"."+k, v, w[k], checks)
		}
	case []any:
		var w []json.RawMessage
		if err := json.Unmarshal(wire, &w); err != nil || len(w) != len(in) {
			t.Fatalf("%s: %v", path, err)
		}
		for i := range in {
			walkVector(t, path+"["+strconv.Itoa(i)+"]", in[i], w[i], checks)
		}
	case json.Number:
		*checks++
		if i, err := in.Int64(); err == nil {
			if got := string(AppendInt(nil, i)); got != string(wire) {
				t.Errorf("%s: AppendInt(%d) = %s, want %s", path, i, got, wire)
			}
		}
		f, err := in.Float64()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if math.Abs(f) < 1<<53 || strings.ContainsAny(in.String(), ".eE") {
			if got := string(AppendFloat(nil, f)); got != string(wire) {
				t.Errorf("%s: AppendFloat(%s) = %s, want %s", path, in, got, wire)
			}
		}
	case string:
		*checks++
		var got string
		if tm, err := time.Parse(time.RFC3339Nano, in); err == nil {
			got = string(AppendTime(nil, tm))
		} else if strings.HasSuffix(path, ".uuid") {
			got = string(AppendString(nil, strings.ToLower(in)))
		} else {
			got = string(AppendString(nil, in))
		}
		if got != string(wire) {
			t.Errorf("%s: got %s, want %s", path, got, wire)
		}
	case bool:
		*checks++
		if got := string(AppendBool(nil, in)); got != string(wire) {
			t.Errorf("%s: got %s, want %s", path, got, wire)
		}
	default:
		t.Fatalf("%s: unexpected %T", path, in)
	}
}

// TestAppendFloatECMAScript checks values whose ECMAScript spelling is known,
// most from RFC 8785 appendix B.
func TestAppendFloatECMAScript(t *testing.T) {
	bits := map[uint64]string{
		0x0000000000000000: "0",
		0x8000000000000000: "0",
		0x0000000000000001: "5e-324",
		0x8000000000000001: "-5e-324",
		0x7fefffffffffffff: "1.7976931348623157e+308",
		0xffefffffffffffff: "-1.7976931348623157e+308",
		0x4340000000000000: "9007199254740992",
		0xc340000000000000: "-9007199254740992",
		0x4430000000000000: "295147905179352830000",
		0x44b52d02c7e14af5: "9.999999999999997e+22",
		0x44b52d02c7e14af6: "1e+23",
		0x44b52d02c7e14af7: "1.0000000000000001e+23",
		0x444b1ae4d6e2ef4e: "999999999999999700000",
		0x444b1ae4d6e2ef4f: "999999999999999900000",
		0x444b1ae4d6e2ef50: "1e+21",
		0x3eb0c6f7a0b5ed8c: "9.999999999999997e-7",
		0x3eb0c6f7a0b5ed8d: "0.000001",
		0x41b3de4355555553: "333333333.3333332",
		0x41b3de4355555554: "333333333.33333325",
		0x41b3de4355555555: "333333333.3333333",
		0x41b3de4355555556: "333333333.3333334",
		0x41b3de4355555557: "333333333.33333343",
		0xbecbf647612f3696: "-0.0000033333333333333333",
		0x43143ff3c1cb0959: "1424953923781206.2",
	}
	for b, want := range bits {
		if got := string(AppendFloat(nil, math.Float64frombits(b))); got != want {
			t.Errorf("AppendFloat(%#016x) = %s, want %s", b, got, want)
		}
	}
	values := []struct {
		v    float64
		want string
	}{
		{1e21, "1e+21"},
		{1e-7, "1e-7"},
		{123e-20, "1.23e-18"},
		{0.1, "0.1"},
		{0.30000000000000004, "0.30000000000000004"}, // 0.1 + 0.2 at run time,
		{5e-324, "5e-324"},
		{1.7976931348623157e308, "1.7976931348623157e+308"},
		{1e20, "100000000000000000000"},
		{1.5e21, "1.5e+21"},
		{-1.5e-7, "-1.5e-7"},
		{0.000001, "0.000001"},
		{0.0000012345, "0.0000012345"},
		{100, "100"},
		{-1, "-1"},
		{20.220, "20.22"},
		{-10.11, "-10.11"},
		{123456.789, "123456.789"},
		{math.Copysign(0, -1), "0"},
		{math.NaN(), "null"},
		{math.Inf(1), "null"},
		{math.Inf(-1), "null"},
	}
	for _, c := range values {
		if got := string(AppendFloat(nil, c.v)); got != c.want {
			t.Errorf("AppendFloat(%v) = %s, want %s", c.v, got, c.want)
		}
	}
}

// TestAppendFloatRoundTrip checks random doubles read back as themselves and
// follow ECMAScript's choice between plain and exponent form.
func TestAppendFloatRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		v := math.Float64frombits(r.Uint64())
		if math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		s := string(AppendFloat(nil, v))
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || (back != v && v != 0) {
			t.Fatalf("AppendFloat(%v) = %s reads back as %v", v, s, back)
		}
		a := math.Abs(v)
		exp := strings.Contains(s, "e")
		if a != 0 && exp != (a < 1e-6 || a >= 1e21) {
			t.Fatalf("AppendFloat(%v) = %s: wrong form", v, s)
		}
	}
}

func TestAppendString(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{`q" b\`, `"q\" b\\"`},
		{"\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"\x7f", "\"\x7f\""},
		{"/ é 😀 \u2028 \u2029", "\"/ é 😀 \u2028 \u2029\""},
		{"<>&", `"<>&"`},
		{"a\xffb", "\"a\uFFFDb\""},
		{"\xe2\x82", "\"\uFFFD\uFFFD\""},
		{"\xed\xa0\x80", "\"\uFFFD\uFFFD\uFFFD\""}, // a UTF-16 surrogate
	}
	for _, c := range cases {
		if got := string(AppendString(nil, c.in)); got != c.want {
			t.Errorf("AppendString(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// FuzzAppendString checks the output is always valid JSON that reads back as
// the input, each invalid byte replaced by U+FFFD.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "abc", "\"\\\x00\x1f\x7f", "é😀\u2028", "\xff\xfe", "a\xe2\x82b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, s)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("AppendString(%q) = %s: %v", s, out, err)
		}
		if want := string([]rune(s)); back != want {
			t.Fatalf("AppendString(%q) reads back as %q", s, back)
		}
	})
}

func TestAppendTime(t *testing.T) {
	cases := []struct {
		in   time.Time
		want string
	}{
		{mustTime("2018-04-11T22:37:05+03:00"), `"2018-04-11T19:37:05.000000Z"`},
		{mustTime("2026-11-25T09:59:59.999999-00:30"), `"2026-11-25T10:29:59.999999Z"`},
		{mustTime("2026-11-25T13:00:00.123456789+01:00"), `"2026-11-25T12:00:00.123456Z"`},
		{mustTime("2026-11-25T10:00:00.5Z"), `"2026-11-25T10:00:00.500000Z"`},
		{time.Date(1, 1, 1, 0, 0, 0, 999, time.UTC), `"0001-01-01T00:00:00.000000Z"`},
		{time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC), `"1969-12-31T23:59:59.999999Z"`},
		{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), `"10000-01-01T00:00:00.000000Z"`},
	}
	for _, c := range cases {
		if got := string(AppendTime(nil, c.in)); got != c.want {
			t.Errorf("AppendTime(%v) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestAppendIntBool(t *testing.T) {
	if got := string(AppendInt(nil, math.MinInt64)); got != "-9223372036854775808" {
		t.Error(got)
	}
	if got := string(AppendBool(AppendBool(nil, true), false)); got != "truefalse" {
		t.Error(got)
	}
}

func TestFieldError(t *testing.T) {
	e := newClickstreamEvent()
	e.SetEmail(strings.Repeat("é", 300))
	err := e.Validate()
	fe, ok := err.(*FieldError)
	if !ok {
		t.Fatalf("Validate() = %v, want a *FieldError", err)
	}
	want := "clickstream_event v0: fields.user.email: 300 characters, more than max_length 254"
	if fe.Error() != want || fe.Field != "fields.user.email" || fe.Version != 0 {
		t.Errorf("got %q", fe.Error())
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	e := newClickstreamEvent()
	e.userID, e.latitude, e.longitude, e.userAgent = 413, 20.22, -10.11, "fluffy_browser"
	e.SetEmail("user413@example.com")
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = AppendEvent(buf[:0], e, "bo", "example-service")
	}
}
