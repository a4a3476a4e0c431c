package reestr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// answerScript is how the fake collector answers one request; the zero value
// accepts every event.
type answerScript struct {
	status     int     // default 200
	refuse     []int64 // n values that make the whole request answered status
	body       string  // for a non-200
	retryAfter string  // Retry-After header
	reject     []int64 // n values answered rejected
	duplicate  []int64 // n values answered duplicate
	delay      time.Duration
	drop       bool // close the connection without answering
}

type request struct {
	at    time.Time
	body  string
	ns    []int64
	uuids []string
}

// fakeCollector plays the collector from a script, then accepts everything.
type fakeCollector struct {
	*httptest.Server
	mu       sync.Mutex
	script   []answerScript
	requests []request
}

func newFakeCollector(t *testing.T, script ...answerScript) *fakeCollector {
	t.Helper()
	f := &fakeCollector{script: script}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeCollector) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path != "/v1/events" || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, `{"error":"wrong path or type"}`, http.StatusBadRequest)
		return
	}
	var batch struct {
		Events []struct {
			UUID   string `json:"uuid"`
			Fields struct {
				N int64 `json:"n"`
			} `json:"fields"`
		} `json:"events"`
	}
	if err := json.Unmarshal(body, &batch); err != nil {
		http.Error(w, `{"error":"bad batch"}`, http.StatusBadRequest)
		return
	}
	req := request{at: time.Now(), body: string(body)}
	for _, e := range batch.Events {
		req.ns = append(req.ns, e.Fields.N)
		req.uuids = append(req.uuids, e.UUID)
	}
	f.mu.Lock()
	f.requests = append(f.requests, req)
	var a answerScript
	if len(f.script) > 0 {
		a, f.script = f.script[0], f.script[1:]
		if len(a.refuse) > 0 {
			// a standing rule: it answers every request, not just one
			f.script = append([]answerScript{a}, f.script...)
			if !slices.ContainsFunc(req.ns, func(n int64) bool { return slices.Contains(a.refuse, n) }) {
				a = answerScript{}
			}
		}
	}
	f.mu.Unlock()

	if a.delay > 0 {
		select {
		case <-time.After(a.delay):
		case <-r.Context().Done():
			return
		}
	}
	if a.drop {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	if a.status != 0 && a.status != 200 {
		w.WriteHeader(a.status)
		if a.body == "" {
			a.body = `{"error":"scripted ` + strconv.Itoa(a.status) + `"}`
		}
		io.WriteString(w, a.body)
		return
	}
	out := `{"results":[`
	for i, n := range req.ns {
		if i > 0 {
			out += ","
		}
		switch {
		case slices.Contains(a.reject, n):
			out += `{"status":"rejected","error":"fields.n: rejected by the script"}`
		case slices.Contains(a.duplicate, n):
			out += `{"status":"duplicate"}`
		default:
			out += `{"status":"accepted"}`
		}
	}
	io.WriteString(w, out+"]}")
}

func (f *fakeCollector) seen() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

func (f *fakeCollector) sizes() []int {
	var s []int
	for _, r := range f.seen() {
		s = append(s, len(r.ns))
	}
	return s
}

