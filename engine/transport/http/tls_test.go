package http

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/testenv"
)

// serveCert starts a TLS origin that presents cert.
func serveCert(t *testing.T, content []byte, cert issued, opts ...testenv.OriginOption) *testenv.Origin {
	t.Helper()
	opts = append(opts, testenv.ServerTLS(&tls.Config{Certificates: []tls.Certificate{cert.tls}}))
	return testenv.NewTLSOrigin(t, content, opts...)
}

// localhostURL names the origin by host name rather than by address, so
// the client sends SNI.
func localhostURL(o *testenv.Origin, path string) string {
	return strings.Replace(o.URL(path), "127.0.0.1", "localhost", 1)
}

func TestSecurityFlags(t *testing.T) {
	ca := newCA(t, "trusted root")
	stranger := newCA(t, "unknown root")
	content := testenv.RandomContent(1000, 40)
	past := time.Now().Add(-48 * time.Hour)
	const allIgnores = sslIgnoreCNInvalid | sslIgnoreDateInvalid | sslIgnoreUnknownCA | sslIgnoreWrongUsage

	for _, tc := range []struct {
		name string
		cert issued
		code hresult.Code // what fails without the flag
		flag uint32       // the flag that waives it
	}{
		{"host name", ca.issue(t, certSpec{dnsNames: []string{"elsewhere.test"}}), hresult.WINHTTP_SECURE_CERT_CN_INVALID, sslIgnoreCNInvalid},
		{"expired", ca.issue(t, certSpec{notBefore: past, notAfter: past.Add(time.Hour)}), hresult.WINHTTP_SECURE_CERT_DATE_INVALID, sslIgnoreDateInvalid},
		{"not yet valid", ca.issue(t, certSpec{notBefore: time.Now().Add(time.Hour), notAfter: time.Now().Add(2 * time.Hour)}), hresult.WINHTTP_SECURE_CERT_DATE_INVALID, sslIgnoreDateInvalid},
		{"unknown CA", stranger.issue(t, certSpec{}), hresult.WINHTTP_SECURE_INVALID_CA, sslIgnoreUnknownCA},
		{"wrong usage", ca.issue(t, certSpec{usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}), hresult.WINHTTP_SECURE_CERT_WRONG_USAGE, sslIgnoreWrongUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := serveCert(t, content, tc.cert)
			for _, host := range []string{"address", "name"} {
				u := o.URL("/file")
				if host == "name" {
					u = localhostURL(o, "/file")
				}
				try := func(flags uint32) error {
					r := parse(t, u)
					r.SecurityFlags = flags
					tr := New(Options{TLSConfig: &tls.Config{RootCAs: ca.pool}})
					info, err := tr.Stat(context.Background(), r)
					if err != nil {
						return err
					}
					var buf bytes.Buffer
					if _, err := tr.Download(context.Background(), r, 0, -1, info, &buf); err != nil {
						return err
					}
					wantSum(t, buf.Bytes(), content)
					return nil
				}
				wantConnectHR(t, try(0), tc.code, false)
				// Every other flag together still fails, with the same code.
				wantConnectHR(t, try(allIgnores&^tc.flag), tc.code, false)
				if err := try(tc.flag); err != nil {
					t.Fatalf("%s, flag 0x%x: %v", host, tc.flag, err)
				}
			}
		})
	}

	t.Run("two faults need both flags", func(t *testing.T) {
		cert := stranger.issue(t, certSpec{notBefore: past, notAfter: past.Add(time.Hour)})
		o := serveCert(t, content, cert)
		tr := New(Options{TLSConfig: &tls.Config{RootCAs: ca.pool}})
		for flags, want := range map[uint32]hresult.Code{
			sslIgnoreUnknownCA:   hresult.WINHTTP_SECURE_CERT_DATE_INVALID,
			sslIgnoreDateInvalid: hresult.WINHTTP_SECURE_INVALID_CA,
		} {
			r := parse(t, o.URL("/file"))
			r.SecurityFlags = flags
			_, err := tr.Stat(context.Background(), r)
			wantConnectHR(t, err, want, false)
		}
		r := parse(t, o.URL("/file"))
		r.SecurityFlags = sslIgnoreUnknownCA | sslIgnoreDateInvalid
		if info := stat(t, tr, r); info.Size != 1000 {
			t.Fatalf("Size = %d", info.Size)
		}
	})

	t.Run("a good certificate passes the custom check", func(t *testing.T) {
		o := serveCert(t, content, ca.issue(t, certSpec{}), testenv.HTTP2())
		r := parse(t, o.URL("/file"))
		r.SecurityFlags = allIgnores
		if info := stat(t, New(Options{TLSConfig: &tls.Config{RootCAs: ca.pool}}), r); info.Size != 1000 {
			t.Fatalf("Size = %d", info.Size)
		}
	})
}

