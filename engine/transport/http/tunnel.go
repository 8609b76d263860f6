package http

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	nethttp "net/http"
	"net/url"
	"sync"
	"time"

	"bits/engine/transport"
)

// HTTPS through an http or https proxy: the tunnel is opened here rather
// than by net/http, whose CONNECT closes the connection when the proxy
// answers 407. NTLM and Negotiate authenticate a connection, with a
// handshake of several requests on it, so they need the tunnel's CONNECTs
// to share one. The request goes "direct" as net/http sees it (its Proxy
// function answers nil), and the dialer it calls opens the tunnel to the
// origin, which net/http then speaks TLS over as it would over a TCP
// connection.
//
// Requests outside sendTrying (the CRL fetches) carry no proxyAttempt and
// keep net/http's own CONNECT: they have no credentials to answer with.

// A tunneler opens tunnels through proxies for one client.
type tunneler struct {
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
	creds     map[transport.AuthScheme]transport.Credential // for proxies
	krb       *kerberos
	tlsConfig *tls.Config   // for https proxies; nil: the defaults
	timeout   time.Duration // for each CONNECT's answer
	userAgent string

	mu         sync.Mutex
	preemptive map[string]*handshake // by proxy host:port: the Basic or Digest handshake it took, answered before it asks
}

// proxy wraps a proxy chooser: an HTTPS request whose proxy is http or
// https goes direct as net/http sees it, and its proxyAttempt keeps the
// proxy for dialContext. socks proxies stay net/http's.
func (t *tunneler) proxy(choose func(*nethttp.Request) (*url.URL, error)) func(*nethttp.Request) (*url.URL, error) {
	if choose == nil {
		return nil
	}
	return func(req *nethttp.Request) (*url.URL, error) {
		u, err := choose(req)
		if err != nil || u == nil || req.URL.Scheme != "https" || (u.Scheme != "http" && u.Scheme != "https") {
			return u, err
		}
		a, ok := req.Context().Value(attemptKey{}).(*proxyAttempt)
		if !ok {
			return u, nil
		}
		a.mu.Lock()
		a.tunnel = u
		a.mu.Unlock()
		return nil, nil
	}
}

// dialContext is the transport's dialer: a tunnel through the proxy the
// request's attempt names, a plain connection otherwise.
func (t *tunneler) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var proxy *url.URL
	if a, ok := ctx.Value(attemptKey{}).(*proxyAttempt); ok {
		a.mu.Lock()
		proxy = a.tunnel
		a.mu.Unlock()
	}
	if proxy == nil {
		return t.dial(ctx, network, addr)
	}
	return t.open(ctx, proxy, addr)
}

// open opens a tunnel to target through proxy, answering the proxy's
// challenges. Errors are net.OpErrors of the "proxyconnect" operation, as
// net/http's own, except the proxy's refusal, a *tunnelRefused.
func (t *tunneler) open(ctx context.Context, proxy *url.URL, target string) (net.Conn, error) {
	var (
		h      *handshake
		answer = t.knownAnswer(proxy, target)
		conn   net.Conn
		br     *bufio.Reader
	)
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for try := 1; ; try++ {
		if conn == nil {
			var err error
			if conn, err = t.connect(ctx, proxy); err != nil {
				return nil, &net.OpError{Op: "proxyconnect", Net: "tcp", Err: err}
			}
			br = bufio.NewReader(conn)
		}
		resp, err := t.ask(ctx, conn, br, target, answer)
		if err != nil {
			return nil, &net.OpError{Op: "proxyconnect", Net: "tcp", Err: err}
		}
		if resp.StatusCode == nethttp.StatusOK {
			if h != nil && (h.scheme == transport.SchemeBasic || h.scheme == transport.SchemeDigest) {
				t.remember(proxy, h)
			}
			c := conn
			conn = nil
			if br.Buffered() > 0 {
				return &bufferedConn{Conn: c, r: br}, nil
			}
			return c, nil
		}
		refused := &tunnelRefused{
			proxy:      proxy,
			status:     resp.StatusCode,
			text:       resp.Status,
			challenges: parseChallenges(resp.Header.Values("Proxy-Authenticate")),
			answered:   answer != "",
		}
		drain(resp)
		if resp.StatusCode != nethttp.StatusProxyAuthRequired || try >= maxAuthTries {
			return nil, refused
		}
		var ok bool
		if h == nil {
			h = startHandshake(refused.challenges, t.creds, proxy.Hostname(), t.krb)
			ok = h != nil
		} else {
			ok = h.challenged(refused.challenges)
		}
		if !ok {
			if h != nil {
				refused.failed = h.failed
			}
			return nil, refused
		}
		midway := h.token != nil // NTLM's AUTHENTICATE must follow its CHALLENGE on one connection
		if answer, err = h.answer(nethttp.MethodConnect, target); err != nil || answer == "" {
			refused.failed = h.failed
			return nil, refused
		}
		if resp.Close {
			if midway {
				return nil, &net.OpError{Op: "proxyconnect", Net: "tcp",
					Err: errors.New("the proxy closed the connection in the middle of an " + h.name + " handshake")}
			}
			conn.Close()
			conn = nil
		}
	}
}

// connect opens the connection to proxy: TCP, and TLS when its scheme is
// https.
func (t *tunneler) connect(ctx context.Context, proxy *url.URL) (net.Conn, error) {
	conn, err := t.dial(ctx, "tcp", proxy.Host)
	if err != nil || proxy.Scheme != "https" {
		return conn, err
	}
	cfg := &tls.Config{}
	if t.tlsConfig != nil {
		cfg = t.tlsConfig.Clone()
	}
	cfg.ServerName, cfg.NextProtos = proxy.Hostname(), nil
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// ask sends one CONNECT on conn and reads the proxy's answer, within the
// transport's header timeout and ctx.
func (t *tunneler) ask(ctx context.Context, conn net.Conn, br *bufio.Reader, target, answer string) (*nethttp.Response, error) {
	req := &nethttp.Request{
		Method: nethttp.MethodConnect,
		URL:    &url.URL{Opaque: target},
		Host:   target,
		Header: nethttp.Header{},
	}
	setHeader(req.Header, "User-Agent", t.userAgent)
	setHeader(req.Header, "Proxy-Authorization", answer)
	if t.timeout > 0 {
		conn.SetDeadline(time.Now().Add(t.timeout))
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := req.Write(conn); err != nil {
		return nil, ctxErrOr(ctx, err)
	}
	resp, err := nethttp.ReadResponse(br, req)
	if err != nil {
		return nil, ctxErrOr(ctx, err)
	}
	conn.SetDeadline(time.Time{})
	return resp, nil
}

// ctxErrOr prefers ctx's error to the I/O error its cancellation caused.
func ctxErrOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// knownAnswer is the answer to send with the first CONNECT to proxy: the
// Basic or Digest answer it took before, or Basic with the user and
// password of its URL, as net/http sends them; "" when there is none.
func (t *tunneler) knownAnswer(proxy *url.URL, target string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h := t.preemptive[proxy.Host]; h != nil {
		if v, err := h.answer(nethttp.MethodConnect, target); err == nil {
			return v
		}
	}
	if u := proxy.User; u != nil {
		password, _ := u.Password()
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+password))
	}
	return ""
}

// remember keeps a per-request handshake (Basic, Digest) that opened a
// tunnel through proxy, so that the next tunnel answers before it is asked.
func (t *tunneler) remember(proxy *url.URL, h *handshake) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.preemptive[proxy.Host] = h
}

// bufferedConn is a connection whose first bytes were read into r already.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
