package http

import (
	"context"
	"io"
	nethttp "net/http"
	"strings"

	"bits/engine/hresult"
	"bits/engine/transport"
)

// Uploads speak the BITS upload protocol ([MC-BUP]): every request is a
// BITS_POST "packet" to the job's URL (Ping, Create-Session, Fragment,
// Close-Session, Cancel-Session) that the server answers with an Ack. The
// job's proxy, credentials, custom headers, client certificate and
// security flags apply as they do to downloads; its custom method does not.

var _ transport.Uploader = (*Transport)(nil)

// Begin pings the server, which opens the connection and answers any
// authentication challenge cheaply, and creates a session. The token it
// returns holds the server's session id and the upload's size (see
// sessionToken).
func (t *Transport) Begin(ctx context.Context, r *transport.Request, size int64) (string, error) {
	if err := checkScheme(r.URL); err != nil {
		return "", err
	}
	if size < 0 {
		return "", hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile, "negative upload size %d", size)
	}
	if err := t.ping(ctx, r); err != nil {
		return "", err
	}
	a, err := t.post(ctx, r, packetCreateSession, func(h nethttp.Header) {
		h.Set(hdrSupportedProtocols, uploadProtocol)
	}, nil)
	if err != nil {
		return "", err
	}
	if !a.ok() {
		if err := t.refusal(packetCreateSession, a); err != transport.ErrSessionLost {
			return "", err
		}
		return "", badAnswer(packetCreateSession, "says the session it was asked to create is unknown")
	}
	if a.ack.protocol != "" && !equalGUID(a.ack.protocol, uploadProtocol) {
		return "", hresult.Fatal(hresult.BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH, hresult.ContextRemoteFile,
			"the server chose the upload protocol %q, which was not offered", a.ack.protocol)
	}
	if a.ack.session == "" {
		// Fatal: a server that answers 2xx without a session does not
		// speak the upload protocol, and will not start to.
		return "", hresult.Fatal(hresult.BG_E_INVALID_SERVER_RESPONSE, hresult.ContextRemoteFile,
			"the server's answer to Create-Session carries no usable %s%s: is the URL on a BITS upload server?",
			hdrSessionID, invalidHeaders(a.ack))
	}
	return sessionToken(size, a.ack.session), nil
}

// Resume pings the server, as Windows does when it resumes, and asks what
// it holds with a probe: a Fragment that claims the file's last byte but
// carries none. [MC-BUP] has the server answer a fragment that does not
// start at the next byte it expects with 416 and that byte's offset, and
// an unknown session with BG_E_SESSION_NOT_FOUND. When the probe does
// start there, the server cannot store a byte it did not get and refuses
// it (400); so does, whatever it holds, a server that checks a fragment's
// length first. For such answers Resume reports the offset the server last
// confirmed to this Transport, or 0 when it knows none (after a restart):
// never more than the server holds. Send's first fragment then learns the
// true offset (a 416, or an Ack of what the server holds) and skips the
// bytes the server has by reading them from its source, not sending them.
// It also learns of a lost session that the probe could not tell, and
// Resume remembers that (in memory), as it does for sessions that were
// committed or cancelled. An answer that says the server holds the whole
// file may name the reply (upload-reply), which Commit then fetches. An
// empty upload has no byte to probe for: its session is cancelled and
// reported lost, to be begun again.
func (t *Transport) Resume(ctx context.Context, r *transport.Request, session string) (int64, error) {
	if err := checkScheme(r.URL); err != nil {
		return 0, err
	}
	size, id, ok := parseSessionToken(session)
	key := memoryKey(r.URL, id)
	if !ok || t.uploads.isLost(key) {
		return 0, transport.ErrSessionLost
	}
	if size == 0 {
		t.Cancel(ctx, r, session) // best effort: the server forgets idle sessions
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		t.uploads.ended(key)
		return 0, transport.ErrSessionLost
	}
	if err := t.ping(ctx, r); err != nil {
		return 0, err
	}
	a, err := t.probe(ctx, r, id, size)
	switch {
	case err != nil:
		return 0, t.uploads.noteLost(key, err)
	case a.ack.received > size:
		return 0, badAnswer(packetFragment, "says the server holds %d bytes of a %d-byte upload", a.ack.received, size)
	case a.ack.received < 0:
		// A 400, or an answer without an offset: Send will learn it.
		return t.uploads.lastHeld(key), nil
	}
	t.uploads.setHeld(key, a.ack.received)
	if a.ack.received == size && a.ack.replyURL != "" {
		t.uploads.setReply(key, a.ack.replyURL)
	}
	return a.ack.received, nil
}