func TestNotTLS(t *testing.T) {
	o := testenv.NewOrigin(t, testenv.RandomContent(10, 41))
	_, err := New(Options{}).Stat(context.Background(), parse(t, strings.Replace(o.URL("/file"), "http:", "https:", 1)))
	wantConnectHR(t, err, hresult.WINHTTP_INVALID_SERVER_RESPONSE, true)
}

// crlServer serves a revocation list at /ca.crl; set fixes its bytes.
type crlServer struct {
	*httptest.Server
	der atomic.Pointer[[]byte]
}

func newCRLServer(t *testing.T) *crlServer {
	s := &crlServer{}
	s.Server = httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		der := s.der.Load()
		if r.URL.Path != "/ca.crl" || der == nil {
			nethttp.NotFound(w, r)
			return
		}
		w.Write(*der)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestCRLCheck(t *testing.T) {
	ca := newCA(t, "root with a CRL")
	crls := newCRLServer(t)
	good := ca.issue(t, certSpec{crlURLs: []string{crls.URL + "/ca.crl"}})
	revoked := ca.issue(t, certSpec{crlURLs: []string{"ldap://ignored.test/", crls.URL + "/ca.crl"}})
	missing := ca.issue(t, certSpec{crlURLs: []string{crls.URL + "/gone.crl"}})
	noPoint := ca.issue(t, certSpec{})
	crls.der.Store(new(ca.crl(t, revoked.cert)))
	content := testenv.RandomContent(1000, 42)

	try := func(cert issued, flags uint32) error {
		o := serveCert(t, content, cert)
		r := parse(t, o.URL("/file"))
		r.SecurityFlags = flags
		_, err := New(Options{TLSConfig: &tls.Config{RootCAs: ca.pool}}).Stat(context.Background(), r)
		return err
	}
	if err := try(good, sslEnableCRLCheck); err != nil {
		t.Fatalf("a certificate the CRL does not list: %v", err)
	}
	wantConnectHR(t, try(revoked, sslEnableCRLCheck), hresult.WINHTTP_SECURE_CERT_REVOKED, false)
	wantConnectHR(t, try(missing, sslEnableCRLCheck), hresult.WINHTTP_SECURE_CERT_REV_FAILED, false)
	wantConnectHR(t, try(noPoint, sslEnableCRLCheck), hresult.WINHTTP_SECURE_CERT_REV_FAILED, false)
	if err := try(revoked, 0); err != nil {
		t.Fatalf("without the flag revocation is not checked: %v", err)
	}

	// A list signed by another CA proves nothing.
	crls.der.Store(new(newCA(t, "impostor").crl(t)))
	wantConnectHR(t, try(good, sslEnableCRLCheck), hresult.WINHTTP_SECURE_CERT_REV_FAILED, false)
}

func TestClientCertificate(t *testing.T) {
	serverCA := newCA(t, "server root")
	clientCA := newCA(t, "client root")
	combined := clientCA.issue(t, certSpec{cn: "Combined Client", org: "Example", usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	paired := clientCA.issue(t, certSpec{cn: "paired client", usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	keyless := clientCA.issue(t, certSpec{cn: "keyless", usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	otherCA := newCA(t, "other client root")
	keyFirst := otherCA.issue(t, certSpec{cn: "key first", usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	stranger := newCA(t, "untrusted root").issue(t, certSpec{cn: "stranger", usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})

	empty, store := t.TempDir(), t.TempDir()
	writeFile(t, store, "a-notes.pem", []byte("not a certificate\n"))
	writeFile(t, store, "combined.pem", certPEM(combined.cert), keyPEM(t, combined.key))
	writeFile(t, store, "paired.crt", certPEM(paired.cert))
	writeFile(t, store, "paired.key", keyPEM(t, paired.key))
	writeFile(t, store, "keyless.cer", certPEM(keyless.cert))
	writeFile(t, store, "key-first.PEM", keyPEM(t, keyFirst.key), certPEM(keyFirst.cert))
	writeFile(t, store, "stranger.pem", certPEM(stranger.cert), keyPEM(t, stranger.key))
	clientCAs := clientCA.pool.Clone()
	clientCAs.AddCert(otherCA.cert)

	o := testenv.NewTLSOrigin(t, nil, testenv.HTTP2(), testenv.ServerTLS(&tls.Config{
		Certificates: []tls.Certificate{serverCA.issue(t, certSpec{}).tls},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    clientCAs,
	}))
	o.Handle("/whoami", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	whoami := func(cc *transport.ClientCert) (string, error) {
		r := parse(t, o.URL("/whoami"))
		r.ClientCert = cc
		var buf bytes.Buffer
		_, err := New(Options{TLSConfig: &tls.Config{RootCAs: serverCA.pool}}).Download(context.Background(), r, 0, -1, transport.RemoteInfo{Size: -1}, &buf)
		return buf.String(), err
	}
	hash := func(c *x509.Certificate) []byte { s := sha1.Sum(c.Raw); return s[:] }

	for _, tc := range []struct {
		name string
		cc   transport.ClientCert
		want string
	}{
		{"by hash, one file", transport.ClientCert{Dirs: []string{empty, store}, Hash: hash(combined.cert)}, "Combined Client"},
		{"by hash, key beside", transport.ClientCert{Dirs: []string{store}, Hash: hash(paired.cert)}, "paired client"},
		{"by common name, any case", transport.ClientCert{Dirs: []string{store}, Subject: "PAIRED CLIENT"}, "paired client"},
		{"by RFC 2253 subject", transport.ClientCert{Dirs: []string{store}, Subject: "cn=combined client,o=example"}, "Combined Client"},
		{"key before certificate", transport.ClientCert{Dirs: []string{store}, Subject: "key first"}, "key first"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := whoami(&tc.cc)
			if err != nil || got != tc.want {
				t.Fatalf("whoami = %q, %v; want %q", got, err, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name, mention string
		cc            *transport.ClientCert
	}{
		{"no such hash", "SHA-1 hash 0102", &transport.ClientCert{Dirs: []string{store}, Hash: bytes.Repeat([]byte{1, 2}, 10)}},
		{"no such subject", "subject nobody", &transport.ClientCert{Dirs: []string{store}, Subject: "nobody"}},
		{"a part of the subject", "subject Example", &transport.ClientCert{Dirs: []string{store}, Subject: "Example"}},
		{"no store", "nowhere", &transport.ClientCert{Dirs: []string{"/nowhere"}, Subject: "paired client"}},
		{"no key", "keyless.key does not exist", &transport.ClientCert{Dirs: []string{store}, Subject: "keyless"}},
		{"none configured", "certificate", nil},
		{"refused by the server", "certificate", &transport.ClientCert{Dirs: []string{store}, Subject: "stranger"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := whoami(tc.cc)
			he := wantConnectHR(t, err, hresult.WINHTTP_CLIENT_AUTH_CERT_NEEDED, false)
			if !strings.Contains(he.Msg, tc.mention) || strings.Contains(he.Msg, "PRIVATE") {
				t.Fatalf("message %q, want one that mentions %q and no key", he.Msg, tc.mention)
			}
		})
	}

	t.Run("not asked for, not needed", func(t *testing.T) {
		plain := testenv.NewOrigin(t, testenv.RandomContent(10, 43))
		r := parse(t, plain.URL("/file"))
		r.ClientCert = &transport.ClientCert{Dirs: []string{"/nowhere"}, Subject: "x"}
		stat(t, New(Options{}), r)
	})
}

func TestClampTime(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2030, 1, 1, h, 0, 0, 0, time.UTC) }
	leaf := &x509.Certificate{NotBefore: at(2), NotAfter: at(10)}
	ca := &x509.Certificate{NotBefore: at(0), NotAfter: at(8)}
	from, until := narrow(leaf.NotBefore, leaf.NotAfter, ca)
	if !from.Equal(at(2)) || !until.Equal(at(8)) {
		t.Fatalf("narrow = %v, %v", from, until)
	}
	for now, want := range map[int]int{1: 2, 5: 5, 9: 8} {
		if got := clampTime(at(now), from, until); !got.Equal(at(want)) {
			t.Errorf("clampTime(%d) = %v, want %d", now, got, want)
		}
	}
}

// dialCount counts the TCP connections a listener accepts.
type dialCount struct {
	net.Listener
	n atomic.Int64
}

func (d *dialCount) Accept() (net.Conn, error) {
	c, err := d.Listener.Accept()
	if err == nil {
		d.n.Add(1)
	}
	return c, err
}

func TestVerifiedConnectionsAreReused(t *testing.T) {
	// The per-host transports keep their pools: two requests, one dial.
	ca := newCA(t, "root")
	srv := httptest.NewUnstartedServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Content-Length", "3")
		if r.Method == nethttp.MethodGet {
			io.WriteString(w, "abc")
		}
	}))
	counted := &dialCount{Listener: srv.Listener}
	srv.Listener = counted
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.issue(t, certSpec{}).tls}}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	tr := New(Options{TLSConfig: &tls.Config{RootCAs: ca.pool}})
	r := parse(t, srv.URL+"/x")
	r.SecurityFlags = sslIgnoreCNInvalid
	info := stat(t, tr, r)
	if _, err := tr.Download(context.Background(), r, 0, -1, info, io.Discard); err != nil {
		t.Fatal(err)
	}
	if n := counted.n.Load(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
}

func TestExplainDroppedConnection(t *testing.T) {
	dropped := hresult.Transient(hresult.WINHTTP_CONNECTION_ERROR, hresult.ContextRemoteFile, "write: broken pipe")
	notFound := &hresult.Error{Code: hresult.HTTP(404), Context: hresult.ContextRemoteFile}

	var quiet connTrace
	if got := quiet.explain(dropped); got != error(dropped) {
		t.Errorf("no certificate asked: %v, want the error unchanged", got)
	}
	var asked connTrace
	noteCertAsked(context.WithValue(context.Background(), connTraceKey{}, &asked), false)
	if got := asked.explain(notFound); got != error(notFound) {
		t.Errorf("an HTTP status: %v, want it unchanged", got)
	}
	he := wantConnectHR(t, asked.explain(dropped), hresult.WINHTTP_CLIENT_AUTH_CERT_NEEDED, false)
	if !strings.Contains(he.Msg, "has none") {
		t.Errorf("message %q does not say the job had no certificate", he.Msg)
	}
}

func TestSecurityFlagsThroughAProxy(t *testing.T) {
	// The per-host transports keep the proxy and its authentication.
	ca := newCA(t, "root")
	content := testenv.RandomContent(5000, 44)
	o := serveCert(t, content, ca.issue(t, certSpec{dnsNames: []string{"elsewhere.test"}}))
	proxy := testenv.StartProxy(t, testenv.ProxyBasicAuth("alice", "proxy-pw"))
	fetch := func(flags uint32) error {
		r := parse(t, o.URL("/file"))
		r.Proxy = transport.Proxy{Usage: transport.ProxyOverride, List: proxy.Addr()}
		r.Credentials = []transport.Credential{{Target: transport.TargetProxy, Scheme: transport.SchemeBasic, User: "alice", Password: "proxy-pw"}}
		r.SecurityFlags = flags
		tr := New(Options{TLSConfig: &tls.Config{RootCAs: ca.pool}})
		info, err := tr.Stat(context.Background(), r)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if _, err := tr.Download(context.Background(), r, 0, -1, info, &buf); err != nil {
			return err
		}
		wantSum(t, buf.Bytes(), content)
		return nil
	}
	wantConnectHR(t, fetch(0), hresult.WINHTTP_SECURE_CERT_CN_INVALID, false)
	if err := fetch(sslIgnoreCNInvalid); err != nil {
		t.Fatal(err)
	}
	tunnels := 0
	for _, r := range proxy.Requests() {
		if r.Method == "CONNECT" && r.Target == o.Server.Listener.Addr().String() {
			tunnels++
		}
	}
	if tunnels < 2 {
		t.Fatalf("the proxy saw %+v, want a tunnel for each try", proxy.Requests())
	}
}
