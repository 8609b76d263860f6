package http

import (
	"context"
	"io"
	nethttp "net/http"

	"bits/engine/transport"
	"bits/hresult"
)

// custom runs a job's custom method: one request, without Range or
// validators, whose whole body (any 2xx) is the file. It cannot resume, so
// a request for bytes past 0, or for a range inside the file, is
// ErrNoRanges before anything is sent: a custom method may change the
// server's state. It never retries; want.Size < 0 means the length is not
// known. net/http follows redirects as browsers do: a 301, 302 or 303
// turns the method into GET, a 307 or 308 keeps it.
func (t *Transport) custom(ctx context.Context, r *transport.Request, off, end int64, want transport.RemoteInfo, w io.Writer) (int64, error) {
	if off != 0 || (end >= 0 && end != want.Size) {
		return 0, transport.ErrNoRanges
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := t.newRequest(rctx, r.Method, r)
	if err != nil {
		return 0, err
	}
	resp, err := t.do(ctx, rctx, r, req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return 0, t.statusError(resp)
	case resp.StatusCode == nethttp.StatusPartialContent:
		return 0, hresult.Fatal(hresult.BG_E_INVALID_SERVER_RESPONSE, hresult.ContextRemoteFile,
			"the server answered %s with 206 Partial Content, but no range was asked for", r.Method)
	}
	if err := encodingError(resp); err != nil {
		return 0, err
	}
	expect := resp.ContentLength
	if want.Size >= 0 && expect >= 0 && expect != want.Size {
		return 0, transport.ErrChanged
	}
	if expect < 0 {
		expect = want.Size
	}
	return t.copyBody(ctx, rctx, cancel, resp.Body, w, want.Size, expect)
}
