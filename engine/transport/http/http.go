// Package http downloads files over HTTP and HTTPS the way BITS does: HEAD
// for the size and validators, then GETs that resume with Range and If-Range,
// so a file that changed on the server is detected rather than spliced.
// It applies a job's HTTP options: custom headers, a custom method, a client
// certificate, the BG_SSL_* security flags and the redirect policy.
//
// It implements transport.Downloader and turns every remote failure into an
// *hresult.Error that says whether retrying can help. It knows nothing of
// jobs: it must not import the engine, storage or any front end.
package http

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"bits/engine/transport"
	"bits/hresult"
)

// Defaults for the zero values of Options.
const (
	DefaultHeaderTimeout = 60 * time.Second
	DefaultIdleTimeout   = 60 * time.Second
	DefaultUserAgent     = "bits/0.1"
)

const (
	maxRedirects = 10 // what WinHTTP follows by default

	// bufSize is the copy buffer. Large reads go straight from the socket
	// into it (the client's bufio.Reader steps aside for reads bigger than
	// itself), so fewer, bigger syscalls keep pace with curl on loopback.
	bufSize = 512 << 10
)

// Options configure a Transport. Zero values take the defaults above.
type Options struct {
	// HeaderTimeout bounds connecting, the TLS handshake and the wait for
	// response headers.
	HeaderTimeout time.Duration
	// IdleTimeout aborts a body read that receives no bytes for this long.
	IdleTimeout time.Duration
	UserAgent   string
	// TLSConfig is used for https URLs; nil means the system roots.
	TLSConfig *tls.Config
}

// Transport is an HTTP and HTTPS Downloader. It keeps one client, with its
// connection pool, for each distinct combination of the job settings that
// shape connections (proxy, TLS, redirects, credentials), so share one
// Transport between transfers. It is safe for concurrent use.
type Transport struct {
	o         Options
	userAgent string
	idle      time.Duration
	now       func() time.Time // for Retry-After dates

	mu      sync.Mutex
	clients map[string]*nethttp.Client            // by clientKey
	pools   []interface{ CloseIdleConnections() } // the clients' pools that they cannot reach

	uploads uploadMemory // see upload.go
}

var _ transport.Downloader = (*Transport)(nil)

// New returns a Transport with o's settings.
func New(o Options) *Transport {
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = DefaultHeaderTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.TLSConfig != nil {
		o.TLSConfig = o.TLSConfig.Clone()
	}
	return &Transport{o: o, userAgent: o.UserAgent, idle: o.IdleTimeout, now: time.Now, clients: map[string]*nethttp.Client{}}
}

// client returns the client for s, made at its first use.
func (t *Transport) client(s *transport.Settings) (*nethttp.Client, error) {
	key := clientKey(s)
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, ok := t.clients[key]; ok {
		return c, nil
	}
	c, err := t.newClient(s)
	if err != nil {
		return nil, err
	}
	t.clients[key] = c
	return c, nil
}

// clientKey sums up the settings that newClient reads.
func clientKey(s *transport.Settings) string {
	return fmt.Sprintf("%+v|%q|%x|%+v|%+v", s.Proxy, s.Env, s.SecurityFlags, s.ClientCert, s.Credentials)
}