// waitRequests waits until the collector has seen n requests.
func (f *fakeCollector) waitRequests(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(f.seen()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests after %v, want %d", len(f.seen()), within, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// results collects OnResult calls by the event's n.
type results struct {
	mu     sync.Mutex
	byUUID map[string]int64
	got    map[int64]Result
}

func newResults() *results {
	return &results{byUUID: map[string]int64{}, got: map[int64]Result{}}
}

func (r *results) onResult(res Result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n, ok := r.byUUID[res.UUID]
	if !ok {
		panic("result for an unknown event " + res.UUID)
	}
	if _, dup := r.got[n]; dup {
		panic("two results for one event")
	}
	r.got[n] = res
}

func (r *results) get(n int64) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.got[n]
}

// harness is a sender, its collector and its results, sending nEvents
// numbered from 0.
type harness struct {
	t   *testing.T
	c   *fakeCollector
	s   *Sender
	res *results
	n   int64
}

func newHarness(t *testing.T, cfg Config, script ...answerScript) *harness {
	t.Helper()
	h := &harness{t: t, c: newFakeCollector(t, script...), res: newResults()}
	cfg.CollectorURL = h.c.URL
	cfg.Source, cfg.Environment = "test-source", "test"
	if cfg.BackoffBase == 0 {
		cfg.BackoffBase, cfg.BackoffMax = time.Millisecond, 5*time.Millisecond
	}
	cfg.OnResult = h.res.onResult
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := NewSender(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.s = s
	t.Cleanup(func() { s.Close(context.Background()) })
	return h
}

// send sends k events and returns what each Send returned.
func (h *harness) send(k int) []error {
	var errs []error
	for i := 0; i < k; i++ {
		e := newNEvent(h.n)
		h.res.mu.Lock()
		h.res.byUUID[e.EventUUID()] = h.n
		h.res.mu.Unlock()
		h.n++
		errs = append(errs, h.s.Send(e))
	}
	return errs
}

// close closes the sender; losses are the test's to check, any other error
// fails it.
func (h *harness) close() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var lost *UndeliveredError
	if err := h.s.Close(ctx); err != nil && !errors.As(err, &lost) {
		h.t.Fatal(err)
	}
}

// expectOutcomes checks each event's outcome, by n.
func (h *harness) expectOutcomes(want ...Outcome) {
	h.t.Helper()
	for n, o := range want {
		if got := h.res.get(int64(n)); got.Outcome != o {
			h.t.Errorf("event %d: %+v, want %s", n, got, o)
		}
	}
	st := h.s.Stats()
	if total := st.Delivered + st.Rejected + st.Dropped; total != uint64(len(want)) {
		h.t.Errorf("stats account for %d events, want %d: %+v", total, len(want), st)
	}
}

func TestBatchBySize(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 3, BatchAge: time.Hour})
	h.send(7)
	h.c.waitRequests(t, 2, 2*time.Second) // full batches go without waiting
	time.Sleep(50 * time.Millisecond)
	if got := h.c.sizes(); !slices.Equal(got, []int{3, 3}) {
		t.Errorf("before close: %v", got)
	}
	h.close()
	if got := h.c.sizes(); !slices.Equal(got, []int{3, 3, 1}) {
		t.Errorf("batch sizes %v", got)
	}
	h.expectOutcomes(Delivered, Delivered, Delivered, Delivered, Delivered, Delivered, Delivered)
	if st := h.s.Stats(); st.Requests != 3 || st.Queued != 7 || st.Delivered != 7 {
		t.Errorf("%+v", st)
	}
}

func TestBatchByAge(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 100, BatchAge: 50 * time.Millisecond})
	start := time.Now()
	h.send(1)
	h.c.waitRequests(t, 1, 2*time.Second)
	if d := time.Since(start); d < 45*time.Millisecond {
		t.Errorf("sent after %v, before the batch age", d)
	}
	h.send(2)
	h.c.waitRequests(t, 2, 2*time.Second)
	h.close()
	if got := h.c.sizes(); !slices.Equal(got, []int{1, 2}) {
		t.Errorf("batch sizes %v", got)
	}
	h.expectOutcomes(Delivered, Delivered, Delivered)
}

func TestRetryOn5xxSameBytes(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 10, BatchAge: time.Hour},
		answerScript{status: 503}, answerScript{status: 500})
	h.send(2)
	h.close()
	reqs := h.c.seen()
	if len(reqs) != 3 {
		t.Fatalf("%d requests, want 3", len(reqs))
	}
	for _, r := range reqs[1:] {
		if r.body != reqs[0].body {
			t.Errorf("a retry sent other bytes:\n%s\n%s", r.body, reqs[0].body)
		}
	}
	if !slices.Equal(reqs[2].uuids, reqs[0].uuids) || len(reqs[0].uuids) != 2 {
		t.Errorf("uuids %v, %v", reqs[0].uuids, reqs[2].uuids)
	}
	h.expectOutcomes(Delivered, Delivered)
	if st := h.s.Stats(); st.Retries != 2 || st.Requests != 3 || st.Dropped != 0 {
		t.Errorf("%+v", st)
	}
}

