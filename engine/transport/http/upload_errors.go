package http

import (
	nethttp "net/http"
	"strconv"
	"strings"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/uploadproto"
)

// E_DISK_FULL as the upload protocol's specification writes it (the
// decimal 112 read as hex); servers that follow it send this.
const diskFullAsWritten hresult.Code = 0x80070112

// fatalServerCodes are server errors that no retry can fix, whatever the
// status that carried them.
var fatalServerCodes = map[hresult.Code]bool{
	hresult.BG_E_TOO_LARGE:                       true,
	hresult.BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH: true,
	hresult.BG_E_SERVER_EXECUTE_ENABLE:           true,
}

// refusal turns a server's refusal of a packet into an error. An unknown
// session is transport.ErrSessionLost. Otherwise the code is the server's
// BITS-Error-Code when it sent one, else BG_E_HTTP_ERROR_nnn; the context
// is REMOTE_APPLICATION when BITS-Error-Context says the server
// application failed, else REMOTE_FILE; and the status class decides
// whether retrying can help (the BITS rules: 4xx fatal but 408, 409 and
// 429; 5xx transient but 501 and 505), except for the codes that are
// fatal whatever the status.
func (t *Transport) refusal(packet string, a answer) error {
	if a.ack.errorCode == hresult.BG_E_SESSION_NOT_FOUND {
		return transport.ErrSessionLost
	}
	code := hresult.HTTP(a.status)
	if c := a.ack.errorCode; c&0x80000000 != 0 { // a failure code, not S_OK
		code = c
	}
	if code == diskFullAsWritten {
		code = hresult.E_DISK_FULL
	}
	where := hresult.ContextRemoteFile
	if a.ack.errorContext == hresult.ContextRemoteApplication {
		where = hresult.ContextRemoteApplication
	}
	e := &hresult.Error{
		Code:      code,
		Context:   where,
		Transient: hresult.HTTPTransient(a.status) && !fatalServerCodes[code],
		Msg:       "the server refused the " + packet + " packet with HTTP " + statusText(a.status),
	}
	if a.status == 429 || a.status == 503 {
		e.RetryAfter = parseRetryAfter(a.header.Get("Retry-After"), t.now())
	}
	if code != hresult.HTTP(a.status) {
		e.Msg += ": " + code.Message()
	}
	return e
}

// cancelRefusal is refusal for Cancel-Session, where a session the server
// does not know is what was wanted.
func (t *Transport) cancelRefusal(a answer) error {
	if err := t.refusal(uploadproto.PacketCancelSession, a); err != transport.ErrSessionLost {
		return err
	}
	return nil
}

// badAnswer is an answer that breaks the protocol. It is transient: one
// garbled answer may come from a passing fault between client and server,
// and a server that always answers so ends in ERROR at the job's
// no-progress timeout.
func badAnswer(packet, format string, args ...any) error {
	return hresult.Transient(hresult.BG_E_INVALID_SERVER_RESPONSE, hresult.ContextRemoteFile,
		"the server's answer to the "+packet+" packet "+format, args...)
}

// invalidHeaders names the headers an answer carried in a form that could
// not be used, for error messages.
func invalidHeaders(a ack) string {
	if len(a.invalid) == 0 {
		return ""
	}
	return " (unusable " + strings.Join(a.invalid, ", ") + ")"
}

func statusText(status int) string {
	return strings.TrimSpace(strconv.Itoa(status) + " " + nethttp.StatusText(status))
}
