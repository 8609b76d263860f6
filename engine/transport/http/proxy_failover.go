package http

import (
	"context"
	"errors"
	"net"
	nethttp "net/http"
	"net/url"
	"sync"

	"bits/hresult"
)

// Proxy failover works at the round-trip level: net/http dials the proxy
// its Proxy function names, so sendTrying hands the request a
// proxyAttempt, through its context, that tells the Proxy function which
// proxies were tried already, and sends the request again when the proxy
// could not be connected to. Sending a request again is safe: downloads
// have no body, and an upload fragment's body is read again (rewindBody).

type attemptKey struct{}

// proxyAttempt follows one request through the proxies of its list.
type proxyAttempt struct {
	mu     sync.Mutex
	pin    *url.URL        // when set, the only proxy allowed
	tried  map[string]bool // proxy host:port that could not be connected to
	proxy  *url.URL        // the proxy of the current try; nil: direct
	tunnel *url.URL        // proxy, when the tunnel to an HTTPS origin is opened by the tunneler
	left   int             // proxies not tried yet after this one
	picker *proxyPicker
}

// choose picks the first proxy of list not tried yet.
func (a *proxyAttempt) choose(p *proxyPicker, list []*url.URL) *url.URL {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.picker, a.proxy, a.tunnel, a.left = p, nil, nil, 0
	if a.pin != nil {
		a.proxy = a.pin
		return a.proxy
	}
	for _, u := range list {
		switch {
		case a.tried[u.Host]:
		case a.proxy == nil:
			a.proxy = u
		default:
			a.left++
		}
	}
	if a.proxy == nil && len(list) > 0 {
		// Never fall back to a direct connection the settings do not allow.
		a.proxy = list[len(list)-1]
	}
	return a.proxy
}

// sendTrying sends req through rt, which must use a Proxy function from
// proxyFunc, and reports the proxy it went through (nil: direct). When
// that proxy cannot be connected to, req goes through the next proxy of the
// list; when none can, the error is transient, in the transport context.
// pin, when set, is the only proxy allowed: one that asked for credentials
// gets the answer, not another.
func sendTrying(rt nethttp.RoundTripper, req *nethttp.Request, pin *url.URL) (*nethttp.Response, *url.URL, error) {
	a := &proxyAttempt{pin: pin, tried: map[string]bool{}}
	req = req.WithContext(context.WithValue(req.Context(), attemptKey{}, a))
	for {
		resp, err := rt.RoundTrip(req)
		a.mu.Lock()
		proxy, left, picker := a.proxy, a.left, a.picker
		a.mu.Unlock()
		if proxy == directRoute {
			proxy = nil
		}
		if err == nil || proxy == nil || !isProxyDialError(err) || req.Context().Err() != nil {
			return resp, proxy, err
		}
		picker.markDown(proxy)
		a.mu.Lock()
		a.tried[proxy.Host] = true
		tried := len(a.tried)
		a.mu.Unlock()
		if left == 0 || pin != nil {
			return nil, proxy, proxyUnreachable(proxy, tried, err)
		}
		if req.Body, err = rewindBody(req); err != nil {
			return nil, proxy, err
		}
	}
}

// isProxyDialError reports a failure to open the connection to a proxy,
// as opposed to a failure after it was opened.
func isProxyDialError(err error) bool {
	var op, dial *net.OpError
	return errors.As(err, &op) && op.Op == "proxyconnect" &&
		errors.As(op.Err, &dial) && dial.Op == "dial"
}

func proxyUnreachable(proxy *url.URL, tried int, err error) error {
	var (
		dns *net.DNSError
		ne  net.Error
	)
	code := hresult.WINHTTP_CANNOT_CONNECT
	switch {
	case errors.As(err, &dns):
		code = hresult.BG_E_PROXY_NAME_RESOLUTION_FAILURE
	case errors.As(err, &ne) && ne.Timeout():
		code = hresult.WINHTTP_TIMEOUT
	}
	if tried > 1 {
		return hresult.Transient(code, hresult.ContextGeneralTransport,
			"could not connect to any of %d proxies; the last, %s: %v", tried, proxy.Redacted(), err)
	}
	return hresult.Transient(code, hresult.ContextGeneralTransport,
		"could not connect to the proxy %s: %v", proxy.Redacted(), err)
}
