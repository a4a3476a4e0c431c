package reestr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Sender. Zero numbers and durations take the defaults
// of docs/langpacks.md.
type Config struct {
	// CollectorURL is the collector's base URL; events are posted to
	// CollectorURL + "/v1/events".
	CollectorURL string
	// Source is the source name every event carries.
	Source string
	// Environment is the environment every event carries; generated
	// langpacks fill it in.
	Environment string

	// BatchSize is the most events in one request (default 500).
	BatchSize int
	// MaxBatchBytes is the largest request body (default 1 MiB, well under
	// the collector's 16 MiB max_body_bytes): a batch is closed before an
	// event would take it over, and an event too large for a batch of its
	// own is rejected at once (Send returns ErrTooLarge).
	MaxBatchBytes int
	// QueueCapacity bounds the events queued and not yet finished (default
	// 10,000); beyond it Send drops the event.
	QueueCapacity int
	// MaxAttempts is the number of tries per batch before its events are
	// dropped (default 5).
	MaxAttempts int

	// BatchAge is the longest a queued event waits for its batch to fill
	// (default 1 s).
	BatchAge time.Duration
	// BackoffBase is the wait before the first retry, doubling for each
	// further one (default 100 ms).
	BackoffBase time.Duration
	// BackoffMax caps the backoff (default 10 s).
	BackoffMax time.Duration
	// RequestTimeout limits each request (default 10 s).
	RequestTimeout time.Duration

	// OnResult, if set, receives every event's outcome. It is called from
	// the sender's goroutine, one call at a time, except for the events Send
	// refuses (queue full, closed): those are reported from Send's caller
	// before Send returns. It should not block for long, and must not call
	// Flush or Close, which wait for the goroutine it runs on.
	OnResult func(Result)
	// HTTPClient, if set, makes the requests; its own Timeout, if any,
	// applies on top of RequestTimeout.
	HTTPClient *http.Client
	// Logger receives a warning for each kind of loss (an event rejected,
	// an event dropped), at most one line per kind every 10 s with a count
	// of the ones not logged; nil means slog.Default(). To silence it, give
	// a logger whose handler discards.
	Logger *slog.Logger
	// Key is the collector's write key for Source (docs/security.md),
	// sent as "Authorization: Bearer KEY" with every request. Empty means
	// $REESTR_KEY; with neither, no key is sent (a collector run with
	// --insecure-local). Keep it out of code: give it from configuration or
	// the environment. A key the collector refuses (401, or 403 for the
	// whole request) drops the batch at once, not retried; an event of a
	// source the key may not write is rejected by itself (403 in its
	// result). The key never appears in a Result's Reason or a log line,
	// nor in the Config's String.
	Key string
	// AgentSocket, if set (or $REESTR_AGENT_SOCKET), is the local agent's
	// Unix socket: batches go to the agent, which keeps them on disk and
	// forwards them (docs/delivery.md); CollectorURL may then be empty.
	AgentSocket string
}

// Defaults of docs/langpacks.md.
const (
	defaultBatchSize      = 500
	defaultMaxBatchBytes  = 1 << 20
	defaultQueueCapacity  = 10000
	defaultMaxAttempts    = 5
	defaultBatchAge       = time.Second
	defaultBackoffBase    = 100 * time.Millisecond
	defaultBackoffMax     = 10 * time.Second
	defaultRequestTimeout = 10 * time.Second
)

// Outcome is how an event's sending ended.
type Outcome string

// The three outcomes of docs/langpacks.md.
const (
	// Delivered: the collector stored the event, or already had it.
	Delivered Outcome = "delivered"
	// Rejected: the collector refused the event; Result.Reason says why.
	Rejected Outcome = "rejected"
	// Dropped: the event never got there; Result.Reason says why.
	Dropped Outcome = "dropped"
)

// Result is one event's outcome, given to Config.OnResult.
type Result struct {
	UUID    string
	Event   string
	Version int
	Outcome Outcome
	Reason  string // empty when delivered
}

// Stats are a Sender's counters since it was made.
type Stats struct {
	Queued           uint64 // events Send accepted
	Delivered        uint64 // events accepted or duplicate at the collector
	Rejected         uint64 // events the collector refused
	Dropped          uint64 // events that never got there, whatever the reason
	DroppedQueueFull uint64 // of Dropped, those refused by a full queue
	Retries          uint64 // requests that were retries of a batch
	Requests         uint64 // requests made
}