func (t *Transport) newClient(s *transport.Settings) (*nethttp.Client, error) {
	proxy, err := proxyFunc(s.Proxy, s.Getenv)
	if err != nil {
		return nil, err
	}
	tlsConfig, err := t.tlsConfig(s)
	if err != nil {
		return nil, err
	}
	// HTTP/2 where TLS negotiates it (ALPN), HTTP/1.1 otherwise: cleartext
	// HTTP/2 has no negotiation a server must answer. NTLM and Negotiate
	// authenticate a connection, which HTTP/2 forbids, so a job that may
	// answer them with the server stays on HTTP/1.1.
	var protocols nethttp.Protocols
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(!connectionAuth(s.Credentials))
	dialer := &net.Dialer{Timeout: t.o.HeaderTimeout, KeepAlive: 30 * time.Second}
	krb := newKerberos(s.Getenv)
	tunnels := &tunneler{
		dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return transport.Dial(ctx, dialer, network, addr)
		},
		creds:      credentialsFor(s.Credentials, transport.TargetProxy),
		krb:        krb,
		tlsConfig:  tlsConfig,
		timeout:    t.o.HeaderTimeout,
		userAgent:  t.userAgent,
		preemptive: map[string]*handshake{},
	}
	build := func(tlsConfig *tls.Config) *nethttp.Transport {
		return &nethttp.Transport{
			Proxy:                 tunnels.proxy(proxy),
			DialContext:           tunnels.dialContext,
			TLSClientConfig:       tlsConfig,
			TLSHandshakeTimeout:   t.o.HeaderTimeout,
			ResponseHeaderTimeout: t.o.HeaderTimeout,
			// Compression would make byte offsets meaningless.
			DisableCompression:  true,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     90 * time.Second,
			Protocols:           &protocols,

			// Upload fragments ask before their body goes (upload_packet.go).
			ExpectContinueTimeout: time.Second,
		}
	}
	rt := build(tlsConfig)
	var crl *crlChecker
	if s.SecurityFlags&sslEnableCRLCheck != 0 {
		crl = newCRLChecker(&nethttp.Client{Transport: build(nil)}, t.o.HeaderTimeout)
	}
	if v := newVerifier(s.SecurityFlags, tlsConfig, crl); v != nil {
		t.pools = append(t.pools, verifyPerHost(rt, v, &protocols))
	}
	return &nethttp.Client{Transport: authenticate(rt, s.Credentials, krb), CheckRedirect: redirectPolicy(s.SecurityFlags)}, nil
}

// connectionAuth says whether creds hold a server credential for a scheme
// that authenticates the connection rather than each request.
func connectionAuth(creds []transport.Credential) bool {
	for _, c := range creds {
		if c.Target == transport.TargetServer && (c.Scheme == transport.SchemeNTLM || c.Scheme == transport.SchemeNegotiate) {
			return true
		}
	}
	return false
}

// CloseIdleConnections closes pooled connections that carry no request.
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range t.clients {
		c.CloseIdleConnections()
	}
	for _, p := range t.pools {
		p.CloseIdleConnections()
	}
}

// do sends req with the client for r's settings. Its errors are
// classified: ctx is the caller's, rctx the one req carries.
func (t *Transport) do(ctx, rctx context.Context, r *transport.Request, req *nethttp.Request) (*nethttp.Response, error) {
	c, err := t.client(&r.Settings)
	if err != nil {
		return nil, err
	}
	conn := &connTrace{}
	traced := context.WithValue(httptrace.WithClientTrace(req.Context(), conn.trace(req.Context())), connTraceKey{}, conn)
	resp, err := c.Do(req.WithContext(traced))
	if err != nil {
		return nil, conn.explain(t.netError(ctx, rctx, err, conn.connected.Load()))
	}
	return resp, nil
}

// Stat sends HEAD and reports the size, validator, range support and the
// digest the server offers. A server that refuses HEAD (405, 501) is asked
// for its first byte instead. A job with a custom method sends nothing
// here: its one request is the download, so Stat returns the size as
// unknown (-1) and no error.
func (t *Transport) Stat(ctx context.Context, r *transport.Request) (transport.RemoteInfo, error) {
	info, final, err := t.stat(ctx, r)
	info.FinalURL = final
	return info, err
}

// stat is Stat that also returns the URL the answer came from when the
// job's redirect policy is BG_HTTP_REDIRECT_POLICY_ALLOW_REPORT and the
// server redirected; "" otherwise.
func (t *Transport) stat(ctx context.Context, r *transport.Request) (transport.RemoteInfo, string, error) {
	none := transport.RemoteInfo{Size: -1}
	if err := checkScheme(r.URL); err != nil {
		return none, "", err
	}
	if r.Method != "" {
		// Checked now so that a bad header fails before any transfer.
		return none, "", setCustomHeaders(&nethttp.Request{Header: nethttp.Header{}}, r.Headers)
	}
	req, err := t.newRequest(ctx, nethttp.MethodHead, r)
	if err != nil {
		return none, "", err
	}
	resp, err := t.do(ctx, ctx, r, req)
	if err != nil {
		return none, "", err
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == nethttp.StatusMethodNotAllowed || resp.StatusCode == nethttp.StatusNotImplemented:
		return t.statGET(ctx, r)
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return none, "", t.statusError(resp)
	}
	info := remoteInfo(resp.Header)
	info.Size = resp.ContentLength // from the header for HEAD, -1 without one
	info.Ranges = acceptsRanges(resp.Header)
	info.Digest = offeredDigest(resp.Header, resp.StatusCode == nethttp.StatusOK)
	final := reportedURL(r.SecurityFlags, r.URL, resp)
	if info.Size < 0 {
		return info, final, missingSize()
	}
	return info, final, nil
}

