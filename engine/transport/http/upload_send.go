package http

import (
	"context"
	"errors"
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
//   - past it: the bytes up to there are read from src and dropped; when
//     src ends first, Send returns the server's offset, past src's end;
//   - before it, but past off: src cannot go back, so Send returns the
//     server's offset with a nil error, and the caller sends again from
//     there;
//   - back at off or before it: the same, with a transient error, so that
//     a server that keeps losing what it took cannot keep Send busy;
//     Resume then tells where to go on.
//
// The fragment size adapts to the link (see fragmentSizer); a 413 halves
// it and the same bytes go again, down to 5 KB. Errors are src's own,
// unchanged; ctx.Err(); transport.ErrSessionLost; or an *hresult.Error.
// The offset returned is always one the server confirmed.
func (t *Transport) Send(ctx context.Context, r *transport.Request, session string, off, size int64, src io.Reader) (int64, error) {
	if err := checkScheme(r.URL); err != nil {
		return off, err
	}
	total, id, ok := parseSessionToken(session)
	if !ok {
		return off, transport.ErrSessionLost
	}
	if size != total || off < 0 || off > size {
		return off, hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile,
			"cannot send from byte %d of %d in a session begun for %d bytes", off, size, total)
	}
	s := &sender{t: t, ctx: ctx, r: r, id: id, size: size, src: src,
		sizer: t.uploads.sizer(r.URL), start: off, pos: off, confirmed: off}
	bp := fragmentBufs.Get().(*[]byte)
	s.buf = *bp
	defer func() {
		*bp = s.buf
		fragmentBufs.Put(bp)
	}()
	got, err := s.run()
	key := memoryKey(r.URL, id)
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
	id    string
	size  int64
	src   io.Reader
	sizer *fragmentSizer

	start     int64  // where src began: nothing before it can be sent
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
		case got > s.size:
			return s.confirmed, badAnswer(packetFragment, "says the server holds %d bytes of a %d-byte upload", got, s.size)
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
	a, err := s.t.post(s.ctx, s.r, packetFragment, func(h nethttp.Header) {
		h.Set(hdrSessionID, s.id)
		h.Set("Content-Range", contentRange(first, last, s.size))
	}, frag)
	return a, s.t.now().Sub(began), err
}

// moveTo carries on from got, the offset the server expects next (see
// Send), and reports whether this Send is over.
func (s *sender) moveTo(got int64) (done bool, err error) {
	s.confirmed, s.answered = got, true
	end := s.pos + int64(len(s.pending))
	switch {
	case got < s.pos && got <= s.start:
		return true, hresult.Transient(hresult.BG_E_INVALID_SERVER_RESPONSE, hresult.ContextRemoteFile,
			"the server went back to %d bytes, no more than the %d this transfer began from", got, s.start)
	case got < s.pos:
		return true, nil
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
