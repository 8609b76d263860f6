package http

import (
	"context"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"strconv"
	"sync"
	"time"

	"bits/engine/hresult"
	"bits/engine/transport"
)

// maxStalls is how many fragments in a row the server may acknowledge
// without taking any of their bytes before Send gives up.
const maxStalls = 3

// Send reads src into fragments, one request at a time, and carries on
// from wherever each Ack (or 416) says the server is:
//
//   - at the end of the fragment: the next fragment follows;
//   - inside it: the rest of it is sent again;
//   - past it, but no further than a fragment sent before in this session
//     reached: the bytes up to there are read from src and dropped; when
//     src ends first, Send returns the server's offset, past src's end;
//   - before it: src cannot go back, so Send returns the server's offset
//     with a nil error, and the caller sends again from there.
//
// A server that says it holds a byte that was never sent to it breaks the
// protocol in the one way that loses data (the byte would never be sent):
// the session is cancelled and Send returns transport.ErrSessionLost with
// the reason, so that the caller begins a new session. Every fragment
// carries exactly the bytes its Content-Range names.
//
// The fragment size adapts to the link (see fragmentSizer); a 413 halves
// it and the same bytes go again, down to 5 KB. Errors are src's own,
// unchanged; ctx.Err(); transport.ErrSessionLost; or an *hresult.Error.
// The offset returned is always one the server confirmed.
func (t *Transport) Send(ctx context.Context, r *transport.Request, session string, off, size int64, src io.Reader) (int64, error) {
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
	s := &sender{t: t, ctx: ctx, r: r, k: k, id: k.id, size: size, src: src,
		sizer: t.uploads.sizer(r.URL), pos: off, confirmed: off}
	bp := fragmentBufs.Get().(*[]byte)
	s.buf = *bp
	defer func() {
		*bp = s.buf
		fragmentBufs.Put(bp)
	}()
	got, err := s.run()
	key := memoryKey(r.URL, k.id)
	if s.answered {
		t.uploads.setHeld(key, got)
	}
	return got, t.uploads.noteLost(key, err)
}

// fragmentBufs shares fragment buffers between Sends: the engine sends a
// file in many chunks, and each buffer holds up to maxFragment bytes.
var fragmentBufs = sync.Pool{New: func() any { return new([]byte) }}

// sender is one Send under way.
type sender struct {
	t     *Transport
	ctx   context.Context
	r     *transport.Request
	k     token
	id    string
	size  int64
	src   io.Reader
	sizer *fragmentSizer

	pos       int64  // the file offset of pending[0]
	pending   []byte // read from src, not yet confirmed; a slice of buf
	buf       []byte
	srcDone   bool
	confirmed int64 // what the server last said it holds
	answered  bool  // the server said it at least once
}

func (s *sender) run() (int64, error) {
	stalls := 0
	for {
		if err := s.ctx.Err(); err != nil {
			return s.confirmed, err
		}
		want := s.sizer.next()
		if err := s.fill(want); err != nil {
			return s.confirmed, err
		}
		if len(s.pending) == 0 {
			return s.confirmed, nil
		}
		frag := s.pending[:min(want, len(s.pending))]
		sent := s.t.uploads.sending(memoryKey(s.r.URL, s.id), s.pos+int64(len(frag)))
		a, took, err := s.send(frag)
		if err != nil {
			var he *hresult.Error
			if errors.As(err, &he) && he.Transient {
				s.sizer.failed()
			}
			return s.confirmed, err
		}
		switch {
		case a.status == nethttp.StatusRequestEntityTooLarge && a.ack.errorCode != hresult.BG_E_TOO_LARGE:
			if !s.sizer.tooLarge(len(frag)) {
				return s.confirmed, s.t.refusal(packetFragment, a)
			}
			continue
		case !a.ok() && a.status != nethttp.StatusRequestedRangeNotSatisfiable:
			return s.confirmed, s.t.refusal(packetFragment, a)
		}
		got, end := a.ack.received, s.pos+int64(len(frag))
		switch {
		case got < 0:
			return s.confirmed, badAnswer(packetFragment, "carries no usable %s%s", hdrReceived, invalidHeaders(a.ack))
		case got > sent:
			return s.confirmed, s.untrusted(got, sent)
		case !a.ok() && got == s.pos:
			return s.confirmed, badAnswer(packetFragment, "refuses the fragment at %d but expects that very byte", s.pos)
		}
		if a.ok() && got == end && end < s.size {
			// Not the last fragment: its Ack may wait for the server
			// application (upload-reply), which says nothing of the link.
			s.sizer.sent(len(frag), took)
		}
		if got == s.size && a.ack.replyURL != "" {
			// Whatever fragment this answers: after a restart the last
			// fragment's Ack may have been lost, and the server may
			// name the reply on the Ack (or 416) of a resent one.
			s.t.uploads.setReply(memoryKey(s.r.URL, s.id), a.ack.replyURL)
		}
		if got == s.pos {
			if stalls++; stalls >= maxStalls {
				return s.confirmed, badAnswer(packetFragment, "acknowledged %d fragments at %d without taking any of their bytes", stalls, s.pos)
			}
		} else {
			stalls = 0
		}
		if done, err := s.moveTo(got); done || err != nil {
			return s.confirmed, err
		}
	}
}