func TestRetryOn429And408(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 10, BatchAge: time.Hour},
		answerScript{status: 429}, answerScript{status: 408})
	h.send(1)
	h.close()
	if n := len(h.c.seen()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	h.expectOutcomes(Delivered)
}

func TestNoRetryOn4xx(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 10, BatchAge: time.Hour},
		answerScript{status: 404, body: `{"error":"no route /v1/events"}`})
	h.send(2)
	h.close()
	if n := len(h.c.seen()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	h.expectOutcomes(Dropped, Dropped)
	want := "collector refused the batch: 404 no route /v1/events"
	if r := h.res.get(1); r.Reason != want {
		t.Errorf("reason %q, want %q", r.Reason, want)
	}
	if st := h.s.Stats(); st.Retries != 0 || st.Dropped != 2 {
		t.Errorf("%+v", st)
	}
}

func TestGiveUpAfterMaxAttempts(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 10, BatchAge: time.Hour, MaxAttempts: 3},
		answerScript{status: 503}, answerScript{status: 503}, answerScript{status: 503}, answerScript{status: 503})
	h.send(2)
	h.close()
	if n := len(h.c.seen()); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	h.expectOutcomes(Dropped, Dropped)
	want := "gave up after 3 attempts: 503 scripted 503"
	if r := h.res.get(0); r.Reason != want {
		t.Errorf("reason %q, want %q", r.Reason, want)
	}
	if st := h.s.Stats(); st.Retries != 2 || st.Dropped != 2 || st.Delivered != 0 {
		t.Errorf("%+v", st)
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 10, BatchAge: time.Hour},
		answerScript{status: 503, retryAfter: "1"})
	h.send(1)
	h.close()
	reqs := h.c.seen()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if gap := reqs[1].at.Sub(reqs[0].at); gap < 950*time.Millisecond {
		t.Errorf("retried after %v despite Retry-After: 1", gap)
	}
	h.expectOutcomes(Delivered)
}

func TestRetryAfterParsing(t *testing.T) {
	cases := map[string]time.Duration{
		"": 0, "x": 0, "-3": 0, "0": 0, "2": 2 * time.Second, "0.5": 500 * time.Millisecond,
		"3600": time.Minute, "Inf": time.Minute,
		time.Now().Add(time.Hour).UTC().Format(http.TimeFormat): time.Minute,
	}
	for h, want := range cases {
		if got := retryAfter(h); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestBackoff(t *testing.T) {
	s := &Sender{cfg: Config{BackoffBase: 100 * time.Millisecond, BackoffMax: 10 * time.Second}}
	for attempt, full := range map[int]time.Duration{
		1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond,
		8: 10 * time.Second, 60: 10 * time.Second,
	} {
		for i := 0; i < 100; i++ {
			if d := s.backoff(attempt); d < full/2 || d > full {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", attempt, d, full/2, full)
			}
		}
	}
}

func TestRetryOnNetworkError(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 10, BatchAge: time.Hour}, answerScript{drop: true})
	h.send(3)
	h.close()
	reqs := h.c.seen()
	if len(reqs) != 2 || !slices.Equal(reqs[0].uuids, reqs[1].uuids) {
		t.Fatalf("requests %+v", reqs)
	}
	h.expectOutcomes(Delivered, Delivered, Delivered)
	if st := h.s.Stats(); st.Retries != 1 || st.Requests != 2 {
		t.Errorf("%+v", st)
	}
}

func TestRetryOnTimeout(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 10, BatchAge: time.Hour, RequestTimeout: 100 * time.Millisecond},
		answerScript{delay: time.Second})
	h.send(1)
	h.close()
	if n := len(h.c.seen()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
	h.expectOutcomes(Delivered)
}

func TestRejectedAndDuplicate(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 10, BatchAge: time.Hour},
		answerScript{reject: []int64{1}, duplicate: []int64{2}})
	h.send(3)
	h.close()
	h.expectOutcomes(Delivered, Rejected, Delivered)
	r := h.res.get(1)
	if r.Reason != "fields.n: rejected by the script" || r.Event != "conformance_event" || r.Version != 0 {
		t.Errorf("%+v", r)
	}
	if st := h.s.Stats(); st.Delivered != 2 || st.Rejected != 1 {
		t.Errorf("%+v", st)
	}
}

