// Command conformance is the Go runtime's adapter for tests/conformance:
//
//	conformance CASE_FILE COLLECTOR_URL
//
// It makes a Sender from the case's config, runs the case's steps with the
// hand-written conformance_event and prints one JSON object: what each Send
// returned, each event's result, the sender's counters and the checkpoints.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	reestr "reestr.local/runtime/go"
)

// conformanceEvent is the fixed test event of tests/conformance/README.md,
// written as reestr gen would: event id 1, version 0, one int field n, the
// 0-based index of the send across the case.
type conformanceEvent struct {
	reestr.Base
	n int64
}

func (e *conformanceEvent) EventID() int64    { return 1 }
func (e *conformanceEvent) EventVersion() int { return 0 }
func (e *conformanceEvent) EventName() string { return "conformance_event" }
func (e *conformanceEvent) Validate() error   { return nil }
func (e *conformanceEvent) AppendFields(dst []byte) []byte {
	dst = append(dst, `{"n":`...)
	dst = reestr.AppendInt(dst, e.n)
	return append(dst, '}')
}

// testCase is the part of a case file the adapter reads; "collector" and
// "expect" are for the fake collector and the harness.
type testCase struct {
	Config struct {
		BatchSize        *int    `json:"batch_size"`
		MaxBatchBytes    *int    `json:"max_batch_bytes"`
		BatchAgeMS       *int    `json:"batch_age_ms"`
		QueueCapacity    *int    `json:"queue_capacity"`
		MaxAttempts      *int    `json:"max_attempts"`
		BackoffBaseMS    *int    `json:"backoff_base_ms"`
		BackoffMaxMS     *int    `json:"backoff_max_ms"`
		RequestTimeoutMS *int    `json:"request_timeout_ms"`
		Key              *string `json:"key"`
	} `json:"config"`
	Steps []struct {
		Send       *int    `json:"send"`
		SleepMS    *int    `json:"sleep_ms"`
		Flush      bool    `json:"flush"`
		Close      bool    `json:"close"`
		Checkpoint *string `json:"checkpoint"`
	} `json:"steps"`
}

type result struct {
	N       int64  `json:"n"`
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
}

type stats struct {
	Queued           uint64 `json:"queued"`
	Delivered        uint64 `json:"delivered"`
	Rejected         uint64 `json:"rejected"`
	Dropped          uint64 `json:"dropped"`
	DroppedQueueFull uint64 `json:"dropped_queue_full"`
	Retries          uint64 `json:"retries"`
	Requests         uint64 `json:"requests"`
}

type output struct {
	SendReturns []bool         `json:"send_returns"`
	FlushOK     []bool         `json:"flush_ok"`
	Results     []result       `json:"results"`
	Stats       stats          `json:"stats"`
	Checkpoints map[string]int `json:"checkpoints"`
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: conformance CASE_FILE COLLECTOR_URL")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

func run(casePath, collectorURL string) error {
	data, err := os.ReadFile(casePath)
	if err != nil {
		return err
	}
	var c testCase
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("%s: %w", casePath, err)
	}

	// Results arrive on the sender's goroutine (or in Send, for refused
	// events), so they are kept under a lock, by the event's UUID.
	var mu sync.Mutex
	nByUUID := map[string]int64{}
	results := []result{}

	cfg := reestr.Config{
		CollectorURL: collectorURL,
		Source:       "conformance-adapter",
		Environment:  "conformance",
		OnResult: func(r reestr.Result) {
			mu.Lock()
			defer mu.Unlock()
			if n, ok := nByUUID[r.UUID]; ok {
				results[n] = result{N: n, Outcome: string(r.Outcome), Reason: r.Reason}
			}
		},
	}
	setInt(&cfg.BatchSize, c.Config.BatchSize)
	setInt(&cfg.MaxBatchBytes, c.Config.MaxBatchBytes)
	setInt(&cfg.QueueCapacity, c.Config.QueueCapacity)
	setInt(&cfg.MaxAttempts, c.Config.MaxAttempts)
	setMS(&cfg.BatchAge, c.Config.BatchAgeMS)
	setMS(&cfg.BackoffBase, c.Config.BackoffBaseMS)
	setMS(&cfg.BackoffMax, c.Config.BackoffMaxMS)
	setMS(&cfg.RequestTimeout, c.Config.RequestTimeoutMS)
	if c.Config.Key != nil {
		cfg.Key = *c.Config.Key
	}
	sender, err := reestr.NewSender(cfg)
	if err != nil {
		return err
	}

	out := output{SendReturns: []bool{}, FlushOK: []bool{}, Checkpoints: map[string]int{}}
	var next int64
	for i, step := range c.Steps {
		switch {
		case step.Send != nil:
			for k := 0; k < *step.Send; k++ {
				e := &conformanceEvent{Base: reestr.NewBase(), n: next}
				mu.Lock()
				nByUUID[e.EventUUID()] = next
				results = append(results, result{N: next, Outcome: "none"})
				mu.Unlock()
				next++
				out.SendReturns = append(out.SendReturns, sender.Send(e) == nil)
			}
		case step.SleepMS != nil:
			time.Sleep(time.Duration(*step.SleepMS) * time.Millisecond)
		case step.Flush:
			out.FlushOK = append(out.FlushOK, flushOK(sender.Flush(context.Background())))
		case step.Close:
			out.FlushOK = append(out.FlushOK, flushOK(sender.Close(context.Background())))
		case step.Checkpoint != nil:
			n, err := requestCount(collectorURL)
			if err != nil {
				return fmt.Errorf("step %d: checkpoint: %w", i, err)
			}
			out.Checkpoints[*step.Checkpoint] = n
		default:
			return fmt.Errorf("step %d: unknown step", i)
		}
	}

	st := sender.Stats()
	out.Stats = stats{
		Queued: st.Queued, Delivered: st.Delivered, Rejected: st.Rejected, Dropped: st.Dropped,
		DroppedQueueFull: st.DroppedQueueFull, Retries: st.Retries, Requests: st.Requests,
	}
	mu.Lock()
	out.Results = results
	enc, err := json.Marshal(out)
	mu.Unlock()
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(append(enc, '\n'))
	return err
}

// flushOK is true when Flush or Close said every event since the previous
// one was delivered; an error other than the *UndeliveredError that says
// otherwise is the adapter's failure.
func flushOK(err error) bool {
	var lost *reestr.UndeliveredError
	if err != nil && !errors.As(err, &lost) {
		fmt.Fprintln(os.Stderr, "conformance: flush or close:", err)
		os.Exit(1)
	}
	return err == nil
}

func setInt(dst *int, v *int) {
	if v != nil {
		*dst = *v
	}
}

func setMS(dst *time.Duration, ms *int) {
	if ms != nil {
		*dst = time.Duration(*ms) * time.Millisecond
	}
}

// requestCount asks the fake collector how many requests it has seen.
func requestCount(collectorURL string) (int, error) {
	resp, err := http.Get(strings.TrimRight(collectorURL, "/") + "/_count")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var c struct {
		Count int `json:"count"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		return 0, fmt.Errorf("GET /_count: %s: %w", body, err)
	}
	return c.Count, nil
}
