package reestr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryAfter caps the wait a collector's Retry-After can ask for.
const maxRetryAfter = 60 * time.Second

// maxResponse bounds how much of an answer is read: one result per event is
// small, and a misbehaving server must not make us buffer without limit.
const maxResponse = 16 << 20

// attemptError is a failed try at posting a batch.
type attemptError struct {
	msg        string
	status     int           // the collector's HTTP status, 0 when none came
	retry      bool          // worth trying again (network, timeout, 408, 429, 5xx)
	retryAfter time.Duration // the collector's Retry-After, 0 if none
}

// splitsBatch tells whether the collector refused a whole request for what
// some event in it holds (400: a limit the event breaks, 413: the body too
// large): the batch is split to find that event, the others are delivered.
func splitsBatch(status int) bool {
	return status == http.StatusBadRequest || status == http.StatusRequestEntityTooLarge
}

func (e *attemptError) Error() string { return e.msg }

// answer is the collector's 200 response (docs/collector.md).
type answer struct {
	Results []result `json:"results"`
}

// result is the collector's answer for one event.
type result struct {
	Status string `json:"status"`
	Error  string `json:"error"`
}

// deliver posts b and reports each event's outcome.
func (s *Sender) deliver(b *batch) {
	s.deliverPart(b, 0, len(b.events))
}

// deliverPart posts events [i, j) of b until the collector answers them, a
// try fails for good, or MaxAttempts tries have failed, and reports each
// event's outcome. Every try sends the same bytes, so a retried event keeps
// its UUID and the store keeps it once. A part the collector refuses whole
// with 400 or 413 is split in halves, each delivered on its own, down to the
// single events it refuses: those alone are rejected.
func (s *Sender) deliverPart(b *batch, i, j int) {
	refs := b.events[i:j]
	body := b.body
	if i > 0 || j < len(b.events) {
		// Built once per part: its tries resend these bytes. The buffer is
		// free again once the part is answered, before its halves are built.
		s.part = b.part(i, j, s.part)
		body = s.part
	}
	for attempt := 1; ; attempt++ {
		if s.stop.Err() != nil {
			s.dropAll(refs, "sender closed before delivery")
			return
		}
		if attempt > 1 {
			s.retries.Add(1)
		}
		s.requests.Add(1)
		ans, err := s.post(body, len(refs))
		if err == nil {
			if len(ans.Results) == len(refs) {
				s.reportAll(refs, ans)
				return
			}
			// A 200 we cannot match to our events: treat it as a failed
			// try; a resend is safe, the store de-duplicates.
			err = &attemptError{
				msg:   fmt.Sprintf("collector answered %d results for %d events", len(ans.Results), len(refs)),
				retry: true,
			}
		}
		var ae *attemptError
		if !errors.As(err, &ae) {
			ae = &attemptError{msg: err.Error(), retry: true}
		}
		if s.stop.Err() != nil {
			continue // Close gave up waiting: dropped at the top
		}
		if splitsBatch(ae.status) {
			if len(refs) > 1 {
				mid := i + len(refs)/2
				s.deliverPart(b, i, mid)
				s.deliverPart(b, mid, j)
				return
			}
			s.rejected.Add(1)
			s.report(refs[0], Rejected, "collector refused the event: "+ae.msg)
			return
		}
		if !ae.retry && strings.HasPrefix(ae.msg, keyRefused) {
			s.dropAll(refs, ae.msg)
			return
		}
		if !ae.retry {
			s.dropAll(refs, "collector refused the batch: "+ae.msg)
			return
		}
		if attempt >= s.cfg.MaxAttempts {
			s.dropAll(refs, fmt.Sprintf("gave up after %d attempts: %s", attempt, ae.msg))
			return
		}
		wait := s.backoff(attempt)
		if ae.retryAfter > wait {
			wait = ae.retryAfter
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.stop.Done():
			t.Stop()
		}
	}
}

// backoff is the wait before try attempt+1: BackoffBase doubled per failed
// try, capped at BackoffMax, then a random value between half and all of it
// so that many senders failing together do not retry together.
func (s *Sender) backoff(attempt int) time.Duration {
	d := s.cfg.BackoffBase
	for i := 1; i < attempt && d < s.cfg.BackoffMax; i++ {
		d *= 2
	}
	if d > s.cfg.BackoffMax {
		d = s.cfg.BackoffMax
	}
	half := d / 2
	return half + mrand.N(d-half+1)
}

