package reestr

import (
	"errors"
	"strconv"
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