// statGET learns the size from a one-byte range request, for servers
// without HEAD. A server that ignores the range sends the whole file: the
// body is closed unread, which drops the connection but not much data.
func (t *Transport) statGET(ctx context.Context, r *transport.Request) (transport.RemoteInfo, string, error) {
	none := transport.RemoteInfo{Size: -1}
	req, err := t.newRequest(ctx, nethttp.MethodGet, r)
	if err != nil {
		return none, "", err
	}
	req.Header.Set("Range", "bytes=0-0")
	resp, err := t.do(ctx, ctx, r, req)
	if err != nil {
		return none, "", err
	}
	resp.Body.Close()
	info := remoteInfo(resp.Header)
	switch resp.StatusCode {
	case nethttp.StatusPartialContent:
		cr := resp.Header.Get("Content-Range")
		first, _, total, ok := parseContentRange(cr)
		if !ok || first != 0 {
			return none, "", badRange(0, cr)
		}
		info.Size, info.Ranges = total, true
	case nethttp.StatusOK:
		info.Size, info.Ranges = resp.ContentLength, acceptsRanges(resp.Header)
	default:
		return none, "", t.statusError(resp)
	}
	info.Digest = offeredDigest(resp.Header, resp.StatusCode == nethttp.StatusOK)
	final := reportedURL(r.SecurityFlags, r.URL, resp)
	if info.Size < 0 {
		return info, final, missingSize()
	}
	return info, final, nil
}

// Download writes the file from off to w, as transport.Downloader says.
// Errors are *hresult.Error for remote failures, transport.ErrChanged or
// transport.ErrNoRanges, ctx.Err() when ctx ends, and otherwise the error
// w.Write returned, unchanged, so the caller can classify its own disk.
// One case writes before it fails: a body without a length that runs past
// want.Size is copied up to want.Size and then reported as ErrChanged.
// With want.Size < 0 and off 0 (dynamic content) it sends a plain GET and
// copies the whole body, whatever its validators. A job's custom method is
// one request from byte 0 (see custom).
func (t *Transport) Download(ctx context.Context, r *transport.Request, off, end int64, want transport.RemoteInfo, w io.Writer) (int64, error) {
	u := r.URL
	if err := checkScheme(u); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextGeneralTransport, "negative offset %d", off)
	}
	if r.Method != "" {
		return t.custom(ctx, r, off, end, want, w)
	}
	if want.Size >= 0 && off > want.Size {
		// The local copy is longer than the remote file: start over.
		return 0, transport.ErrChanged
	}
	if end < 0 || (want.Size >= 0 && end > want.Size) {
		end = want.Size
	}
	var written int64
	// A server may answer a range with less than was asked (some CDNs cap
	// the size of a range); ask again for the rest.
	for end < 0 || off < end {
		n, more, err := t.fetch(ctx, r, off, end, want, w)
		written += n
		off += n
		if err != nil || !more || n == 0 {
			return written, err
		}
	}
	return written, nil
}

// bufPool shares copy buffers between transfers, so many concurrent jobs
// do not each keep one alive between requests.
var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// errIdle is the cause given to a request's context when its body stalls.
var errIdle = errors.New("no data received within the idle timeout")