// probe asks the server where a session stands with a Fragment that claims
// the file's last byte but carries none (see Resume). 2xx, 416 and 400 are
// answers, whether or not they carry an offset; an unknown session is
// transport.ErrSessionLost; other refusals (the server application failed,
// say) are errors.
func (t *Transport) probe(ctx context.Context, r *transport.Request, id string, size int64) (answer, error) {
	a, err := t.post(ctx, r, packetFragment, func(h nethttp.Header) {
		h.Set(hdrSessionID, id)
		h.Set("Content-Range", contentRange(size-1, size-1, size))
	}, nil)
	switch {
	case err != nil:
		return a, err
	case a.ack.errorCode == hresult.BG_E_SESSION_NOT_FOUND:
		return a, transport.ErrSessionLost
	case !a.ok() && a.status != nethttp.StatusRequestedRangeNotSatisfiable && a.status != nethttp.StatusBadRequest:
		return a, t.refusal(packetFragment, a)
	}
	return a, nil
}

// Commit closes the session, which makes the server move the file to its
// name. For an upload-reply job (reply not nil) it first fetches the reply
// whose URL came with the last fragment's Ack, as BITS does (closing first
// would lose it); a BITS-Reply-URL on the Close-Session Ack is fetched
// after it, and the session closed again, since a server that names the
// reply then may keep the session until the reply is fetched. The reply URL
// is kept in memory; when none is known (a restart lost the last Ack, or
// Send never saw it), Commit asks the server with Resume's probe, which a
// server answers as the last fragment again. The reply is fetched with one
// GET; when that fails, reply may hold part of it, and the caller empties
// it before calling Commit again.
func (t *Transport) Commit(ctx context.Context, r *transport.Request, session string, reply io.Writer) error {
	if err := checkScheme(r.URL); err != nil {
		return err
	}
	size, id, ok := parseSessionToken(session)
	key := memoryKey(r.URL, id)
	if !ok || t.uploads.isLost(key) {
		return transport.ErrSessionLost
	}
	st := t.uploads.reply(key)
	if !st.closed {
		if reply != nil && st.url == "" && size > 0 {
			a, err := t.probe(ctx, r, id, size)
			if err != nil {
				return t.uploads.noteLost(key, err)
			}
			if a.ack.received == size {
				st.url = a.ack.replyURL
			}
		}
		fetched := false
		if reply != nil && st.url != "" {
			if err := t.fetchReply(ctx, r, st.url, reply); err != nil {
				return err
			}
			fetched = true
		}
		a, err := t.post(ctx, r, packetCloseSession, func(h nethttp.Header) { h.Set(hdrSessionID, id) }, nil)
		if err != nil {
			return err
		}
		if !a.ok() {
			return t.uploads.noteLost(key, t.refusal(packetCloseSession, a))
		}
		if reply == nil || fetched || a.ack.replyURL == "" {
			t.uploads.ended(key)
			return nil
		}
		st = replyState{url: a.ack.replyURL, closed: true}
		t.uploads.closed(key, st.url)
	}
	if reply != nil {
		if err := t.fetchReply(ctx, r, st.url, reply); err != nil {
			return err
		}
		// Best effort: a server that freed the session at the first
		// Close-Session does not know it any more, which is as good.
		t.post(ctx, r, packetCloseSession, func(h nethttp.Header) { h.Set(hdrSessionID, id) }, nil)
	}
	t.uploads.ended(key)
	return nil
}

// Cancel cancels the session, which makes the server delete what it holds.
// A session the server does not know, or a token that names none, is not
// an error: there is nothing left to delete.
func (t *Transport) Cancel(ctx context.Context, r *transport.Request, session string) error {
	if err := checkScheme(r.URL); err != nil {
		return err
	}
	_, id, ok := parseSessionToken(session)
	if !ok {
		return nil
	}
	a, err := t.post(ctx, r, packetCancelSession, func(h nethttp.Header) { h.Set(hdrSessionID, id) }, nil)
	if err != nil {
		return err
	}
	if !a.ok() {
		if err := t.cancelRefusal(a); err != nil {
			return err
		}
	}
	t.uploads.ended(memoryKey(r.URL, id))
	return nil
}

func (t *Transport) ping(ctx context.Context, r *transport.Request) error {
	a, err := t.post(ctx, r, packetPing, nil, nil)
	switch {
	case err != nil:
		return err
	case !a.ok():
		return t.refusal(packetPing, a)
	}
	return nil
}

// equalGUID compares GUIDs without regard to case or braces.
func equalGUID(a, b string) bool {
	return strings.EqualFold(strings.Trim(strings.TrimSpace(a), "{}"), strings.Trim(b, "{}"))
}