// post makes one request. It returns the parsed answer to a 200, or an
// *attemptError saying whether a retry may help.
func (s *Sender) post(body []byte, events int) (*answer, error) {
	if s.agent != nil {
		return s.agent.post(body, events, s.cfg.RequestTimeout, &s.answer)
	}
	ctx, cancel := context.WithTimeout(s.stop, s.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, &attemptError{msg: err.Error()} // a bad URL: retrying cannot help
	}
	req.Header.Set("Content-Type", "application/json")
	if s.auth != "" {
		req.Header.Set("Authorization", s.auth)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && s.stop.Err() == nil {
			return nil, &attemptError{msg: "no answer within " + s.cfg.RequestTimeout.String(), retry: true}
		}
		return nil, &attemptError{msg: err.Error(), retry: true}
	}
	defer resp.Body.Close()
	s.response.Reset()
	if _, err := s.response.ReadFrom(io.LimitReader(resp.Body, maxResponse)); err != nil {
		return nil, &attemptError{msg: "reading the answer: " + err.Error(), retry: true}
	}
	data := s.response.Bytes()

	// A 403 that answers each event (every event of the batch is of a
	// source or environment the key may not write) is read as a 200: each
	// event is rejected with its own reason.
	if resp.StatusCode == http.StatusOK ||
		(resp.StatusCode == http.StatusForbidden && hasResults(data, events)) {
		// Reuse the results slice: Unmarshal appends into its capacity, but
		// does not zero reused elements, so clear them first.
		ans := &s.answer
		if cap(ans.Results) < events {
			ans.Results = make([]result, 0, events)
		}
		clear(ans.Results[:cap(ans.Results)])
		ans.Results = ans.Results[:0]
		if err := json.Unmarshal(data, ans); err != nil {
			return nil, &attemptError{msg: "unreadable answer: " + err.Error(), retry: true}
		}
		return ans, nil
	}
	code := resp.StatusCode
	if code == http.StatusUnauthorized || code == http.StatusForbidden {
		// the key itself is refused: every request would be, so no retry
		return nil, &attemptError{msg: keyRefused + statusMessage(code, data), status: code}
	}
	return nil, &attemptError{
		msg:        statusMessage(code, data),
		status:     code,
		retry:      code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 || code < 400,
		retryAfter: retryAfter(resp.Header.Get("Retry-After")),
	}
}

// keyRefused starts the reason of events dropped because the collector
// refused the request's key (401, or 403 for the request as a whole).
const keyRefused = "collector refused the key (Config.Key or $REESTR_KEY): "

// hasResults tells whether body is an answer with one result per event.
func hasResults(body []byte, events int) bool {
	var a struct {
		Results []json.RawMessage `json:"results"`
	}
	return json.Unmarshal(body, &a) == nil && len(a.Results) == events
}

// statusMessage is "<status> <the collector's message>", the message taken
// from the body's "error" when there is one.
func statusMessage(code int, body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	msg := strconv.Itoa(code)
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		msg += " " + e.Error
	} else if t := http.StatusText(code); t != "" {
		msg += " " + t
	}
	return msg
}

// retryAfter reads a Retry-After header, in seconds (or as an HTTP date),
// capped at maxRetryAfter; 0 when absent or unreadable.
func retryAfter(h string) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(h, 64); err == nil {
		if secs > 0 {
			d = time.Duration(min(secs, maxRetryAfter.Seconds()) * float64(time.Second))
		}
	} else if t, err := http.ParseTime(h); err == nil {
		d = time.Until(t)
	}
	return min(max(d, 0), maxRetryAfter)
}

// reportAll reports the collector's answer for each event of refs.
func (s *Sender) reportAll(refs []eventRef, ans *answer) {
	for i, ref := range refs {
		switch r := ans.Results[i]; r.Status {
		case "accepted", "duplicate":
			s.delivered.Add(1)
			s.report(ref, Delivered, "")
		case "rejected":
			s.rejected.Add(1)
			s.report(ref, Rejected, r.Error)
		default:
			s.dropped.Add(1)
			s.report(ref, Dropped, "collector answered status "+strconv.Quote(r.Status))
		}
	}
}

// dropAll reports every event of refs dropped for reason.
func (s *Sender) dropAll(refs []eventRef, reason string) {
	for _, ref := range refs {
		s.dropped.Add(1)
		s.report(ref, Dropped, reason)
	}
}
