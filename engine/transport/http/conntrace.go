package http

import (
	"context"
	"net/http/httptrace"
	"sync/atomic"

	"bits/engine/transport"
	"bits/hresult"
)

// connTrace follows how a request got its connection, so that its
// failures can be placed: one while the connection is made (resolving,
// connecting, the proxy, TLS) is the general transport's, one after it is
// the remote file's. Each redirect gets a connection of its own.
type connTrace struct {
	connected atomic.Bool
	certAsked atomic.Bool // the TLS server asked for a client certificate
	certSent  atomic.Bool // and the job had one to send
}

// connTraceKey carries the request's connTrace to the TLS handshake,
// whose context is the request's.
type connTraceKey struct{}

// trace follows the request's connections, and tells ctx's connection
// observer of each.
func (c *connTrace) trace(ctx context.Context) *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GetConn: func(string) { c.connected.Store(false) },
		GotConn: func(info httptrace.GotConnInfo) {
			c.connected.Store(true)
			transport.ObserveConn(ctx, info.Conn)
		},
	}
}

// noteCertAsked records, for the request that made the connection, that
// the server asked for a client certificate.
func noteCertAsked(ctx context.Context, sent bool) {
	if c, ok := ctx.Value(connTraceKey{}).(*connTrace); ok {
		c.certAsked.Store(true)
		c.certSent.Store(sent)
	}
}

// explain turns a dropped connection into WINHTTP_CLIENT_AUTH_CERT_NEEDED
// when the server had just asked for a client certificate. With TLS 1.3
// the server judges the certificate after the client's handshake is done:
// its refusal (an alert, then a closed connection) often reaches the
// client only as a failed write or an early end of the connection.
func (c *connTrace) explain(err error) error {
	he, ok := err.(*hresult.Error)
	if !ok || !c.certAsked.Load() || !he.Transient ||
		(he.Code != hresult.WINHTTP_CONNECTION_ERROR && he.Code != hresult.WINHTTP_INVALID_SERVER_RESPONSE) {
		return err
	}
	sent := "the job has none to send"
	if c.certSent.Load() {
		sent = "it may not accept the job's"
	}
	return hresult.Fatal(hresult.WINHTTP_CLIENT_AUTH_CERT_NEEDED, hresult.ContextGeneralTransport,
		"the server asked for a client certificate and then closed the connection (%s): %s", sent, he.Msg)
}
