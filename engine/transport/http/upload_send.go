package http

import (
	"context"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"strconv"
	"time"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/uploadproto"
)

// maxStalls is how many fragments in a row the server may acknowledge
// without taking any of their bytes before Send gives up.
const maxStalls = 3

// Send sends src in fragments, one request at a time, and carries on from
// wherever each Ack (or 416) says the server is:
//
//   - at the end of the fragment: the next fragment follows;
//   - inside it, or past it but no further than a fragment sent before in
//     this session reached: Send goes on from there; when that is past
//     src's end, Send returns the server's offset;
//   - before it: Send returns the server's offset with a nil error, and
//     the caller sends again from there.
//
// A server that says it holds a byte that was never sent to it breaks the
// protocol in the one way that loses data (the byte would never be sent):
// the session is cancelled and Send returns transport.ErrSessionLost with
// the reason, so that the caller begins a new session. Every fragment
// carries exactly the bytes its Content-Range names, read from src as they
// leave: nothing is held in memory, and a fragment sent again is read
// again.
//
// The fragment size adapts to the link (see fragmentSizer); a 413 halves
// it and the same bytes go again, down to 5 KB. Errors are src's own,
// unchanged (io.ErrUnexpectedEOF when it ends before its size);
// ctx.Err(); transport.ErrSessionLost; or an *hresult.Error. The offset
// returned is always one the server confirmed.
func (t *Transport) Send(ctx context.Context, r *transport.Request, session string, off, size int64, src *io.SectionReader) (int64, error) {
	if err := checkScheme(r.URL); err != nil {
		return off, err
	}
	k, ok := parseToken(session)
	if !ok {
		return off, transport.ErrSessionLost
	}
	if size != k.size || off < 0 || off > size {
		return off, hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile,
			"cannot send from byte %d of %d in a session begun for %d bytes", off, size, k.size)
	}
	if off+src.Size() > size {
		return off, hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile,
			"the source holds more than the upload's %d bytes", size)
	}
	s := &sender{t: t, ctx: ctx, r: r, k: k, id: k.id, size: size, src: src,
		sizer: t.uploads.sizer(r.URL), base: off, pos: off, confirmed: off}
	got, err := s.run()
	key := memoryKey(r.URL, k.id)
	if s.answered {
		t.uploads.setHeld(key, got)
	}
	return got, t.uploads.noteLost(key, err)
}

// sender is one Send under way.
type sender struct {
	t     *Transport
	ctx   context.Context
	r     *transport.Request
	k     token
	id    string
	size  int64
	src   *io.SectionReader // the upload's bytes from base on
	sizer *fragmentSizer

	base      int64 // the file offset of src's first byte
	pos       int64 // the file offset the next fragment starts at
	confirmed int64 // what the server last said it holds
	answered  bool  // the server said it at least once
}

// end is the file offset where src ends.
func (s *sender) end() int64 { return s.base + s.src.Size() }

func (s *sender) run() (int64, error) {
	stalls := 0
	for s.pos < s.end() {
		if err := s.ctx.Err(); err != nil {
			return s.confirmed, err
		}
		n := min(int64(s.sizer.next()), s.end()-s.pos)
		sent := s.t.uploads.sending(memoryKey(s.r.URL, s.id), s.pos+n)
		a, took, err := s.send(n)
		if err != nil {
			var he *hresult.Error
			if errors.As(err, &he) && he.Transient {
				s.sizer.failed()
			}
			return s.confirmed, err
		}
		switch {
		case a.status == nethttp.StatusRequestEntityTooLarge && a.ack.errorCode != hresult.BG_E_TOO_LARGE:
			if !s.sizer.tooLarge(int(n)) {
				return s.confirmed, s.t.refusal(uploadproto.PacketFragment, a)
			}
			continue
		case !a.ok() && a.status != nethttp.StatusRequestedRangeNotSatisfiable:
			return s.confirmed, s.t.refusal(uploadproto.PacketFragment, a)
		}
		got, end := a.ack.received, s.pos+n
		switch {
		case got < 0:
			return s.confirmed, badAnswer(uploadproto.PacketFragment, "carries no usable %s%s", uploadproto.HeaderReceived, invalidHeaders(a.ack))
		case got > sent:
			return s.confirmed, s.untrusted(got, sent)
		case !a.ok() && got == s.pos:
			return s.confirmed, badAnswer(uploadproto.PacketFragment, "refuses the fragment at %d but expects that very byte", s.pos)
		}
		if a.ok() && got == end && end < s.size {
			// Not the last fragment: its Ack may wait for the server
			// application (upload-reply), which says nothing of the link.
			s.sizer.sent(int(n), took)
		}
		if got == s.size && a.ack.replyURL != "" {
			// Whatever fragment this answers: after a restart the last
			// fragment's Ack may have been lost, and the server may
			// name the reply on the Ack (or 416) of a resent one.
			s.t.uploads.setReply(memoryKey(s.r.URL, s.id), a.ack.replyURL)
		}
		if got == s.pos {
			if stalls++; stalls >= maxStalls {
				return s.confirmed, badAnswer(uploadproto.PacketFragment, "acknowledged %d fragments at %d without taking any of their bytes", stalls, s.pos)
			}
		} else {
			stalls = 0
		}
		s.confirmed, s.answered = got, true
		if got < s.pos {
			return s.confirmed, nil // back to before this fragment: the caller sends from got
		}
		s.pos = got
	}
	return s.confirmed, nil
}

// send sends the n bytes at s.pos as a fragment, and times the round trip.
func (s *sender) send(n int64) (answer, time.Duration, error) {
	first, last := s.pos, s.pos+n-1
	began := s.t.now()
	a, err := s.t.postSession(s.ctx, s.r, s.k, uploadproto.PacketFragment, func(h nethttp.Header) {
		h.Set(uploadproto.HeaderSessionID, s.id)
		h.Set("Content-Range", contentRange(first, last, s.size))
	}, io.NewSectionReader(s.src, first-s.base, n))
	return a, s.t.now().Sub(began), err
}

// untrusted ends a session whose server said it holds got bytes when no
// more than sent were sent to it: what it holds cannot be trusted, so it
// is cancelled (best effort) and a new one must begin.
func (s *sender) untrusted(got, sent int64) error {
	s.t.postSession(s.ctx, s.r, s.k, uploadproto.PacketCancelSession, func(h nethttp.Header) { h.Set(uploadproto.HeaderSessionID, s.id) }, nil)
	return fmt.Errorf("%w: %w", transport.ErrSessionLost, hresult.Fatal(hresult.BG_E_INVALID_SERVER_RESPONSE, hresult.ContextRemoteFile,
		"the server said it holds %d bytes of the upload when only %d were sent to it", got, sent))
}

// contentRange is a Content-Range value: first and last are inclusive.
func contentRange(first, last, total int64) string {
	return "bytes " + strconv.FormatInt(first, 10) + "-" + strconv.FormatInt(last, 10) + "/" + strconv.FormatInt(total, 10)
}
