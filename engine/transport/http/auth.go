package http

import (
	"errors"
	"io"
	nethttp "net/http"
	"net/url"
	"strings"

	"bits/engine/transport"
	"bits/hresult"
)

// maxAuthTries bounds the requests sent for one: enough for an NTLM
// handshake with the proxy and another with the server.
const maxAuthTries = 8

// authenticate wraps rt so that it answers the server's and the proxy's
// challenges with the job's credentials, and so that a proxy of an
// OVERRIDE list that cannot be connected to gives way to the next one
// (sendTrying). The proxy's challenges to the CONNECT of an HTTPS tunnel
// are answered where the tunnel is opened (tunnel.go).
//
// Credentials are only sent after a challenge, never first. Server
// credentials go only to the host of the job's URL (redirects elsewhere get
// none); proxy credentials only to the proxy that asked.
func authenticate(rt nethttp.RoundTripper, creds []transport.Credential, krb *kerberos) nethttp.RoundTripper {
	return &authTransport{
		next:   rt,
		server: credentialsFor(creds, transport.TargetServer),
		proxy:  credentialsFor(creds, transport.TargetProxy),
		krb:    krb,
	}
}

type authTransport struct {
	next          nethttp.RoundTripper
	server, proxy map[transport.AuthScheme]transport.Credential
	krb           *kerberos
}

// credentialsFor keeps one target's credentials by scheme. Implicit ones
// (NULL user and password: the logged-on identity) mean the user's
// Kerberos tickets for Negotiate; for NTLM they have no meaning here and
// are left out, so a challenge for them gets no answer.
func credentialsFor(creds []transport.Credential, target transport.AuthTarget) map[transport.AuthScheme]transport.Credential {
	out := map[transport.AuthScheme]transport.Credential{}
	for _, c := range creds {
		if c.Target == target && (!c.Implicit || c.Scheme == transport.SchemeNegotiate) && c.Scheme != transport.SchemePassport {
			out[c.Scheme] = c
		}
	}
	return out
}

func (a *authTransport) RoundTrip(req *nethttp.Request) (*nethttp.Response, error) {
	var (
		server, proxy               *handshake
		serverAnswer, proxyAnswer   string
		pin                         *url.URL
		answerServer                = len(a.server) > 0 && sameHost(originalURL(req), req.URL)
		proxyURI, serverURI, method = req.URL.String(), req.URL.RequestURI(), req.Method
	)
	for try := 1; ; try++ {
		r := req
		if serverAnswer != "" || proxyAnswer != "" {
			r = req.Clone(req.Context())
			body, err := rewindBody(req)
			if err != nil {
				return nil, err
			}
			r.Body = body
			setHeader(r.Header, "Authorization", serverAnswer)
			setHeader(r.Header, "Proxy-Authorization", proxyAnswer)
		}
		resp, via, err := sendTrying(a.next, r, pin)
		if err != nil {
			var refused *tunnelRefused
			if errors.As(err, &refused) {
				return nil, refused.hresult(len(a.proxy) > 0)
			}
			return nil, err
		}

		var h **handshake
		var creds map[transport.AuthScheme]transport.Credential
		var header, host string
		switch {
		case resp.StatusCode == nethttp.StatusUnauthorized && answerServer:
			h, creds, header, host = &server, a.server, "WWW-Authenticate", req.URL.Hostname()
		case resp.StatusCode == nethttp.StatusProxyAuthRequired && via != nil && req.URL.Scheme == "http":
			h, creds, header, host = &proxy, a.proxy, "Proxy-Authenticate", via.Hostname()
			pin = via
		default:
			return resp, nil
		}
		cs := parseChallenges(resp.Header.Values(header))
		var ok bool
		switch {
		case try >= maxAuthTries:
		case *h == nil:
			*h = startHandshake(cs, creds, host, a.krb)
			ok = *h != nil
		default:
			ok = (*h).challenged(cs)
		}
		if ok {
			// Every handshake under way answers again: Basic and Digest
			// authenticate each request, NTLM only its connection.
			serverAnswer, proxyAnswer, err = answerBoth(server, proxy, method, serverURI, proxyURI)
			ok = err == nil && (h == &server && serverAnswer != "" || h == &proxy && proxyAnswer != "")
		}
		if !ok {
			var failed error
			if *h != nil {
				failed = (*h).failed
			}
			switch {
			case h == &proxy:
				drain(resp)
				return nil, authError(nethttp.StatusProxyAuthRequired, via, cs, len(a.proxy) > 0, failed)
			case failed != nil:
				drain(resp)
				return nil, authError(nethttp.StatusUnauthorized, req.URL, cs, true, failed)
			}
			return resp, nil // the caller reports the 401
		}
		drain(resp)
	}
}

