package server

import (
	"bits/hresult"
	"bits/internal/uploadproto"
	"bits/internal/writeback"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// bodyIdleTimeout ends a fragment whose body stops arriving for this long
// (the client's own request timer), so a stalled client cannot hold its
// session's lock for ever.
const bodyIdleTimeout = 2 * time.Minute

// fragment writes a fragment's bytes at their offset. The server keeps one
// contiguous run from byte 0: a fragment that starts past its end is
// refused with 416; one that overlaps it is accepted for its new part only
// (received bytes are never rewritten), and one that holds nothing new is
// refused with 416 too (see resend). The answer always says where the next
// fragment must start.
func (s *Server) fragment(p *packet) (http.Header, error) {
	first, last, total, ok := parseContentRange(p.r.Header.Get("Content-Range"))
	if !ok {
		return nil, badPacket("missing or malformed Content-Range")
	}
	length := last - first + 1
	if length > s.cfg.MaxFragmentSize {
		return nil, refuse(http.StatusRequestEntityTooLarge, hresult.BG_E_TOO_LARGE, "fragment too large")
	}
	if max := p.vd.MaxUploadSize; max > 0 && total > max {
		return nil, refuse(http.StatusInternalServerError, hresult.BG_E_TOO_LARGE, "upload larger than the maximum")
	}
	if s.store != nil {
		return s.farmFragment(p, first, last, total)
	}

	sess, h, unlock, err := s.openSession(p)
	if err != nil {
		return h, err
	}
	defer unlock()
	if !sess.live() {
		return h, sessionNotFound()
	}
	switch {
	case sess.Total < 0:
		sess.Total = total
	case total != sess.Total:
		return h, badPacket("the total length changed")
	}
	// An unknown session, a gap and a resend are answered before the body
	// is looked at: a client asks where to resume with an empty fragment.
	if first > sess.Received {
		h.Set(uploadproto.HeaderReceived, strconv.FormatInt(sess.Received, 10))
		return h, &refusal{status: http.StatusRequestedRangeNotSatisfiable, why: "gap before the fragment"}
	}
	if last < sess.Received {
		return s.resend(p, sess, h, last)
	}
	if cl, ok := parseContentLength(p.r.Header.Values("Content-Length")); !ok || cl != length {
		return h, badPacket("Content-Length missing or unlike the range")
	}
	if enc := p.r.Header.Get("Content-Encoding"); enc != "" && !strings.EqualFold(enc, "identity") {
		return h, badPacket("only the identity encoding is accepted")
	}
	err = s.receive(p, sess, first, last)
	h.Set(uploadproto.HeaderReceived, strconv.FormatInt(sess.Received, 10))
	if err != nil || !sess.complete() || p.vd.Notify == NotifyNone {
		return h, err
	}
	return s.lastAck(p, sess, h)
}

// resend answers a fragment that holds no byte the session lacks: 416 and
// the offset, so the client goes on from there and the body need not cross
// the link. With notification, the last fragment sent again is how a
// client retries the notification (after the application failed) or asks
// for an Ack it lost: it is answered as the last fragment was, 200 with
// BITS-Reply-URL, after notifying the application if it has not answered.
// Once it has, every resend's 416 names the reply too, so a client that
// lost track (a restart) learns it from whatever fragment it sends.
func (s *Server) resend(p *packet, sess *session, h http.Header, last int64) (http.Header, error) {
	h.Set(uploadproto.HeaderReceived, strconv.FormatInt(sess.Received, 10))
	if p.vd.Notify != NotifyNone && last == sess.Total-1 {
		return s.lastAck(p, sess, h)
	}
	if p.vd.Notify != NotifyNone && sess.State == stateReplied {
		if reply := replyURL(p.r, p.vd, sess); len(reply) <= maxNotifyURL {
			h.Set(uploadproto.HeaderReplyURL, reply)
		}
	}
	return h, &refusal{status: http.StatusRequestedRangeNotSatisfiable, why: "the fragment holds nothing new"}
}

// lastAck completes the Ack of a notified session's last fragment (or of an
// empty upload's first Close-Session): the application is notified unless
// it has answered already, and the Ack names the reply.
func (s *Server) lastAck(p *packet, sess *session, h http.Header) (http.Header, error) {
	if sess.State == stateReceiving {
		if err := s.notify(p, sess); err != nil {
			return h, err
		}
	}
	reply := replyURL(p.r, p.vd, sess)
	if len(reply) > maxNotifyURL {
		return h, badPacket("the reply URL would be too long")
	}
	h.Set(uploadproto.HeaderReplyURL, reply)
	return h, nil
}

// receive writes the part of the body past what the session holds and
// records the new length. Bytes that did arrive count even when the body
// breaks off, so the client's next try only needs the rest.
func (s *Server) receive(p *packet, sess *session, first, last int64) error {
	src := &idleReader{r: p.r.Body, rc: http.NewResponseController(p.w)}
	body := io.LimitReader(src, last-first+1)
	if skip := sess.Received - first; skip > 0 {
		if n, err := io.CopyN(io.Discard, body, skip); n < skip {
			return badPacket(fmt.Sprintf("body shorter than Content-Length: %v", err))
		}
	}
	f, err := p.vd.root.OpenFile(sessionFile(sess.Key, dataFileName), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	want := last + 1 - sess.Received
	n, copyErr := io.Copy(io.NewOffsetWriter(f, sess.Received), body)
	// Syncing every fragment would tie the upload to the disk's latency
	// (ten times slower here); the data and record are synced every
	// syncEvery bytes or syncInterval, and when the upload is complete.
	// Writeback starts at once, so those syncs find little to wait for.
	writeback.Start(f, sess.Received, n)
	now := s.now()
	received := sess.Received + n
	durable := received-sess.Synced >= syncEvery || now.Sub(sess.SyncedAt) >= syncInterval ||
		(sess.Total >= 0 && received == sess.Total)
	if durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if n > 0 && err == nil {
		sess.Received = received
		sess.Updated = now
		if durable {
			sess.Synced, sess.SyncedAt = received, now
		}
		if err = p.vd.writeSession(sess, durable); err == nil {
			s.limits.touch(sess.Key, now)
		}
	}
	switch {
	case err != nil:
		return err
	case copyErr != nil && copyErr != src.err:
		return copyErr // the disk's fault, not the client's
	case n < want:
		return badPacket("body shorter than Content-Length")
	}
	return nil
}

// How often a session's data is synced while fragments arrive.
const (
	syncEvery    = 64 << 20
	syncInterval = time.Second
)

// parseContentRange reads "bytes <first>-<last>/<total>", offsets
// inclusive from zero, with first <= last < total.
func parseContentRange(v string) (first, last, total int64, ok bool) {
	v = strings.TrimSpace(v)
	if len(v) < 6 || !strings.EqualFold(v[:6], "bytes ") {
		return 0, 0, 0, false
	}
	spec := strings.TrimLeft(v[6:], " ")
	r, t, ok1 := strings.Cut(spec, "/")
	a, b, ok2 := strings.Cut(r, "-")
	if !ok1 || !ok2 {
		return 0, 0, 0, false
	}
	var ok3, ok4, ok5 bool
	first, ok3 = parseCount(a)
	last, ok4 = parseCount(b)
	total, ok5 = parseCount(t)
	if !ok3 || !ok4 || !ok5 || first > last || last >= total {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

// parseContentLength reads the one Content-Length a fragment must have.
func parseContentLength(vs []string) (int64, bool) {
	if len(vs) != 1 {
		return 0, false
	}
	return parseCount(strings.TrimSpace(vs[0]))
}

// parseCount reads a decimal count: digits only, no sign, no overflow.
func parseCount(s string) (int64, bool) {
	if s == "" || len(s) > 19 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// idleReader pushes the connection's read deadline forward before each
// read, so a body may take as long as it needs but may not stall. It keeps
// the last read error, to tell the client's failures from the disk's.
type idleReader struct {
	r   io.Reader
	rc  *http.ResponseController
	err error
}

func (b *idleReader) Read(p []byte) (int, error) {
	b.rc.SetReadDeadline(time.Now().Add(bodyIdleTimeout)) // unsupported in tests' recorders: no matter
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}
