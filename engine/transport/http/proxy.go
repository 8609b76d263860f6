package http

import (
	nethttp "net/http"
	"net/url"
	"sync"
	"time"

	"bits/engine/transport"
	"bits/hresult"
)

// proxyDownFor is how long a proxy that could not be connected to goes to
// the end of its list, so that a dead first proxy does not cost every
// request a failed connection (WinHTTP keeps a similar bad-proxy list).
const proxyDownFor = 5 * time.Minute

// proxyFunc returns the proxy chooser for a job's proxy settings: nil for a
// direct connection. It reads getenv's proxy variables now, for
// PRECONFIG and AUTODETECT (a PAC file is read at the first request), and
// checks an OVERRIDE list; invalid settings are a fatal
// BG_E_INVALID_PROXY_INFO.
//
// The chooser answers the first proxy of the list for the request. When
// the request carries a proxyAttempt (see sendTrying), it answers the next
// proxy not yet tried instead, which is how a proxy that cannot be
// connected to gives way to the next one.
func proxyFunc(p transport.Proxy, getenv func(string) string) (func(*nethttp.Request) (*url.URL, error), error) {
	var route func(*url.URL) []*url.URL
	switch p.Usage {
	case transport.ProxyNone:
		return nil, nil
	case transport.ProxyOverride:
		o, err := parseOverride(p.List, p.Bypass)
		if err != nil {
			return nil, err
		}
		route = o.route
	case transport.ProxyPreconfig, transport.ProxyAutodetect:
		// The proxy variables first, then the desktop's PAC file, then,
		// for AUTODETECT, WPAD (see docs/transports.md).
		e, err := environmentProxies(getenv)
		if err != nil {
			return nil, err
		}
		if e != nil {
			route = e.route
		} else {
			route = newPACRouter(getenv, p.Usage == transport.ProxyAutodetect).route
		}
	default:
		return nil, invalidProxy("unknown proxy usage %d", p.Usage)
	}
	pk := &proxyPicker{route: route, now: time.Now, down: map[string]time.Time{}}
	return pk.proxyFor, nil
}

// proxyPicker orders the proxies for each request.
type proxyPicker struct {
	route func(*url.URL) []*url.URL // the proxies for a URL, in order (directRoute among them); none: direct
	now   func() time.Time

	mu   sync.Mutex
	down map[string]time.Time // by proxy host:port: when it last failed
}

// directRoute, in a list of proxies, is a direct connection, as a PAC
// file's DIRECT after its proxies: the way to go when they cannot be
// connected to.
var directRoute = &url.URL{Scheme: "direct"}

func (p *proxyPicker) proxyFor(req *nethttp.Request) (*url.URL, error) {
	list := p.candidates(req.URL)
	var u *url.URL
	if a, ok := req.Context().Value(attemptKey{}).(*proxyAttempt); ok {
		u = a.choose(p, list)
	} else if len(list) > 0 {
		u = list[0]
	}
	if u == directRoute {
		return nil, nil
	}
	return u, nil
}

// candidates returns u's proxies in list order, except that those that
// failed within proxyDownFor come last.
func (p *proxyPicker) candidates(u *url.URL) []*url.URL {
	list := p.route(u)
	if len(list) < 2 {
		return list
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	var up, down []*url.URL
	for _, proxy := range list {
		if at, ok := p.down[proxy.Host]; ok && now.Sub(at) < proxyDownFor {
			down = append(down, proxy)
		} else {
			up = append(up, proxy)
		}
	}
	return append(up, down...)
}

func (p *proxyPicker) markDown(proxy *url.URL) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down[proxy.Host] = p.now()
}

func invalidProxy(format string, args ...any) error {
	return hresult.Fatal(hresult.BG_E_INVALID_PROXY_INFO, hresult.ContextGeneralTransport, format, args...)
}
