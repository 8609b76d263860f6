package http

import (
	"context"
	"io"
	nethttp "net/http"

	"bits/engine/transport"
	"bits/hresult"
)

// fetchReply copies an upload-reply job's reply, at raw (absolute, or
// relative to the upload's URL), to w with one GET. The job's server
// credentials go with it only when the reply is on the upload's own host:
// the URL is the server's choice, and may name any host.
func (t *Transport) fetchReply(ctx context.Context, r *transport.Request, raw string, w io.Writer) error {
	u, err := r.URL.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return hresult.Fatal(hresult.BG_E_INVALID_SERVER_RESPONSE, hresult.ContextRemoteFile,
			"the server named a reply URL that cannot be fetched")
	}
	rr := *r
	rr.URL = u
	if !sameHost(r.URL, u) {
		rr.Credentials = nil
		for _, c := range r.Credentials {
			if c.Target == transport.TargetProxy {
				rr.Credentials = append(rr.Credentials, c)
			}
		}
	}
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := t.newRequest(rctx, nethttp.MethodGet, &rr)
	if err != nil {
		return err
	}
	resp, err := t.do(ctx, rctx, &rr, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != nethttp.StatusOK {
		return t.statusError(resp)
	}
	if err := encodingError(resp); err != nil {
		return err
	}
	_, err = t.copyBody(ctx, rctx, cancel, resp.Body, w, -1, resp.ContentLength)
	return err
}