func answerBoth(server, proxy *handshake, method, serverURI, proxyURI string) (s, p string, err error) {
	if server != nil {
		if s, err = server.answer(method, serverURI); err != nil {
			return "", "", err
		}
	}
	if proxy != nil {
		if p, err = proxy.answer(method, proxyURI); err != nil {
			return "", "", err
		}
	}
	return s, p, nil
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport.
func (a *authTransport) CloseIdleConnections() {
	if c, ok := a.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// tunnelRefused is a proxy's answer other than 200 to CONNECT.
type tunnelRefused struct {
	proxy      *url.URL
	status     int
	text       string
	challenges []challenge
	answered   bool  // the CONNECT carried credentials
	failed     error // why Kerberos could not answer, if it could not
}

func (e *tunnelRefused) Error() string {
	return "the proxy " + e.proxy.Redacted() + " refused to open a tunnel: " + e.text
}

func (e *tunnelRefused) hresult(haveCreds bool) error {
	if e.status == nethttp.StatusProxyAuthRequired {
		return authError(e.status, e.proxy, e.challenges, haveCreds, e.failed)
	}
	return &hresult.Error{
		Code:      hresult.HTTP(e.status),
		Context:   hresult.ContextGeneralTransport,
		Msg:       e.Error(),
		Transient: hresult.HTTPTransient(e.status),
	}
}

// authError is the fatal 407 from a proxy, or 401 from a server: no
// credential for what it offers, one it refused, or, in failed, why
// Kerberos could not answer.
func authError(status int, target *url.URL, cs []challenge, haveCreds bool, failed error) error {
	var offered []string
	for _, c := range cs {
		name := c.scheme
		for _, s := range authSchemes {
			if s.name == c.scheme {
				name = s.header // as servers write it
			}
		}
		offered = append(offered, name)
	}
	who, where, whose := "the server", hresult.ContextRemoteFile, "server"
	if status == nethttp.StatusProxyAuthRequired {
		who, where, whose = "the proxy", hresult.ContextGeneralTransport, "proxy"
	}
	why := "the job has no " + whose + " credentials"
	switch {
	case failed != nil:
		why = failed.Error()
	case haveCreds:
		why = "the job's " + whose + " credentials were refused or do not fit its schemes"
	}
	return hresult.Fatal(hresult.HTTP(status), where,
		"%s %s asks for authentication (%s): %s", who, target.Redacted(), strings.Join(offered, ", "), why)
}

// originalURL is the URL the client asked for before any redirect.
func originalURL(req *nethttp.Request) *url.URL {
	for i := 0; i < 64 && req.Response != nil && req.Response.Request != nil; i++ {
		req = req.Response.Request
	}
	return req.URL
}

// sameHost reports whether server credentials for orig may go to u: the
// same host name and port, or the same host moved from http to https on
// the default ports; never from https down to http.
func sameHost(orig, u *url.URL) bool {
	switch {
	case !strings.EqualFold(orig.Hostname(), u.Hostname()):
		return false
	case orig.Scheme == "https" && u.Scheme != "https":
		return false
	case urlPort(orig) == urlPort(u):
		return true
	}
	return orig.Scheme == "http" && u.Scheme == "https" && urlPort(orig) == "80" && urlPort(u) == "443"
}

func setHeader(h nethttp.Header, name, value string) {
	if value != "" {
		h.Set(name, value)
	}
}

// drain reads a little of a challenge's body so that its connection can
// carry the next request, which NTLM needs.
func drain(resp *nethttp.Response) {
	io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}