// fill reads from src until want bytes are pending or src ends.
func (s *sender) fill(want int) error {
	if s.srcDone || len(s.pending) >= want {
		return nil
	}
	have := len(s.pending)
	if cap(s.buf) < want {
		buf := make([]byte, want)
		copy(buf, s.pending)
		s.buf = buf
	} else {
		copy(s.buf, s.pending)
	}
	n, err := io.ReadFull(s.src, s.buf[have:want])
	s.pending = s.buf[:have+n]
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		s.srcDone = true
	case err != nil:
		return err
	}
	if s.pos+int64(len(s.pending)) > s.size {
		return hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile,
			"the source holds more than the upload's %d bytes", s.size)
	}
	return nil
}

// send sends frag, which starts at s.pos, and times the round trip.
func (s *sender) send(frag []byte) (answer, time.Duration, error) {
	first, last := s.pos, s.pos+int64(len(frag))-1
	began := s.t.now()
	a, err := s.t.postSession(s.ctx, s.r, s.k, packetFragment, func(h nethttp.Header) {
		h.Set(hdrSessionID, s.id)
		h.Set("Content-Range", contentRange(first, last, s.size))
	}, frag)
	return a, s.t.now().Sub(began), err
}

// untrusted ends a session whose server said it holds got bytes when no
// more than sent were sent to it: what it holds cannot be trusted, so it
// is cancelled (best effort) and a new one must begin.
func (s *sender) untrusted(got, sent int64) error {
	s.t.postSession(s.ctx, s.r, s.k, packetCancelSession, func(h nethttp.Header) { h.Set(hdrSessionID, s.id) }, nil)
	return fmt.Errorf("%w: %w", transport.ErrSessionLost, hresult.Fatal(hresult.BG_E_INVALID_SERVER_RESPONSE, hresult.ContextRemoteFile,
		"the server said it holds %d bytes of the upload when only %d were sent to it", got, sent))
}

// moveTo carries on from got, the offset the server expects next (see
// Send), and reports whether this Send is over.
func (s *sender) moveTo(got int64) (done bool, err error) {
	s.confirmed, s.answered = got, true
	end := s.pos + int64(len(s.pending))
	switch {
	case got < s.pos:
		return true, nil // src cannot go back: the caller sends from got
	case got <= end:
		s.pending = s.pending[got-s.pos:]
		s.pos = got
		return false, nil
	}
	s.pending = s.pending[:0]
	n, err := io.CopyN(io.Discard, s.src, got-end)
	s.pos = end + n
	switch {
	case err == io.EOF:
		s.srcDone = true
		return true, nil // the server holds more than src had to give
	case err != nil:
		return true, err
	}
	return false, nil
}

// contentRange is a Content-Range value: first and last are inclusive.
func contentRange(first, last, total int64) string {
	return "bytes " + strconv.FormatInt(first, 10) + "-" + strconv.FormatInt(last, 10) + "/" + strconv.FormatInt(total, 10)
}