func TestQueueOverflow(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 100, BatchAge: time.Hour, QueueCapacity: 5})
	errs := h.send(8)
	for i, err := range errs {
		if want := error(nil); i >= 5 {
			want = ErrQueueFull
			if err != want {
				t.Errorf("send %d: %v, want %v", i, err, want)
			}
		} else if err != nil {
			t.Errorf("send %d: %v", i, err)
		}
	}
	if r := h.res.get(7); r.Outcome != Dropped || r.Reason != "queue full" {
		t.Errorf("%+v", r)
	}
	h.close()
	if got := h.c.sizes(); !slices.Equal(got, []int{5}) {
		t.Errorf("batch sizes %v", got)
	}
	h.expectOutcomes(Delivered, Delivered, Delivered, Delivered, Delivered, Dropped, Dropped, Dropped)
	if st := h.s.Stats(); st.Queued != 5 || st.Dropped != 3 || st.DroppedQueueFull != 3 {
		t.Errorf("%+v", st)
	}
}

// TestQueueFreesAfterDelivery checks the capacity counts events not yet
// finished, so the queue takes events again once a batch is delivered.
func TestQueueFreesAfterDelivery(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 100, BatchAge: time.Hour, QueueCapacity: 3})
	if errs := h.send(3); slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
		t.Fatal(errs)
	}
	if err := h.s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if errs := h.send(3); slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
		t.Fatal(errs)
	}
	h.close()
	h.expectOutcomes(Delivered, Delivered, Delivered, Delivered, Delivered, Delivered)
}

func TestFlushThenSend(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 100, BatchAge: time.Hour})
	h.send(2)
	if err := h.s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(h.c.seen()); n != 1 {
		t.Errorf("%d requests after Flush, want 1", n)
	}
	h.expectOutcomes(Delivered, Delivered)
	if err := h.s.Flush(context.Background()); err != nil { // nothing queued
		t.Fatal(err)
	}
	h.send(1)
	h.close()
	if got := h.c.sizes(); !slices.Equal(got, []int{2, 1}) {
		t.Errorf("batch sizes %v", got)
	}
	h.expectOutcomes(Delivered, Delivered, Delivered)
}

func TestFlushContext(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 100, BatchAge: time.Hour}, answerScript{delay: time.Second})
	h.send(1)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.s.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Flush = %v, want the context's error", err)
	}
	h.close() // the batch is still delivered
	h.expectOutcomes(Delivered)
}

func TestCloseDeliversAndRefuses(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 100, BatchAge: time.Hour})
	h.send(4)
	if n := len(h.c.seen()); n != 0 {
		t.Errorf("%d requests before Close", n)
	}
	h.close()
	if got := h.c.sizes(); !slices.Equal(got, []int{4}) {
		t.Errorf("batch sizes %v", got)
	}
	if errs := h.send(1); errs[0] != ErrClosed {
		t.Errorf("Send after Close = %v", errs[0])
	}
	if r := h.res.get(4); r.Outcome != Dropped || r.Reason != "sender closed" {
		t.Errorf("%+v", r)
	}
	h.close() // twice is fine
	h.expectOutcomes(Delivered, Delivered, Delivered, Delivered, Dropped)
}

func TestCloseTimeout(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 1, BatchAge: time.Hour}, answerScript{delay: 5 * time.Second})
	h.send(3)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := h.s.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	h.expectOutcomes(Dropped, Dropped, Dropped)
	if r := h.res.get(2); !strings.HasPrefix(r.Reason, "sender closed") {
		t.Errorf("%+v", r)
	}
}

func TestValidationError(t *testing.T) {
	h := newHarness(t, Config{})
	e := newClickstreamEvent()
	e.SetEmail(strings.Repeat("x", 255))
	var fe *FieldError
	if err := h.s.Send(e); !errors.As(err, &fe) || fe.Field != "fields.user.email" {
		t.Errorf("Send = %v, want the *FieldError", err)
	}
	h.close()
	if st := h.s.Stats(); st != (Stats{}) {
		t.Errorf("an invalid event was counted: %+v", st)
	}
}

