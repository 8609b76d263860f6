// Package hresult holds the BITS error model: HRESULT codes, error contexts,
// their messages, and the Error value that carries them from a transport up to
// a front end. It is a leaf package so that transports can return BITS errors
// without importing the engine.
package hresult

import (
	"errors"
	"fmt"
	"time"
)

// Code is a Windows HRESULT. BITS codes live in facility 0x20, HTTP statuses
// in facility 0x19 (0x80190000 + status), Win32 errors in 0x8007xxxx.
type Code uint32

// Context says where an error happened (BG_ERROR_CONTEXT).
type Context int

const (
	ContextNone                     Context = 0
	ContextUnknown                  Context = 1
	ContextGeneralQueueManager      Context = 2
	ContextQueueManagerNotification Context = 3
	ContextLocalFile                Context = 4
	ContextRemoteFile               Context = 5
	ContextGeneralTransport         Context = 6
	ContextRemoteApplication        Context = 7
	ContextServerCertificate        Context = 8
)

// Error is a BITS error: a code, where it happened, a description and
// whether retrying can help (TRANSIENT_ERROR) or not (ERROR).
type Error struct {
	Code      Code
	Context   Context
	Msg       string // detail for logs and the worker log; may be empty
	Transient bool
	// RetryAfter is the server's Retry-After, if it sent one: the job waits
	// at least this long, and at least its minimum retry delay.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("0x%08x: %s", uint32(e.Code), e.Msg)
	}
	return fmt.Sprintf("0x%08x: %s", uint32(e.Code), e.Code.Message())
}

// Text is an error as the front ends print it: the description, the
// detail when it says more, and the code, as in
// `The requested job was not found. (no job named "x") [0x80200001]`.
func Text(description, detail string, c Code) string {
	s := description
	if detail != "" && detail != description {
		s += " (" + detail + ")"
	}
	return s + fmt.Sprintf(" [0x%08X]", uint32(c))
}

// Text is e as the front ends print it.
func (e *Error) Text() string { return Text(e.Code.Message(), e.Msg, e.Code) }

// Fatal returns an error that sends a job to ERROR.
func Fatal(c Code, ctx Context, format string, args ...any) *Error {
	return &Error{Code: c, Context: ctx, Msg: fmt.Sprintf(format, args...)}
}

// Transient returns an error that sends a job to TRANSIENT_ERROR.
func Transient(c Code, ctx Context, format string, args ...any) *Error {
	return &Error{Code: c, Context: ctx, Msg: fmt.Sprintf(format, args...), Transient: true}
}

// From extracts the *Error in err's chain. Errors that carry no code become
// BG_E_UNKNOWN_ERROR-like transient errors in the general transport context,
// since an unclassified failure is more often a passing fault than a final one.
func From(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: E_FAIL, Context: ContextUnknown, Msg: err.Error(), Transient: true}
}

// Is reports whether err carries code c.
func Is(err error, c Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == c
}

// HTTP maps an HTTP status to its BG_E_HTTP_ERROR_nnn code.
func HTTP(status int) Code { return Code(0x80190000 + uint32(status)) }

// HTTPStatus returns the status inside a BG_E_HTTP_ERROR code, or 0.
func (c Code) HTTPStatus() int {
	if c&0xFFFF0000 == 0x80190000 && c&0xFFFF < 1000 {
		return int(c & 0xFFFF)
	}
	return 0
}

// HTTPTransient says whether an HTTP status is worth retrying, by the
// classification BITS documents for its upload notifications: 3xx transient
// except 300-305 and 307; 4xx fatal except 408 and 409; 5xx transient except
// 501 and 505; anything else transient. 429 is retried too: it asks for it.
func HTTPTransient(status int) bool {
	switch {
	case status >= 300 && status < 400:
		return !(status <= 305 || status == 307)
	case status >= 400 && status < 500:
		return status == 408 || status == 409 || status == 429
	case status >= 500 && status < 600:
		return status != 501 && status != 505
	}
	return true
}

//go:generate go run gennames.go

// Name is the code's Windows name (BG_E_NOT_FOUND); an HTTP status
// without a constant of its own is BG_E_HTTP_ERROR_404, as in the BITS
// headers, and any other code HRESULT_80004005.
func (c Code) Name() string {
	if n, ok := names[c]; ok {
		return n
	}
	if s := c.HTTPStatus(); s != 0 {
		return fmt.Sprintf("BG_E_HTTP_ERROR_%d", s)
	}
	return fmt.Sprintf("HRESULT_%08X", uint32(c))
}

// Message returns the description printed by bitsadmin after the code.
func (c Code) Message() string {
	if m, ok := messages[c]; ok {
		return m
	}
	if s := c.HTTPStatus(); s != 0 {
		return fmt.Sprintf("HTTP status %d: %s", s, httpReason(s))
	}
	return "Unknown error."
}

// Message returns the description of an error context.
func (c Context) Message() string {
	if m, ok := contextMessages[c]; ok {
		return m
	}
	return "The error occurred in an unknown location."
}
