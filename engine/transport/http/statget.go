package http

import (
	"context"
	"io"
	nethttp "net/http"
	"sync"

	"bits/engine/transport"
)

var _ transport.Prefetcher = (*Transport)(nil)

// StatGet sends the GET of the whole file and, when the server answers 200
// with a length, takes the size, validators and digest from its headers, as
// Stat takes them from HEAD's, and keeps the body open for the download:
// one request per small file instead of two. Any other answer (an error
// status, a body of unknown length or in an encoding, a 206) is dropped and
// Stat asks again with HEAD, so that what such an answer means stays what
// it was.
func (t *Transport) StatGet(ctx context.Context, r *transport.Request) (transport.RemoteInfo, transport.Body, error) {
	if err := checkScheme(r.URL); err != nil || r.Method != "" {
		info, err := t.Stat(ctx, r)
		return info, nil, err
	}
	rctx, cancel := context.WithCancelCause(ctx)
	req, err := t.newRequest(rctx, nethttp.MethodGet, r)
	if err != nil {
		cancel(nil)
		return transport.RemoteInfo{Size: -1}, nil, err
	}
	resp, err := t.do(ctx, rctx, r, req)
	if err != nil {
		cancel(nil)
		return transport.RemoteInfo{Size: -1}, nil, err
	}
	if resp.StatusCode != nethttp.StatusOK || resp.ContentLength < 0 || encodingError(resp) != nil {
		// An error status is drained so the connection stays; a body is
		// closed unread, which drops it. Either way these answers are
		// rare, and Stat then answers what it always did: the file's size
		// and a download that fails on its own, or HEAD's error.
		if resp.StatusCode >= 300 {
			io.CopyN(io.Discard, resp.Body, 64<<10)
		}
		resp.Body.Close()
		cancel(nil)
		info, err := t.Stat(ctx, r)
		return info, nil, err
	}
	info := remoteInfo(resp.Header)
	info.Size = resp.ContentLength
	info.Ranges = acceptsRanges(resp.Header)
	info.Digest = offeredDigest(resp.Header, true)
	info.FinalURL = reportedURL(r.SecurityFlags, r.URL, resp)
	return info, &body{t: t, rctx: rctx, cancel: cancel, resp: resp}, nil
}

// body is a GET's answer that StatGet holds open for the download.
type body struct {
	t      *Transport
	rctx   context.Context
	cancel context.CancelCauseFunc
	resp   *nethttp.Response
	once   sync.Once
}

// Copy copies the body as fetch copies a 200 from byte 0: no more than
// its length, which must all arrive. ctx may end the copy as well as the
// context StatGet was given.
func (b *body) Copy(ctx context.Context, w io.Writer) (int64, error) {
	stop := context.AfterFunc(ctx, func() { b.cancel(context.Cause(ctx)) })
	defer stop()
	size := b.resp.ContentLength
	return b.t.copyBody(ctx, b.rctx, b.cancel, b.resp.Body, w, size, size)
}

func (b *body) Close() error {
	b.once.Do(func() {
		b.resp.Body.Close()
		b.cancel(nil)
	})
	return nil
}