// fetch runs one GET of the bytes from off to end (the end of the file when
// end is want.Size or unknown). more reports a 206 that ended before end.
func (t *Transport) fetch(ctx context.Context, r *transport.Request, off, end int64, want transport.RemoteInfo, w io.Writer) (n int64, more bool, err error) {
	rctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := t.newRequest(rctx, nethttp.MethodGet, r)
	if err != nil {
		return 0, false, err
	}
	partial := end >= 0 && end < want.Size // a byte range inside the file
	switch {
	case partial:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, end-1))
	case off > 0:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	if (partial || off > 0) && want.Validator != "" {
		req.Header.Set("If-Range", want.Validator)
	}
	resp, err := t.do(ctx, rctx, r, req)
	if err != nil {
		return 0, false, err
	}
	defer resp.Body.Close()

	limit := int64(-1) // most bytes this call may write
	if end >= 0 {
		limit = end - off
	}
	expect := int64(-1) // bytes this response says it carries
	success := resp.StatusCode == nethttp.StatusOK || resp.StatusCode == nethttp.StatusPartialContent
	if err := encodingError(resp); success && err != nil {
		// Checked first: compressed lengths would look like a changed file.
		return 0, false, err
	}
	switch {
	case resp.StatusCode == nethttp.StatusPartialContent:
		cr := resp.Header.Get("Content-Range")
		first, last, total, ok := parseContentRange(cr)
		if !ok || first != off || total < 0 || (resp.ContentLength >= 0 && resp.ContentLength != last-first+1) ||
			(partial && last >= end) {
			return 0, false, badRange(off, cr)
		}
		if (want.Size >= 0 && total != want.Size) || !sameValidator(want.Validator, resp.Header) {
			return 0, false, transport.ErrChanged
		}
		expect, more = last-first+1, last+1 < total && (end < 0 || last+1 < end)
	case resp.StatusCode == nethttp.StatusOK:
		// Dynamic content (no size, from byte 0) changes by nature, and
		// there is nothing before byte 0 it could be spliced to.
		dynamic := want.Size < 0 && off == 0
		if !dynamic && changed(want, resp) {
			return 0, false, transport.ErrChanged
		}
		if off > 0 || partial {
			return 0, false, transport.ErrNoRanges
		}
		expect = resp.ContentLength
	case resp.StatusCode == nethttp.StatusRequestedRangeNotSatisfiable:
		return 0, false, transport.ErrChanged // the file is shorter than off now
	default:
		return 0, false, t.statusError(resp)
	}
	if expect < 0 {
		expect = limit
	}
	n, err = t.copyBody(ctx, rctx, cancel, resp.Body, w, limit, expect)
	return n, more && err == nil, err
}

// copyBody copies body to w, writing at most limit bytes (when limit >= 0),
// and checks that expect bytes arrived (when expect >= 0). The idle timer
// runs only while waiting for the network, not while w writes.
func (t *Transport) copyBody(ctx, rctx context.Context, cancel context.CancelCauseFunc, body io.Reader, w io.Writer, limit, expect int64) (int64, error) {
	idle := time.AfterFunc(t.idle, func() { cancel(errIdle) })
	defer idle.Stop()
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for {
		p := buf
		if limit >= 0 && int64(len(p)) > limit-n+1 {
			p = p[:limit-n+1] // one byte more than allowed reveals a longer file
		}
		idle.Reset(t.idle)
		nr, rerr := body.Read(p)
		idle.Stop()
		if nr > 0 {
			over := limit >= 0 && n+int64(nr) > limit
			if over {
				nr = int(limit - n)
			}
			if nr > 0 {
				nw, werr := w.Write(p[:nr])
				n += int64(nw)
				if werr != nil {
					return n, werr
				}
				if nw != nr {
					return n, io.ErrShortWrite
				}
			}
			if over {
				return n, transport.ErrChanged
			}
		}
		switch {
		case ctx.Err() != nil:
			// Cancelled while the last bytes were written: the caller
			// hears of it, even if the body had ended.
			return n, t.netError(ctx, rctx, ctx.Err(), true)
		case rerr == io.EOF && expect >= 0 && n < expect:
			// Only a body without a length ends "cleanly" early: a cut
			// connection or a shorter file. Resuming tells which.
			return n, hresult.Transient(hresult.WINHTTP_CONNECTION_ERROR, hresult.ContextRemoteFile,
				"the response body ended after %d of %d bytes", n, expect)
		case rerr == io.EOF:
			return n, nil
		case rerr != nil:
			return n, t.netError(ctx, rctx, rerr, true)
		}
	}
}

func (t *Transport) newRequest(ctx context.Context, method string, r *transport.Request) (*nethttp.Request, error) {
	req, err := nethttp.NewRequestWithContext(ctx, method, r.URL.String(), nil)
	if err != nil {
		return nil, hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile, "%v", err)
	}
	req.Header.Set("User-Agent", t.userAgent)
	req.Header.Set("Accept", "*/*")
	req.Header.Set("Accept-Encoding", "identity")
	if err := setCustomHeaders(req, r.Headers); err != nil {
		return nil, err
	}
	return req, nil
}

// netError classifies a failed request or body read: the caller's
// cancellation wins, then our own idle timeout, then the error itself.
// connected says whether the request had its connection (see classify).
func (t *Transport) netError(ctx, rctx context.Context, err error, connected bool) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(context.Cause(rctx), errIdle) {
		return hresult.Transient(hresult.WINHTTP_TIMEOUT, hresult.ContextRemoteFile,
			"no data from the server for %s", t.idle)
	}
	return classify(err, connected)
}