// Sender queues events and posts them to the collector in batches from one
// background goroutine. Its methods are safe for concurrent use.
type Sender struct {
	cfg      Config
	endpoint string
	auth     string // "Bearer KEY", or empty when no key is sent
	losses   lossLog
	client   *http.Client
	agent    *agentConn // when Config.AgentSocket is set

	// stop is cancelled when Close gives up waiting: it aborts the request
	// and backoff in progress so that the goroutine can finish.
	stop       context.Context
	cancelStop context.CancelFunc
	done       chan struct{} // closed when the goroutine has returned
	wake       chan struct{} // buffered 1: there is work for the goroutine

	closed atomic.Bool // set under mu; read without it as a fast path

	mu       sync.Mutex
	cur      *batch        // the batch being filled, nil when none
	ready    []*batch      // sealed batches, oldest first
	free     []*batch      // finished batches kept for reuse
	bodyHint int           // the size of the largest batch body so far
	pending  int           // events queued and not yet finished
	sealed   uint64        // sequence number of the last sealed batch
	finished uint64        // sequence number of the last finished batch
	progress chan struct{} // closed and replaced when a batch finishes

	queued, delivered, rejected, dropped, droppedQueueFull, retries, requests atomic.Uint64

	// Used by the sender's goroutine only, reused from request to request.
	response bytes.Buffer
	answer   answer
	part     []byte // the body of part of a batch being split
}

// batch is a request body being built and the events it holds. Each event is
// encoded once, straight into the body, and a retry resends these bytes.
type batch struct {
	seq    uint64
	body   []byte // `{"events":[` + events joined by ',' + `]}` once sealed
	events []eventRef
	ends   []int     // where each event's bytes end in body, to split it
	first  time.Time // when the first event was queued
}

// part returns the body of events [i, j) of a sealed batch, built in dst.
func (b *batch) part(i, j int, dst []byte) []byte {
	start := len(batchHead)
	if i > 0 {
		start = b.ends[i-1] + 1 // after the comma
	}
	dst = append(dst[:0], batchHead...)
	dst = append(dst, b.body[start:b.ends[j-1]]...)
	return append(dst, ']', '}')
}

// eventRef is what is left of an event after encoding: what its Result
// names.
type eventRef struct {
	uuid    string
	name    string
	version int
}

const batchHead = `{"events":[`

// batchOverhead is what a body holds besides its events and the commas
// between them: the head and the closing `]}`.
const batchOverhead = len(batchHead) + len("]}")

// maxFreeBatches is how many finished batches are kept for reuse: enough for
// the one being filled and the one being sent to swap without allocating.
const maxFreeBatches = 4

