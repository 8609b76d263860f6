package http

import (
	"context"
	"errors"
	"io"
	nethttp "net/http"
	"sync"
	"time"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/uploadproto"
)

// answer is a server's answer to one packet; its body has been read.
type answer struct {
	status int
	header nethttp.Header
	ack    ack
}

func (a answer) ok() bool { return a.status >= 200 && a.status <= 299 }

// post sends one packet of the upload protocol to r's URL and reads the
// answer. set adds the packet's own headers; body is a fragment's bytes,
// read as they leave. Errors are the failures to get an answer at all (or
// to read body: its own error); what the answer says is the caller's to
// judge.
//
// A fragment goes with "Expect: 100-continue", so that a server that
// refuses it (416, 413, an unknown session, an authentication challenge)
// can say so before the body crosses the link. Its body is watched: when
// the link takes none of it for the idle timeout, the request ends with a
// transient WINHTTP_TIMEOUT.
func (t *Transport) post(ctx context.Context, r *transport.Request, packet string, set func(nethttp.Header), body *io.SectionReader) (answer, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := t.newRequest(rctx, uploadproto.Method, r)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set(uploadproto.HeaderPacketType, packet)
	if set != nil {
		set(req.Header)
	}
	var watch *watchedBody
	if body == nil || body.Size() == 0 {
		// Every packet carries a Content-Length, 0 when it has no body:
		// IIS refuses one without (400). net/http writes it for a method
		// other than POST, PUT and PATCH only with the identity encoding.
		req.ContentLength, req.Body, req.TransferEncoding = 0, nethttp.NoBody, []string{"identity"}
	} else {
		watch = &watchedBody{ctx: rctx, idle: t.idle, stall: func() { cancel(errIdle) }}
		req.ContentLength = body.Size()
		req.GetBody = func() (io.ReadCloser, error) { return watch.over(body), nil }
		req.Body = watch.over(body)
		req.Header.Set("Expect", "100-continue")
		defer watch.stop()
	}
	resp, err := t.do(ctx, rctx, r, req)
	if err != nil {
		if serr := watch.sourceErr(); serr != nil {
			return answer{}, serr
		}
		if watch != nil && ctx.Err() == nil && errors.Is(context.Cause(rctx), errIdle) {
			return answer{}, hresult.Transient(hresult.WINHTTP_TIMEOUT, hresult.ContextRemoteFile,
				"the link took no fragment bytes for %s", t.idle)
		}
		return answer{}, err
	}
	defer resp.Body.Close()
	if watch != nil {
		watch.stop()
	}
	// Acks are empty; a little is read so that the connection can be reused.
	io.CopyN(io.Discard, resp.Body, 64<<10)
	if resp.Request != nil && resp.Request.Method != uploadproto.Method {
		// A 301, 302 or 303 turned the packet into a GET.
		status := resp.StatusCode
		if prev := resp.Request.Response; prev != nil {
			status = prev.StatusCode
		}
		return answer{}, hresult.Fatal(hresult.HTTP(status), hresult.ContextRemoteFile,
			"the server redirected the upload to %s, which the upload protocol cannot follow", resp.Request.URL.Redacted())
	}
	return answer{status: resp.StatusCode, header: resp.Header, ack: parseAck(resp.Header)}, nil
}

// watchedBody reads a fragment's bytes for net/http and calls stall when
// none are taken for idle. The timer runs from the first read to the last:
// before it, the connection, the TLS handshake and the wait for "100
// Continue" have timeouts of their own, and after it the wait for the
// answer has the header timeout. Every copy made for a resend shares it.
// It keeps the first error of the source itself, which is the one to
// report whatever net/http makes of it.
//
// Once stopped, its readers read nothing more: net/http may go on reading
// a request's body after it returned the answer.
type watchedBody struct {
	ctx   context.Context // paces the bytes as they go (transport.PacedReader)
	idle  time.Duration
	stall func()

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
	srcErr  error
}

// errFragmentDone ends a read of a fragment whose request is over.
var errFragmentDone = errors.New("the fragment's request is over")

// over returns a reader of b for one sending of the fragment, paced as
// the bytes leave.
func (w *watchedBody) over(b *io.SectionReader) io.ReadCloser {
	r := &watchedReader{r: io.NewSectionReader(b, 0, b.Size()), w: w}
	return readCloser{transport.PacedReader(w.ctx, r), r}
}

// readCloser joins a reader with what closes it.
type readCloser struct {
	io.Reader
	io.Closer
}

func (w *watchedBody) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.timer != nil {
		w.timer.Stop()
	}
}

// sourceErr is the error the fragment's source gave, if any; w may be nil.
func (w *watchedBody) sourceErr() error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.srcErr
}

type watchedReader struct {
	r    *io.SectionReader
	w    *watchedBody
	read int64
}

func (r *watchedReader) Read(p []byte) (int, error) {
	w := r.w
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.stopped:
		return 0, errFragmentDone
	case w.timer == nil:
		w.timer = time.AfterFunc(w.idle, w.stall)
	default:
		w.timer.Reset(w.idle)
	}
	n, err := r.r.Read(p)
	r.read += int64(n)
	left := r.r.Size() - r.read
	switch {
	case left == 0:
		w.timer.Stop() // all read: the header timeout takes over
	case err == io.EOF:
		err = io.ErrUnexpectedEOF // the file is shorter than it was
	}
	if err != nil && err != io.EOF && w.srcErr == nil {
		w.srcErr = err
	}
	return n, err
}

func (r *watchedReader) Close() error { return nil }

// rewindBody returns a fresh copy of req's body for sending req again: an
// upload fragment's, from GetBody. Bodiless requests keep what they have.
func rewindBody(req *nethttp.Request) (io.ReadCloser, error) {
	if req.GetBody == nil || req.Body == nil || req.Body == nethttp.NoBody {
		return req.Body, nil
	}
	return req.GetBody()
}