// statusError turns an unexpected status into BG_E_HTTP_ERROR_nnn. The
// message is left to the code, which names the status.
func (t *Transport) statusError(resp *nethttp.Response) error {
	// Drain a little so that the connection can be reused.
	io.CopyN(io.Discard, resp.Body, 64<<10)
	e := &hresult.Error{
		Code:      hresult.HTTP(resp.StatusCode),
		Context:   hresult.ContextRemoteFile,
		Transient: hresult.HTTPTransient(resp.StatusCode),
	}
	if resp.StatusCode == nethttp.StatusTooManyRequests || resp.StatusCode == nethttp.StatusServiceUnavailable {
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), t.now())
	}
	return e
}

func checkScheme(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return hresult.Fatal(hresult.WINHTTP_UNRECOGNIZED_SCHEME, hresult.ContextRemoteFile,
			"the HTTP transport cannot fetch %q URLs", u.Scheme)
	}
	return nil
}

func missingSize() error {
	return hresult.Fatal(hresult.BG_E_MISSING_FILE_SIZE, hresult.ContextRemoteFile,
		"the server sent no Content-Length; the URL may point to dynamic content")
}

// encodingError refuses a body in another encoding than identity.
func encodingError(resp *nethttp.Response) error {
	if ce := resp.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return hresult.Fatal(hresult.BG_E_INSUFFICIENT_HTTP_SUPPORT, hresult.ContextRemoteFile,
			"the server sent Content-Encoding %q although only identity was accepted", ce)
	}
	return nil
}

func badRange(off int64, contentRange string) error {
	return hresult.Fatal(hresult.BG_E_INSUFFICIENT_RANGE_SUPPORT, hresult.ContextRemoteFile,
		"asked for bytes %d- and got Content-Range %q", off, contentRange)
}

// remoteInfo reads the validators of a response.
func remoteInfo(h nethttp.Header) transport.RemoteInfo {
	info := transport.RemoteInfo{Size: -1}
	lm := h.Get("Last-Modified")
	if t, err := nethttp.ParseTime(lm); err == nil {
		info.ModTime = t
	}
	if etag := h.Get("ETag"); isStrongETag(etag) {
		info.Validator = etag
	} else {
		info.Validator = lm
	}
	return info
}

func acceptsRanges(h nethttp.Header) bool {
	for _, v := range h.Values("Accept-Ranges") {
		for f := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), "bytes") {
				return true
			}
		}
	}
	return false
}

func isStrongETag(v string) bool { return strings.HasPrefix(v, `"`) }

// changed says whether a 200 response shows a different file than want.
func changed(want transport.RemoteInfo, resp *nethttp.Response) bool {
	if want.Size >= 0 && resp.ContentLength >= 0 && resp.ContentLength != want.Size {
		return true
	}
	return !sameValidator(want.Validator, resp.Header)
}

// sameValidator compares want with the same kind of validator in h. A
// response that lacks it (or has only a weak ETag) proves nothing, and is
// taken as unchanged: otherwise a server that sends validators on HEAD but
// not on GET could never be downloaded.
func sameValidator(want string, h nethttp.Header) bool {
	if want == "" {
		return true
	}
	if isStrongETag(want) {
		etag := h.Get("ETag")
		return !isStrongETag(etag) || etag == want
	}
	lm := h.Get("Last-Modified")
	if lm == "" || lm == want {
		return true
	}
	a, errA := nethttp.ParseTime(want)
	b, errB := nethttp.ParseTime(lm)
	return errA == nil && errB == nil && a.Equal(b)
}

// parseContentRange parses "bytes first-last/total" strictly; total is -1
// for "*".
func parseContentRange(v string) (first, last, total int64, ok bool) {
	rest, found := strings.CutPrefix(v, "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	span, size, found := strings.Cut(rest, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(span, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err error
	if first, err = parseCount(a); err != nil {
		return 0, 0, 0, false
	}
	if last, err = parseCount(b); err != nil || last < first {
		return 0, 0, 0, false
	}
	if size == "*" {
		return first, last, -1, true
	}
	if total, err = parseCount(size); err != nil || last >= total {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

// parseCount accepts only decimal digits: no sign, no spaces.
func parseCount(s string) (int64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(s, 10, 64)
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := parseCount(v); err == nil {
		if s > 1<<32 {
			s = 1 << 32 // keeps the Duration from overflowing
		}
		return time.Duration(s) * time.Second
	}
	if at, err := nethttp.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}