// scratch holds encoding buffers, so that Send encodes outside the lock
// without allocating.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// NewSender checks cfg, fills in the defaults and starts the sender's
// goroutine; Close stops it.
func NewSender(cfg Config) (*Sender, error) {
	if cfg.AgentSocket == "" {
		cfg.AgentSocket = os.Getenv("REESTR_AGENT_SOCKET")
	}
	if u, err := url.Parse(cfg.CollectorURL); cfg.AgentSocket == "" &&
		(err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		return nil, fmt.Errorf("reestr: CollectorURL %q is not an http(s) URL", cfg.CollectorURL)
	}
	if cfg.Key == "" {
		cfg.Key = os.Getenv("REESTR_KEY")
	}
	if strings.ContainsFunc(cfg.Key, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		// not printed: the message must not carry the key
		return nil, errors.New("reestr: the key (Config.Key or $REESTR_KEY) holds a space or a control character")
	}
	if cfg.Source == "" {
		return nil, errors.New("reestr: Config.Source is empty")
	}
	if cfg.Environment == "" {
		return nil, errors.New("reestr: Config.Environment is empty")
	}
	if cfg.BatchSize < 0 || cfg.MaxBatchBytes < 0 || cfg.QueueCapacity < 0 || cfg.MaxAttempts < 0 ||
		cfg.BatchAge < 0 || cfg.BackoffBase < 0 || cfg.BackoffMax < 0 || cfg.RequestTimeout < 0 {
		return nil, errors.New("reestr: Config has a negative size or duration")
	}
	setDefault(&cfg.BatchSize, defaultBatchSize)
	setDefault(&cfg.MaxBatchBytes, defaultMaxBatchBytes)
	setDefault(&cfg.QueueCapacity, defaultQueueCapacity)
	setDefault(&cfg.MaxAttempts, defaultMaxAttempts)
	setDefault(&cfg.BatchAge, defaultBatchAge)
	setDefault(&cfg.BackoffBase, defaultBackoffBase)
	setDefault(&cfg.BackoffMax, defaultBackoffMax)
	setDefault(&cfg.RequestTimeout, defaultRequestTimeout)
	if cfg.BackoffMax < cfg.BackoffBase {
		cfg.BackoffMax = cfg.BackoffBase
	}

	s := &Sender{
		cfg:      cfg,
		endpoint: strings.TrimRight(cfg.CollectorURL, "/") + "/v1/events",
		client:   cfg.HTTPClient,
		done:     make(chan struct{}),
		wake:     make(chan struct{}, 1),
		progress: make(chan struct{}),
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if cfg.Key != "" {
		s.auth = "Bearer " + cfg.Key
	}
	s.losses.logger = cfg.Logger
	s.losses.now = time.Now
	if cfg.AgentSocket != "" {
		s.agent = &agentConn{path: cfg.AgentSocket}
	}
	s.stop, s.cancelStop = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Send validates e, encodes it and queues it; it never waits for the
// network. It returns the *FieldError of a failed check (the event is not
// sent and not reported), ErrQueueFull or ErrClosed (the event is dropped and
// reported to OnResult), ErrTooLarge (the event is rejected and reported), or
// nil.
func (s *Sender) Send(e Event) error {
	if err := e.Validate(); err != nil {
		return err
	}
	b := e.base()
	ref := eventRef{uuid: b.uuid, name: e.EventName(), version: e.EventVersion()}
	if s.closed.Load() {
		s.refuse(ref, "sender closed")
		return ErrClosed
	}

	bufp := scratch.Get().(*[]byte)
	buf := AppendEvent((*bufp)[:0], e, s.cfg.Environment, s.cfg.Source)

	s.mu.Lock()
	var err error
	switch {
	case s.closed.Load():
		err = ErrClosed
	case batchOverhead+len(buf) > s.cfg.MaxBatchBytes:
		err = ErrTooLarge
	case s.pending >= s.cfg.QueueCapacity:
		err = ErrQueueFull
	default:
		s.enqueue(buf, ref)
	}
	s.mu.Unlock()

	if cap(buf) <= 64*1024 { // a rare huge event's buffer is not kept
		*bufp = buf
		scratch.Put(bufp)
	}
	switch err {
	case ErrTooLarge:
		s.rejected.Add(1)
		s.report(ref, Rejected, fmt.Sprintf("event is %d bytes encoded: a batch of it alone would be %d bytes, more than max_batch_bytes %d",
			len(buf), batchOverhead+len(buf), s.cfg.MaxBatchBytes))
	case ErrClosed:
		s.refuse(ref, "sender closed")
	case ErrQueueFull:
		s.droppedQueueFull.Add(1)
		s.refuse(ref, "queue full")
	}
	return err
}

// enqueue appends an encoded event to the current batch, sealing the batch
// when it is full. s.mu is held.
func (s *Sender) enqueue(event []byte, ref eventRef) {
	b := s.cur
	if b != nil && len(b.events) > 0 && len(b.body)+1+len(event)+len("]}") > s.cfg.MaxBatchBytes {
		s.seal() // full by bytes
		b = nil
	}
	if b == nil {
		b = s.newBatch()
		s.cur = b
	}
	if len(b.events) == 0 {
		// The goroutine starts the batch-age clock from here.
		b.first = time.Now()
		s.signal()
	} else {
		b.body = append(b.body, ',')
	}
	b.body = append(b.body, event...)
	b.events = append(b.events, ref)
	b.ends = append(b.ends, len(b.body))
	s.pending++
	s.queued.Add(1)
	if len(b.events) >= s.cfg.BatchSize {
		s.seal()
	}
}

// newBatch returns an empty batch, reusing a finished one when there is one.
// s.mu is held.
func (s *Sender) newBatch() *batch {
	if n := len(s.free); n > 0 {
		b := s.free[n-1]
		s.free = s.free[:n-1]
		return b
	}
	// Sized like the largest batch so far, so that filling it does not
	// copy the body again and again as it grows.
	size := min(max(s.bodyHint, 16*1024), s.cfg.MaxBatchBytes)
	n := min(s.cfg.BatchSize, size/64)
	return &batch{
		body:   append(make([]byte, 0, size), batchHead...),
		events: make([]eventRef, 0, n),
		ends:   make([]int, 0, n),
	}
}

// seal closes the current batch and hands it to the goroutine. s.mu is held.
func (s *Sender) seal() {
	b := s.cur
	if b == nil || len(b.events) == 0 {
		return
	}
	s.cur = nil
	b.body = append(b.body, ']', '}')
	s.bodyHint = max(s.bodyHint, len(b.body))
	s.sealed++
	b.seq = s.sealed
	s.ready = append(s.ready, b)
	s.signal()
}

// signal wakes the goroutine without blocking.
func (s *Sender) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// refuse reports an event Send did not queue.
func (s *Sender) refuse(ref eventRef, reason string) {
	s.dropped.Add(1)
	s.report(ref, Dropped, reason)
}

func (s *Sender) report(ref eventRef, outcome Outcome, reason string) {
	reason = redactKey(reason, s.cfg.Key)
	if outcome != Delivered {
		s.losses.event(ref, outcome, reason)
	}
	if s.cfg.OnResult != nil {
		s.cfg.OnResult(Result{UUID: ref.uuid, Event: ref.name, Version: ref.version, Outcome: outcome, Reason: reason})
	}
}

// Flush sends every event queued so far, without waiting for the batch age,
// and waits until each has its outcome or ctx is done. It returns ctx's
// error if ctx is done first; otherwise an *UndeliveredError when events
// finished undelivered (rejected or dropped) since the previous Flush or
// Close, each reported once; otherwise nil.
func (s *Sender) Flush(ctx context.Context) error {
	s.mu.Lock()
	s.seal()
	target := s.sealed
	for s.finished < target {
		ch := s.progress
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
	}
	s.mu.Unlock()
	return s.losses.take()
}

// Close refuses further events, delivers what is queued and stops the
// sender's goroutine. If ctx is done first, the request in progress is
// abandoned, every event not yet finished is dropped with the reason "sender
// closed before delivery", and ctx's error is returned once the goroutine
// has stopped. Like Flush, it returns an *UndeliveredError (joined with
// ctx's error, if any) when events finished undelivered since the previous
// Flush or Close. Close may be called more than once.
func (s *Sender) Close(ctx context.Context) error {
	s.mu.Lock()
	s.closed.Store(true)
	s.seal()
	s.signal()
	s.mu.Unlock()

	var ctxErr error
	select {
	case <-s.done:
	case <-ctx.Done():
		s.cancelStop()
		<-s.done
		ctxErr = ctx.Err()
	}
	if lost := s.losses.take(); lost != nil {
		return errors.Join(ctxErr, lost)
	}
	return ctxErr
}

// Stats returns the sender's counters.
func (s *Sender) Stats() Stats {
	return Stats{
		Queued:           s.queued.Load(),
		Delivered:        s.delivered.Load(),
		Rejected:         s.rejected.Load(),
		Dropped:          s.dropped.Load(),
		DroppedQueueFull: s.droppedQueueFull.Load(),
		Retries:          s.retries.Load(),
		Requests:         s.requests.Load(),
	}
}

// run is the sender's goroutine: it seals the current batch once its first
// event is BatchAge old, delivers sealed batches one at a time, oldest first,
// and returns once Close was called and nothing is left.
func (s *Sender) run() {
	defer close(s.done)
	for {
		s.mu.Lock()
		wait := time.Duration(-1) // no timer: only a signal wakes us
		if len(s.ready) == 0 && s.cur != nil && len(s.cur.events) > 0 {
			if age := time.Since(s.cur.first); age >= s.cfg.BatchAge {
				s.seal()
			} else {
				wait = s.cfg.BatchAge - age
			}
		}
		var b *batch
		if len(s.ready) > 0 {
			b = s.ready[0]
			s.ready[0] = nil
			s.ready = s.ready[1:]
		}
		closing := s.closed.Load()
		s.mu.Unlock()

		if b != nil {
			s.deliver(b)
			s.finish(b)
			continue
		}
		if closing && wait < 0 {
			return // Close sealed the last batch, so nothing is left
		}
		if wait < 0 {
			<-s.wake
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-s.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// finish releases a delivered batch's queue places and wakes Flush.
func (s *Sender) finish(b *batch) {
	s.mu.Lock()
	s.pending -= len(b.events)
	s.finished = b.seq
	close(s.progress)
	s.progress = make(chan struct{})
	if len(s.free) < maxFreeBatches {
		b.body = append(b.body[:0], batchHead...)
		clear(b.events) // let the UUID strings go
		b.events = b.events[:0]
		b.ends = b.ends[:0]
		s.free = append(s.free, b)
	}
	s.mu.Unlock()
}

// redactKey removes the key, and its secret part on its own, from text (a
// collector's message, an error) before it reaches a Result or a log.
func redactKey(text, key string) string {
	if key == "" || text == "" {
		return text
	}
	text = strings.ReplaceAll(text, key, "[key redacted]")
	if i := strings.LastIndexByte(key, '_'); i >= 0 && len(key)-i-1 >= 16 {
		text = strings.ReplaceAll(text, key[i+1:], "[key redacted]")
	}
	return text
}

// String shows the Config with its Key redacted, so that printing a Config
// (%v, %+v, %s) does not print the key.
func (c Config) String() string {
	key := ""
	if c.Key != "" {
		key = "[redacted]"
	}
	return fmt.Sprintf("reestr.Config{CollectorURL:%q Source:%q Environment:%q Key:%q AgentSocket:%q}",
		c.CollectorURL, c.Source, c.Environment, key, c.AgentSocket)
}

// GoString is String, for %#v.
func (c Config) GoString() string { return c.String() }
