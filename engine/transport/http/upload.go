package http

import (
	"context"
	"errors"
	"io"
	nethttp "net/http"
	"strings"
	"time"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/uploadproto"
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
	a, err := t.post(ctx, r, uploadproto.PacketCreateSession, func(h nethttp.Header) {
		h.Set(uploadproto.HeaderSupportedProtocols, uploadproto.Protocol)
	}, nil)
	if err != nil {
		return "", err
	}
	if !a.ok() {
		if err := t.refusal(uploadproto.PacketCreateSession, a); err != transport.ErrSessionLost {
			return "", err
		}
		return "", badAnswer(uploadproto.PacketCreateSession, "says the session it was asked to create is unknown")
	}
	if a.ack.protocol != "" && !equalGUID(a.ack.protocol, uploadproto.Protocol) {
		return "", hresult.Fatal(hresult.BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH, hresult.ContextRemoteFile,
			"the server chose the upload protocol %q, which was not offered", a.ack.protocol)
	}
	if a.ack.session == "" {
		// Fatal: a server that answers 2xx without a session does not
		// speak the upload protocol, and will not start to.
		return "", hresult.Fatal(hresult.BG_E_INVALID_SERVER_RESPONSE, hresult.ContextRemoteFile,
			"the server's answer to Create-Session carries no usable %s%s: is the URL on a BITS upload server?",
			uploadproto.HeaderSessionID, invalidHeaders(a.ack))
	}
	k := token{size: size, id: a.ack.session}
	if a.ack.hostID != "" {
		// Windows pings the named host first; a host that cannot be
		// reached is the next packet's to find, with its fallback.
		k.host, k.fallback = a.ack.hostID, time.Duration(a.ack.hostFallback)*time.Second
		t.postSession(ctx, r, k, uploadproto.PacketPing, nil, nil)
	}
	return k.String(), nil
}

// Resume pings the server, as Windows does when it resumes, and reports
// where to go on from: the offset the server last confirmed to this
// Transport, or else recorded, the engine's record of it. It does not ask
// the server: [MC-BUP] has no packet that asks, and a fragment that claims
// bytes it does not carry is answered by lax servers as if they held them,
// which once made a 5 MB file look like a whole 30 MB one. Send's first
// fragment, real bytes from that offset, learns the truth as Windows does:
// an Ack, a 416 that names the server's offset, or an unknown session.
func (t *Transport) Resume(ctx context.Context, r *transport.Request, session string, recorded, reach int64) (int64, error) {
	if err := checkScheme(r.URL); err != nil {
		return 0, err
	}
	k, ok := parseToken(session)
	key := memoryKey(r.URL, k.id)
	if !ok || t.uploads.isLost(key) {
		return 0, transport.ErrSessionLost
	}
	a, err := t.postSession(ctx, r, k, uploadproto.PacketPing, nil, nil)
	switch {
	case err != nil:
		return 0, err
	case !a.ok():
		return 0, t.refusal(uploadproto.PacketPing, a)
	}
	// What an earlier worker sent may have reached past its record: the
	// server's word is good up to reach.
	t.uploads.sending(key, min(max(reach, recorded, 0), k.size))
	if held, ok := t.uploads.lastHeld(key); ok {
		return held, nil
	}
	return min(max(recorded, 0), k.size), nil
}

// Commit closes the session, which makes the server move the file to its
// name. For an upload-reply job (reply not nil) it first fetches the reply
// whose URL came with the last fragment's Ack, as BITS does (closing first
// would lose it); a BITS-Reply-URL on the Close-Session Ack is fetched
// after it, and the session closed again, since a server that names the
// reply then may keep the session until the reply is fetched. The reply URL
// is kept in memory: after a restart, the engine sends the last byte again,
// and the server names the reply in its answer. The reply is fetched with
// one GET; when that fails, reply may hold part of it, and the caller
// empties it before calling Commit again.
func (t *Transport) Commit(ctx context.Context, r *transport.Request, session string, reply io.Writer) error {
	if err := checkScheme(r.URL); err != nil {
		return err
	}
	k, ok := parseToken(session)
	key := memoryKey(r.URL, k.id)
	if !ok || t.uploads.isLost(key) {
		return transport.ErrSessionLost
	}
	closeSession := func() (answer, error) {
		return t.postSession(ctx, r, k, uploadproto.PacketCloseSession, func(h nethttp.Header) { h.Set(uploadproto.HeaderSessionID, k.id) }, nil)
	}
	st := t.uploads.reply(key)
	if held, _ := t.uploads.lastHeld(key); reply != nil && st.url == "" && held != k.size {
		// Closing now could lose the reply for good.
		return errors.New("upload-reply: the server's answer to the last fragment was not seen; send the last byte again, and the server names the reply")
	}
	if !st.closed {
		fetched := false
		if reply != nil && st.url != "" {
			if err := t.fetchReply(ctx, r, st.url, reply); err != nil {
				return err
			}
			fetched = true
		}
		a, err := closeSession()
		if err != nil {
			return err
		}
		if !a.ok() {
			return t.uploads.noteLost(key, t.refusal(uploadproto.PacketCloseSession, a))
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
		closeSession()
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
	k, ok := parseToken(session)
	if !ok {
		return nil
	}
	a, err := t.postSession(ctx, r, k, uploadproto.PacketCancelSession, func(h nethttp.Header) { h.Set(uploadproto.HeaderSessionID, k.id) }, nil)
	if err != nil {
		return err
	}
	if !a.ok() {
		if err := t.cancelRefusal(a); err != nil {
			return err
		}
	}
	t.uploads.ended(memoryKey(r.URL, k.id))
	return nil
}

func (t *Transport) ping(ctx context.Context, r *transport.Request) error {
	a, err := t.post(ctx, r, uploadproto.PacketPing, nil, nil)
	switch {
	case err != nil:
		return err
	case !a.ok():
		return t.refusal(uploadproto.PacketPing, a)
	}
	return nil
}

// equalGUID compares GUIDs without regard to case or braces.
func equalGUID(a, b string) bool {
	return strings.EqualFold(strings.Trim(strings.TrimSpace(a), "{}"), strings.Trim(b, "{}"))
}
