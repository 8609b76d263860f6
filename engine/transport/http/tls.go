package http

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	nethttp "net/http"
	"sync"
	"time"

	"bits/engine/transport"
)

// BITS' BG_SSL_* security flags.
const (
	sslEnableCRLCheck    = 0x01
	sslIgnoreCNInvalid   = 0x02
	sslIgnoreDateInvalid = 0x04
	sslIgnoreUnknownCA   = 0x08
	sslIgnoreWrongUsage  = 0x10
	sslFlags             = 0x1F
)

// tlsConfig returns the TLS settings for a job: the Transport's base
// configuration with the job's client certificate. The certificate is read
// from its store each time a server asks for one (so a renewed certificate
// is picked up), and only then: a job whose servers never ask does not
// need it to exist. Whether a server asked is noted for the request (see
// connTrace.explain). The security flags are applied by verifyPerHost.
func (t *Transport) tlsConfig(s *transport.Settings) (*tls.Config, error) {
	cfg := &tls.Config{}
	if t.o.TLSConfig != nil {
		cfg = t.o.TLSConfig.Clone()
	}
	switch cc := s.ClientCert; {
	case cc != nil:
		cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			noteCertAsked(cri.Context(), true)
			return loadClientCert(cc)
		}
	case cfg.GetClientCertificate == nil && len(cfg.Certificates) == 0:
		cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			noteCertAsked(cri.Context(), false)
			return &tls.Certificate{}, nil // none, as crypto/tls sends by default
		}
	}
	return cfg, nil
}

// A verifier checks a server's certificate as crypto/tls would, except for
// the classes of failure the job's BG_SSL_IGNORE_* flags waive, each on its
// own: waiving an unknown CA still checks the dates, the host name and the
// usage, and so on. With BG_SSL_ENABLE_CRL_CHECK it then checks revocation
// (see crl.go).
type verifier struct {
	flags uint32
	roots *x509.CertPool // nil: the system's
	crl   *crlChecker    // nil without BG_SSL_ENABLE_CRL_CHECK
	now   func() time.Time
}

// newVerifier returns nil when crypto/tls's own checks are what the flags
// ask for, or when the base configuration already skips verification.
func newVerifier(flags uint32, base *tls.Config, crl *crlChecker) *verifier {
	flags &= sslFlags
	if flags == 0 || base.InsecureSkipVerify {
		return nil
	}
	v := &verifier{flags: flags, now: time.Now, roots: base.RootCAs}
	if flags&sslEnableCRLCheck != 0 {
		v.crl = crl
	}
	return v
}

