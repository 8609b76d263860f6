package server

import (
	"bits/internal/uploadproto"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"time"
)

// HRESULTs the server sends in BITS-Error-Code. They are spelled out here
// rather than taken from the engine, which this package must not import.
const (
	codeInvalidArg      uint32 = 0x80070057 // E_INVALIDARG: malformed packet
	codeAccessDenied    uint32 = 0x80070005 // E_ACCESSDENIED: refused, or uploads disabled
	codePathNotFound    uint32 = 0x80070003 // the destination's folder does not exist
	codeDiskFull        uint32 = 0x80070070 // HRESULT_FROM_WIN32(ERROR_DISK_FULL)
	codeTimeout         uint32 = 0x800705B4 // HRESULT_FROM_WIN32(ERROR_TIMEOUT)
	codeFail            uint32 = 0x80004005 // E_FAIL: anything else
	codeSessionNotFound uint32 = 0x8020001F // BG_E_SESSION_NOT_FOUND
	codeTooLarge        uint32 = 0x80200020 // BG_E_TOO_LARGE
	codeHTTPBase        uint32 = 0x80190000 // BG_E_HTTP_ERROR_xxx is this plus the status
)

// Error contexts sent in BITS-Error-Context.
const (
	contextServer      uint32 = 0x5 // BG_ERROR_CONTEXT_REMOTE_FILE: the BITS server itself
	contextApplication uint32 = 0x7 // BG_ERROR_CONTEXT_REMOTE_APPLICATION: the notified application
)

// A refusal is a failed packet as the client sees it: an Ack with a status
// and, unless code is 0, BITS-Error-Code and BITS-Error-Context.
type refusal struct {
	status  int
	code    uint32
	context uint32
	why     string // for the log, never sent
	// retryAfter, when set, is sent as Retry-After: when the client
	// should try again.
	retryAfter time.Duration
}

func (e *refusal) Error() string {
	return fmt.Sprintf("%d 0x%08x: %s", e.status, e.code, e.why)
}

func refuse(status int, code uint32, why string) *refusal {
	return &refusal{status: status, code: code, context: contextServer, why: why}
}

func badPacket(why string) *refusal { return refuse(http.StatusBadRequest, codeInvalidArg, why) }

func sessionNotFound() *refusal {
	return refuse(http.StatusInternalServerError, codeSessionNotFound, "unknown session")
}

// asRefusal turns any error of a packet handler into what the client is
// told: refusals as they are, a full disk as such, the rest as 500 E_FAIL.
func asRefusal(err error) *refusal {
	var r *refusal
	switch {
	case errors.As(err, &r):
		return r
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return refuse(http.StatusInternalServerError, codeDiskFull, err.Error())
	default:
		return refuse(http.StatusInternalServerError, codeFail, err.Error())
	}
}

// writeAck sends an Ack: every answer to BITS_POST is one, always with a
// Content-Length (0: Acks have no body).
func writeAck(w http.ResponseWriter, status int, h http.Header) {
	out := w.Header()
	for k, v := range h {
		out[k] = v
	}
	out.Set(uploadproto.HeaderPacketType, uploadproto.PacketAck)
	out.Set("Content-Length", "0")
	w.WriteHeader(status)
}

// writeRefusal sends a failed Ack, with extra headers (the session id, the
// received range) that help the client carry on.
func writeRefusal(w http.ResponseWriter, e *refusal, h http.Header) {
	if h == nil {
		h = http.Header{}
	}
	if e.code != 0 {
		h.Set(uploadproto.HeaderErrorCode, fmt.Sprintf("0x%08x", e.code))
		h.Set(uploadproto.HeaderErrorContext, fmt.Sprintf("0x%x", e.context))
	}
	if e.retryAfter > 0 {
		h.Set("Retry-After", formatSeconds(e.retryAfter+time.Second-1)) // rounded up
	}
	writeAck(w, e.status, h)
}