func TestNewSenderConfig(t *testing.T) {
	for _, cfg := range []Config{
		{Source: "s", Environment: "e"},
		{CollectorURL: "ftp://x", Source: "s", Environment: "e"},
		{CollectorURL: "http://x"},
		{CollectorURL: "http://x", Source: "s", Environment: "e", BatchSize: -1},
	} {
		if _, err := NewSender(cfg); err == nil {
			t.Errorf("NewSender(%+v) succeeded", cfg)
		}
	}
	s, err := NewSender(Config{CollectorURL: "http://127.0.0.1:1/", Source: "s", Environment: "e"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	c := s.cfg
	if c.BatchSize != 500 || c.QueueCapacity != 10000 || c.MaxAttempts != 5 || c.BatchAge != time.Second ||
		c.BackoffBase != 100*time.Millisecond || c.BackoffMax != 10*time.Second || c.RequestTimeout != 10*time.Second {
		t.Errorf("defaults: %+v", c)
	}
	if s.endpoint != "http://127.0.0.1:1/v1/events" {
		t.Error(s.endpoint)
	}
}

// TestConcurrentSend sends from many goroutines at once (run with -race).
func TestConcurrentSend(t *testing.T) {
	c := newFakeCollector(t)
	var mu sync.Mutex
	seen := map[string]Outcome{}
	s, err := NewSender(Config{CollectorURL: c.URL, Source: "s", Environment: "e", BatchSize: 50,
		BatchAge: 5 * time.Millisecond, OnResult: func(r Result) {
			mu.Lock()
			seen[r.UUID] = r.Outcome
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				if err := s.Send(newNEvent(int64(i))); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, r := range c.seen() {
		if len(r.ns) > 50 {
			t.Errorf("a batch of %d events", len(r.ns))
		}
		total += len(r.ns)
	}
	if total != 4000 || len(seen) != 4000 || s.Stats().Delivered != 4000 {
		t.Errorf("collector saw %d, results %d, stats %+v", total, len(seen), s.Stats())
	}
}

// BenchmarkSend measures Send of a small event; a local collector takes the
// batches, so the sender's goroutine keeps the queue from filling.
func BenchmarkSend(b *testing.B) {
	// The collector counts events rather than parsing them, so that it
	// keeps up with Send on two cores and the queue never fills.
	accepted := []byte(`{"status":"accepted"},`)
	bufs := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := bufs.Get().(*bytes.Buffer)
		defer bufs.Put(buf)
		buf.Reset()
		buf.ReadFrom(r.Body)
		n := bytes.Count(buf.Bytes(), []byte(`{"event_id":`))
		out := append([]byte(`{"results":[`), bytes.Repeat(accepted, n)...)
		out[len(out)-1] = ']'
		w.Write(append(out, '}'))
	}))
	defer srv.Close()
	// The queue-full refusals below are the bench's own way to wait: not
	// worth a warning.
	s, err := NewSender(Config{CollectorURL: srv.URL, Source: "example-service", Environment: "bo",
		QueueCapacity: 100000, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	e := newClickstreamEvent()
	e.userID, e.latitude, e.longitude, e.userAgent = 413, 20.22, -10.11, "fluffy_browser"
	e.SetEmail("user413@example.com")

	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		err := s.Send(e)
		if err == ErrQueueFull {
			// The collector fell behind (a busy machine): let it catch up
			// off the clock, so that every timed Send is a real enqueue.
			b.StopTimer()
			s.Flush(context.Background())
			b.StartTimer()
			err = s.Send(e)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	s.Close(context.Background())
}

func TestSplitOn400And413(t *testing.T) {
	for _, status := range []int{400, 413} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			h := newHarness(t, Config{BatchSize: 10, BatchAge: time.Hour},
				answerScript{status: status, refuse: []int64{2, 5}, body: `{"error":"events[0]: too deep"}`})
			h.send(6)
			h.close()
			// [0..5] → [0 1 2] → [0] ok, [1 2] → [1] ok, [2] refused;
			// [3 4 5] → [3] ok, [4 5] → [4] ok, [5] refused
			var got [][]int64
			for _, r := range h.c.seen() {
				got = append(got, r.ns)
				var parsed map[string]any
				if err := json.Unmarshal([]byte(r.body), &parsed); err != nil {
					t.Errorf("a part's body is not JSON: %v: %s", err, r.body)
				}
			}
			want := [][]int64{{0, 1, 2, 3, 4, 5}, {0, 1, 2}, {0}, {1, 2}, {1}, {2}, {3, 4, 5}, {3}, {4, 5}, {4}, {5}}
			if !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("requests %v, want %v", got, want)
			}
			h.expectOutcomes(Delivered, Delivered, Rejected, Delivered, Delivered, Rejected)
			wantReason := "collector refused the event: " + strconv.Itoa(status) + " events[0]: too deep"
			if r := h.res.get(5); r.Reason != wantReason {
				t.Errorf("reason %q, want %q", r.Reason, wantReason)
			}
		})
	}
}

func TestBatchByBytes(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 100, BatchAge: time.Hour, MaxBatchBytes: 2000})
	h.send(50)
	h.close()
	var total int
	for i, r := range h.c.seen() {
		if len(r.body) > 2000 {
			t.Errorf("request %d: %d bytes, more than MaxBatchBytes", i, len(r.body))
		}
		// full: the next request's first event did not fit
		if next := h.c.seen(); i+1 < len(next) {
			first := len(next[i+1].body) / len(next[i+1].ns) // events are all about this size
			if len(r.body)+first < 2000-16 {
				t.Errorf("request %d closed at %d bytes with room for another", i, len(r.body))
			}
		}
		total += len(r.ns)
	}
	if total != 50 || len(h.c.seen()) < 5 {
		t.Errorf("%d events in %d requests", total, len(h.c.seen()))
	}
}