// verify checks the chain a server presented for host, the name the
// request was for (a TLS callback only sees the SNI name, which is empty
// for an IP address).
func (v *verifier) verify(cs tls.ConnectionState, host string) error {
	certs := cs.PeerCertificates
	if len(certs) == 0 {
		return &tls.CertificateVerificationError{Err: errors.New("the server sent no certificate")}
	}
	opts := x509.VerifyOptions{
		Roots:         v.roots,
		Intermediates: x509.NewCertPool(),
		DNSName:       host,
		CurrentTime:   v.now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if v.flags&sslIgnoreCNInvalid != 0 {
		opts.DNSName = ""
	}
	if v.flags&sslIgnoreWrongUsage != 0 {
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	}
	if v.flags&sslIgnoreUnknownCA != 0 {
		// Trust what the server sent: the leaf then anchors its own chain,
		// and x509 still checks its dates, name and usage.
		opts.Roots = x509.NewCertPool()
		for _, c := range certs {
			opts.Roots.AddCert(c)
		}
	}
	chains, err := v.chains(certs, opts)
	if err != nil {
		return &tls.CertificateVerificationError{UnverifiedCertificates: certs, Err: err}
	}
	if v.crl != nil {
		return v.crl.check(chains[0], v.now())
	}
	return nil
}

// chains runs x509's verification. To waive the dates it verifies at a
// moment when the chain is valid instead of now: the moment nearest now in
// the span all the certificates the server sent are valid in; failing
// that, the span's ends, for an issuer from the trust store whose validity
// is shorter (x509 does not say which certificate it found out of date).
// The first failure is the one reported.
func (v *verifier) chains(certs []*x509.Certificate, opts x509.VerifyOptions) ([][]*x509.Certificate, error) {
	if v.flags&sslIgnoreDateInvalid == 0 {
		return certs[0].Verify(opts)
	}
	from, until := certs[0].NotBefore, certs[0].NotAfter
	for _, c := range certs[1:] {
		from, until = narrow(from, until, c)
	}
	if from.After(until) {
		from, until = certs[0].NotBefore, certs[0].NotAfter
	}
	var first error
	for _, at := range []time.Time{clampTime(opts.CurrentTime, from, until), from, until} {
		opts.CurrentTime = at
		chains, err := certs[0].Verify(opts)
		if err == nil {
			return chains, nil
		}
		if first == nil {
			first = err
		}
	}
	return nil, first
}

// narrow intersects the span from-until with c's validity.
func narrow(from, until time.Time, c *x509.Certificate) (time.Time, time.Time) {
	if c.NotBefore.After(from) {
		from = c.NotBefore
	}
	if c.NotAfter.Before(until) {
		until = c.NotAfter
	}
	return from, until
}

// clampTime returns the moment of from-until nearest to now.
func clampTime(now, from, until time.Time) time.Time {
	switch {
	case now.Before(from):
		return from
	case now.After(until):
		return until
	}
	return now
}

// verifyPerHost makes template check certificates with v: it hands every
// https request to a transport of its own for the request's host, whose
// TLS check knows that host (crypto/tls does its own checks with the host
// net/http gives it, but a custom check only sees the SNI name, which is
// empty for IP addresses). Those transports are clones of template, made
// at their first request, so they share its proxy, dialer, timeouts and
// the proxy hooks authenticate sets on it; template keeps plain http
// requests on HTTP/1.1. It returns the pools it made, for
// CloseIdleConnections.
func verifyPerHost(template *nethttp.Transport, v *verifier, protocols *nethttp.Protocols) *verifyingTransport {
	vt := &verifyingTransport{v: v, template: template, protocols: protocols, byHost: map[string]*nethttp.Transport{}}
	var h1 nethttp.Protocols
	h1.SetHTTP1(true)
	template.Protocols = &h1 // so that HTTP/2 does not claim https on it
	template.RegisterProtocol("https", vt)
	return vt
}

type verifyingTransport struct {
	v         *verifier
	template  *nethttp.Transport
	protocols *nethttp.Protocols

	mu     sync.Mutex
	byHost map[string]*nethttp.Transport
}

func (vt *verifyingTransport) RoundTrip(req *nethttp.Request) (*nethttp.Response, error) {
	return vt.transport(req.URL.Hostname()).RoundTrip(req)
}

func (vt *verifyingTransport) transport(host string) *nethttp.Transport {
	vt.mu.Lock()
	defer vt.mu.Unlock()
	if rt, ok := vt.byHost[host]; ok {
		return rt
	}
	rt := vt.template.Clone()
	cfg := rt.TLSClientConfig.Clone()
	cfg.InsecureSkipVerify = true // verify does the checking instead
	cfg.VerifyConnection = func(cs tls.ConnectionState) error { return vt.v.verify(cs, host) }
	rt.TLSClientConfig = cfg
	rt.Protocols = vt.protocols
	vt.byHost[host] = rt
	return rt
}

// CloseIdleConnections closes the idle connections of every host's pool.
func (vt *verifyingTransport) CloseIdleConnections() {
	vt.mu.Lock()
	defer vt.mu.Unlock()
	for _, rt := range vt.byHost {
		rt.CloseIdleConnections()
	}
}
