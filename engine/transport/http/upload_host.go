package http

import (
	"context"
	"errors"
	"io"
	"net"
	nethttp "net/http"
	"time"

	"bits/engine/transport"
	"bits/hresult"
)

// Web farms: a server that answers Create-Session with BITS-Host-Id wants
// every later packet of the session sent to that host, which holds the
// session, rather than to the farm's address. When the host cannot be
// reached, the client keeps trying it for BITS-Host-Id-Fallback-Timeout
// (the timer starts at the first failure and a packet that gets through
// resets it), then goes back to the original URL for good; without that
// header it never does.

// postSession sends a packet of session k: to the host the server named
// for it, unless the client fell back to the original URL.
func (t *Transport) postSession(ctx context.Context, r *transport.Request, k token, packet string, set func(nethttp.Header), body *io.SectionReader) (answer, error) {
	key := memoryKey(r.URL, k.id)
	if k.host == "" || t.uploads.fellBack(key) {
		return t.post(ctx, r, packet, set, body)
	}
	a, err := t.post(ctx, onHost(r, k.host), packet, set, body)
	switch {
	case err == nil:
		t.uploads.hostAnswered(key)
	case unreachable(err) && t.uploads.hostFailed(key, t.now(), k.fallback):
		return t.post(ctx, r, packet, set, body)
	}
	return a, err
}

// onHost returns r aimed at host instead of its URL's host. A host named
// without a port keeps the URL's port.
func onHost(r *transport.Request, host string) *transport.Request {
	u := *r.URL
	if _, _, err := net.SplitHostPort(host); err != nil && u.Port() != "" {
		host = net.JoinHostPort(host, u.Port())
	}
	u.Host = host
	c := *r
	c.URL = &u
	return &c
}

// unreachable says whether a packet failed before it reached the server:
// no name, no route, no connection, no TLS session.
func unreachable(err error) bool {
	var he *hresult.Error
	return errors.As(err, &he) && he.Context == hresult.ContextGeneralTransport
}

// hostState is what a session's client knows of its named host.
type hostState struct {
	failingSince time.Time // zero while the host answers
	fellBack     bool
}

// hostFailed records that the session's host could not be reached at now
// and reports whether the client now falls back to the original URL.
func (m *uploadMemory) hostFailed(session string, now time.Time, fallback time.Duration) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hosts == nil || len(m.hosts) >= maxRemembered {
		m.hosts = map[string]*hostState{}
	}
	h := m.hosts[session]
	if h == nil {
		h = &hostState{}
		m.hosts[session] = h
	}
	if h.failingSince.IsZero() {
		h.failingSince = now
	}
	h.fellBack = fallback > 0 && now.Sub(h.failingSince) >= fallback
	return h.fellBack
}

func (m *uploadMemory) hostAnswered(session string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := m.hosts[session]; h != nil {
		h.failingSince = time.Time{}
	}
}

func (m *uploadMemory) fellBack(session string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.hosts[session]
	return h != nil && h.fellBack
}