func TestEventLargerThanMaxBatchBytes(t *testing.T) {
	h := newHarness(t, Config{MaxBatchBytes: 100})
	if errs := h.send(1); errs[0] != ErrTooLarge {
		t.Errorf("Send = %v, want ErrTooLarge", errs[0])
	}
	h.close()
	r := h.res.get(0)
	if r.Outcome != Rejected || !strings.Contains(r.Reason, "more than max_batch_bytes 100") {
		t.Errorf("%+v", r)
	}
	if len(h.c.seen()) != 0 {
		t.Errorf("the event was sent")
	}
}

func TestFlushAndCloseReportUndelivered(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 10, BatchAge: time.Hour},
		answerScript{reject: []int64{0}}, answerScript{status: 404})
	h.send(2)
	err := h.s.Flush(context.Background())
	var lost *UndeliveredError
	if !errors.As(err, &lost) || lost.Rejected != 1 || lost.Dropped != 0 ||
		lost.RejectedReason != "fields.n: rejected by the script" {
		t.Fatalf("Flush = %v, want 1 rejected", err)
	}
	if err := h.s.Flush(context.Background()); err != nil {
		t.Errorf("a second Flush with nothing new = %v", err)
	}
	h.send(3)
	err = h.s.Close(context.Background())
	if !errors.As(err, &lost) || lost.Dropped != 3 || !strings.Contains(lost.DroppedReason, "404") {
		t.Fatalf("Close = %v, want 3 dropped", err)
	}
	if want := "reestr: 3 events not delivered: 3 dropped (first: collector refused the batch: 404 scripted 404)"; err.Error() != want {
		t.Errorf("Close = %q, want %q", err, want)
	}
	if err := h.s.Close(context.Background()); err != nil {
		t.Errorf("Close again = %v", err)
	}
}

func TestCloseTimeoutJoinsTheLosses(t *testing.T) {
	h := newHarness(t, Config{BatchSize: 1, BatchAge: time.Hour}, answerScript{delay: 5 * time.Second})
	h.send(2)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := h.s.Close(ctx)
	var lost *UndeliveredError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &lost) || lost.Dropped != 2 {
		t.Errorf("Close = %v, want the deadline and 2 dropped", err)
	}
}

