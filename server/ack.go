package server

import (
	"bits/hresult"
	"bits/internal/uploadproto"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"time"
)

// A refusal is a failed packet as the client sees it: an Ack with a status
// and, unless code is 0, BITS-Error-Code and BITS-Error-Context.
type refusal struct {
	status  int
	code    hresult.Code
	context hresult.Context
	why     string // for the log, never sent
	// retryAfter, when set, is sent as Retry-After: when the client
	// should try again.
	retryAfter time.Duration
}

func (e *refusal) Error() string {
	return fmt.Sprintf("%d 0x%08x: %s", e.status, uint32(e.code), e.why)
}

func refuse(status int, code hresult.Code, why string) *refusal {
	return &refusal{status: status, code: code, context: hresult.ContextRemoteFile, why: why}
}

func badPacket(why string) *refusal { return refuse(http.StatusBadRequest, hresult.E_INVALIDARG, why) }

func sessionNotFound() *refusal {
	return refuse(http.StatusInternalServerError, hresult.BG_E_SESSION_NOT_FOUND, "unknown session")
}

// asRefusal turns any error of a packet handler into what the client is
// told: refusals as they are, a full disk as such, the rest as 500 E_FAIL.
func asRefusal(err error) *refusal {
	var r *refusal
	switch {
	case errors.As(err, &r):
		return r
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return refuse(http.StatusInternalServerError, hresult.E_DISK_FULL, err.Error())
	default:
		return refuse(http.StatusInternalServerError, hresult.E_FAIL, err.Error())
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
		h.Set(uploadproto.HeaderErrorCode, fmt.Sprintf("0x%08x", uint32(e.code)))
		h.Set(uploadproto.HeaderErrorContext, fmt.Sprintf("0x%x", uint32(e.context)))
	}
	if e.retryAfter > 0 {
		h.Set("Retry-After", formatSeconds(e.retryAfter+time.Second-1)) // rounded up
	}
	writeAck(w, e.status, h)
}