// captureHandler keeps the records a logger writes.
type captureHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (c *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (c *captureHandler) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.records = append(c.records, r)
	return nil
}
func (c *captureHandler) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *captureHandler) WithGroup(string) slog.Handler      { return c }

func (c *captureHandler) lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, r := range c.records {
		line := r.Level.String() + " " + r.Message
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "reason" || a.Key == "not_logged_since_last_line" {
				line += " " + a.Key + "=" + a.Value.String()
			}
			return true
		})
		out = append(out, line)
	}
	return out
}

func TestLossLogRateLimit(t *testing.T) {
	capture := &captureHandler{}
	now := time.Unix(1000, 0)
	l := lossLog{logger: slog.New(capture), now: func() time.Time { return now }}
	ref := eventRef{uuid: "u", name: "e", version: 0}
	l.event(ref, Dropped, "queue full")         // logged
	l.event(ref, Dropped, "queue full")         // not: within 10 s
	l.event(ref, Rejected, "fields.n: unknown") // logged: another kind
	now = now.Add(9 * time.Second)
	l.event(ref, Dropped, "gave up") // not
	l.event(ref, Rejected, "fields.n: unknown")
	now = now.Add(time.Second)
	l.event(ref, Dropped, "gave up") // logged, counting the 2 not logged
	now = now.Add(30 * time.Second)
	l.event(ref, Dropped, "gave up") // logged, nothing suppressed since
	want := []string{
		"WARN reestr: event dropped reason=queue full",
		"WARN reestr: event rejected reason=fields.n: unknown",
		"WARN reestr: event dropped reason=gave up not_logged_since_last_line=2",
		"WARN reestr: event dropped reason=gave up",
	}
	if got := capture.lines(); !slices.Equal(got, want) {
		t.Errorf("log lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	lost := l.take().(*UndeliveredError)
	if lost.Dropped != 5 || lost.Rejected != 2 || lost.DroppedReason != "queue full" {
		t.Errorf("%+v", lost)
	}
}

func TestLossesGoToTheConfiguredLogger(t *testing.T) {
	capture := &captureHandler{}
	h := newHarness(t, Config{BatchSize: 10, BatchAge: time.Hour, Logger: slog.New(capture)},
		answerScript{reject: []int64{0, 1, 2}})
	h.send(3)
	h.close()
	want := []string{"WARN reestr: event rejected reason=fields.n: rejected by the script"}
	if got := capture.lines(); !slices.Equal(got, want) {
		t.Errorf("log lines %q, want %q", got, want)
	}
}

func TestLossesGoToSlogDefaultWhenNoLoggerIsGiven(t *testing.T) {
	capture := &captureHandler{}
	old := slog.Default()
	slog.SetDefault(slog.New(capture))
	defer slog.SetDefault(old)
	s, err := NewSender(Config{CollectorURL: "http://127.0.0.1:9", Source: "s", Environment: "e"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Send(newNEvent(0)) // refused: closed
	want := []string{"WARN reestr: event dropped reason=sender closed"}
	if got := capture.lines(); !slices.Equal(got, want) {
		t.Errorf("log lines %q, want %q", got, want)
	}
}

// A Config printed (as a log line might) does not show its key, and a key
// with a control byte (a header injection) is refused without echoing it.
func TestConfigKeyNotPrinted(t *testing.T) {
	key := "rk_live_00112233aabbccdd_" + strings.Repeat("ab", 32)
	cfg := Config{CollectorURL: "http://127.0.0.1:1", Source: "s", Environment: "e", Key: key}
	for _, f := range []string{"%v", "%+v", "%s", "%#v"} {
		if out := fmt.Sprintf(f, cfg); strings.Contains(out, key) || !strings.Contains(out, "[redacted]") {
			t.Errorf("%s shows the key: %s", f, out)
		}
	}
	cfg.Key = key + "\r\nX-Evil: 1"
	_, err := NewSender(cfg)
	if err == nil || strings.Contains(err.Error(), key) {
		t.Fatalf("a key with a control byte: %v", err)
	}
}
