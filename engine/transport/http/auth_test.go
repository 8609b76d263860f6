package http

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"hash"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	httpdigest "github.com/icholy/digest"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/testenv"
)

// authOrigin serves a testenv origin's /file behind an authentication
// check, and records the Authorization header of every request.
type authOrigin struct {
	*testenv.Origin
	srv   *httptest.Server
	check func(w nethttp.ResponseWriter, r *nethttp.Request) bool // false: it answered

	mu   sync.Mutex
	seen []string // Authorization headers, "" for none
}

func newAuthOrigin(t *testing.T, useTLS bool, content []byte, check func(w nethttp.ResponseWriter, r *nethttp.Request) bool) *authOrigin {
	t.Helper()
	a := &authOrigin{Origin: testenv.NewOriginHandler(content), check: check}
	a.srv = httptest.NewUnstartedServer(a)
	if useTLS {
		a.srv.StartTLS()
	} else {
		a.srv.Start()
	}
	t.Cleanup(func() { a.srv.Close(); a.Origin.Close() })
	return a
}

func (a *authOrigin) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	a.mu.Lock()
	a.seen = append(a.seen, r.Header.Get("Authorization"))
	a.mu.Unlock()
	if a.check(w, r) {
		a.Origin.ServeHTTP(w, r)
	}
}

func (a *authOrigin) url(path string) string { return a.srv.URL + path }

func (a *authOrigin) tlsConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(a.srv.Certificate())
	return &tls.Config{RootCAs: pool}
}

func (a *authOrigin) authorizations() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

func serverCred(scheme transport.AuthScheme, user, password string) transport.Credential {
	return transport.Credential{Target: transport.TargetServer, Scheme: scheme, User: user, Password: password}
}

func challengeWith(w nethttp.ResponseWriter, status int, header string, values ...string) {
	for _, v := range values {
		w.Header().Add(header, v)
	}
	nethttp.Error(w, nethttp.StatusText(status), status)
}

// requireBasic accepts one user and password.
func requireBasic(user, password string) func(nethttp.ResponseWriter, *nethttp.Request) bool {
	return func(w nethttp.ResponseWriter, r *nethttp.Request) bool {
		if u, p, ok := r.BasicAuth(); ok && u == user && p == password {
			return true
		}
		challengeWith(w, 401, "WWW-Authenticate", `Basic realm="bits"`)
		return false
	}
}

func TestServerBasic(t *testing.T) {
	content := testenv.RandomContent(30_000, 41)
	o := newAuthOrigin(t, true, content, requireBasic("bob", "b0b-pw"))
	u := o.url("/file")

	got, err := fetchVia(t, New(Options{TLSConfig: o.tlsConfig()}), u, transport.Settings{
		Credentials: []transport.Credential{serverCred(transport.SchemeBasic, "bob", "b0b-pw")},
	})
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, got, content)
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:b0b-pw"))
	if seen := o.authorizations(); !reflect.DeepEqual(seen, []string{"", want, "", want}) {
		t.Errorf("Authorization headers %q: want each request challenged first, then answered", seen)
	}

	for _, creds := range [][]transport.Credential{
		nil,
		{serverCred(transport.SchemeBasic, "bob", "wrong")},
		{serverCred(transport.SchemeDigest, "bob", "b0b-pw")},                                             // a scheme not offered
		{{Target: transport.TargetProxy, Scheme: transport.SchemeBasic, User: "bob", Password: "b0b-pw"}}, // not for servers
	} {
		_, err := fetchVia(t, New(Options{TLSConfig: o.tlsConfig()}), u, transport.Settings{Credentials: creds})
		wantError(t, err, hresult.HTTP(401), false, hresult.ContextRemoteFile)
	}
}

// digestServer checks Digest answers with the formulas of RFC 7616
// (qop=auth), computed here from the standard library's hashes, so that
// the client's library is checked by other code than its own.
type digestServer struct {
	user, password, realm, algorithm string
	staleOnce                        bool

	mu     sync.Mutex
	nonces map[string]bool // issued and not yet stale
	stale  bool            // the stale answer was given
}

func (d *digestServer) hash() hash.Hash {
	if d.algorithm == "SHA-256" {
		return sha256.New()
	}
	return md5.New()
}

func (d *digestServer) h(parts ...string) string {
	h := d.hash()
	io.WriteString(h, strings.Join(parts, ":"))
	return hex.EncodeToString(h.Sum(nil))
}

func (d *digestServer) challenge(w nethttp.ResponseWriter, stale bool) {
	d.challengeAs(w, stale, 401, "WWW-Authenticate")
}

func (d *digestServer) challengeAs(w nethttp.ResponseWriter, stale bool, status int, header string) {
	d.mu.Lock()
	nonce := hex.EncodeToString([]byte(fmt.Sprint(len(d.nonces), d.realm)))
	d.nonces[nonce] = true
	d.mu.Unlock()
	v := fmt.Sprintf(`Digest realm=%q, qop="auth", algorithm=%s, nonce=%q, opaque="op"`, d.realm, d.algorithm, nonce)
	if stale {
		v += ", stale=true"
	}
	challengeWith(w, status, header, v)
}

// check is the server's check: Authorization, 401.
func (d *digestServer) check(w nethttp.ResponseWriter, r *nethttp.Request) bool {
	return d.verify(w, r, "Authorization", 401, "WWW-Authenticate")
}

// verify checks the answer in header against the request target as it
// was sent: a path for a server, an absolute URL or host:port for a proxy.
func (d *digestServer) verify(w nethttp.ResponseWriter, r *nethttp.Request, header string, status int, challengeHeader string) bool {
	c, err := httpdigest.ParseCredentials(r.Header.Get(header))
	if err != nil {
		d.challengeAs(w, false, status, challengeHeader)
		return false
	}
	d.mu.Lock()
	known := d.nonces[c.Nonce]
	stale := known && d.staleOnce && !d.stale
	if stale {
		d.stale = true
		delete(d.nonces, c.Nonce)
	}
	d.mu.Unlock()
	ha1 := d.h(d.user, d.realm, d.password)
	ha2 := d.h(r.Method, c.URI)
	want := d.h(ha1, c.Nonce, fmt.Sprintf("%08x", c.Nc), c.Cnonce, "auth", ha2)
	ok := known && c.Username == d.user && c.Realm == d.realm && c.URI == r.RequestURI &&
		c.QOP == "auth" && c.Opaque == "op" && c.Response == want
	if !ok || stale {
		d.challengeAs(w, ok && stale, status, challengeHeader)
		return false
	}
	return true
}

func TestServerDigest(t *testing.T) {
	content := testenv.RandomContent(30_000, 42)
	for _, tc := range []struct {
		algorithm string
		staleOnce bool
	}{
		{"MD5", false},
		{"SHA-256", false},
		{"MD5", true},
	} {
		t.Run(fmt.Sprintf("%s stale=%v", tc.algorithm, tc.staleOnce), func(t *testing.T) {
			d := &digestServer{user: "carol", password: "c4rol-pw", realm: "bits@test", algorithm: tc.algorithm, staleOnce: tc.staleOnce, nonces: map[string]bool{}}
			o := newAuthOrigin(t, true, content, d.check)
			u := o.url("/file")
			got, err := fetchVia(t, New(Options{TLSConfig: o.tlsConfig()}), u, transport.Settings{
				Credentials: []transport.Credential{serverCred(transport.SchemeDigest, "carol", "c4rol-pw")},
			})
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, got, content)
			if seen := o.authorizations(); seen[0] != "" {
				t.Errorf("the first request carried %q before any challenge", seen[0])
			}
			if tc.staleOnce && !d.stale {
				t.Error("the server never got to call a nonce stale")
			}

			_, err = fetchVia(t, New(Options{TLSConfig: o.tlsConfig()}), u, transport.Settings{
				Credentials: []transport.Credential{serverCred(transport.SchemeDigest, "carol", "wrong")},
			})
			wantError(t, err, hresult.HTTP(401), false, hresult.ContextRemoteFile)
			if !tc.staleOnce {
				checkDigestServerWithCurl(t, o, d)
			}
		})
	}
}

// checkDigestServerWithCurl shows that the test's own Digest check is
// right: curl, another implementation, passes it with the right password
// and fails it with a wrong one.
func checkDigestServerWithCurl(t *testing.T, o *authOrigin, d *digestServer) {
	t.Helper()
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("curl is not installed")
		}
		t.Log("curl is not installed: the Digest check is not cross-checked")
		return
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	for pw, want := range map[string]string{d.password: "200", "wrong": "401"} {
		out, err := exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca,
			"--digest", "-u", d.user+":"+pw, o.url("/file")).Output()
		if err != nil || string(out) != want {
			t.Fatalf("curl --digest with the %s password: %s %v, want %s", map[bool]string{true: "right", false: "wrong"}[pw == d.password], out, err, want)
		}
	}
}

// ntlmOrigin requires NTLM (or Negotiate carrying NTLM) and has Samba
// check the messages; a connection stays authenticated once it passed.
type ntlmOrigin struct {
	verifier *testenv.NTLMServer
	scheme   string // "NTLM" or "Negotiate"
	asProxy  bool   // Proxy-Authorization and 407 instead of Authorization and 401

	mu     sync.Mutex
	authed map[string]string // by remote address: the account proven
}

func (n *ntlmOrigin) check(w nethttp.ResponseWriter, r *nethttp.Request) bool {
	n.mu.Lock()
	_, ok := n.authed[r.RemoteAddr]
	n.mu.Unlock()
	if ok {
		return true
	}
	header, status, challengeHeader := "Authorization", 401, "WWW-Authenticate"
	if n.asProxy {
		header, status, challengeHeader = "Proxy-Authorization", 407, "Proxy-Authenticate"
	}
	token, found := strings.CutPrefix(r.Header.Get(header), n.scheme+" ")
	msg, err := base64.StdEncoding.DecodeString(token)
	if !found || err != nil || len(msg) < 12 || string(msg[:8]) != "NTLMSSP\x00" {
		challengeWith(w, status, challengeHeader, n.scheme)
		return false
	}
	switch msg[8] {
	case 1: // NEGOTIATE
		ch, err := n.verifier.Challenge(msg)
		if err != nil {
			nethttp.Error(w, err.Error(), 500)
			return false
		}
		challengeWith(w, status, challengeHeader, n.scheme+" "+base64.StdEncoding.EncodeToString(ch))
	case 3: // AUTHENTICATE
		user, err := n.verifier.Authenticate(msg)
		if err == nil {
			n.mu.Lock()
			n.authed[r.RemoteAddr] = user
			n.mu.Unlock()
			return true
		}
		challengeWith(w, status, challengeHeader, n.scheme)
	default:
		challengeWith(w, status, challengeHeader, n.scheme)
	}
	return false
}

func (n *ntlmOrigin) accounts() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for _, a := range n.authed {
		out = append(out, a)
	}
	return out
}

func TestServerNTLM(t *testing.T) {
	verifier := testenv.StartNTLMServer(t)
	content := testenv.RandomContent(30_000, 43)
	for _, tc := range []struct {
		scheme string
		cred   transport.AuthScheme
		user   string
	}{
		{"NTLM", transport.SchemeNTLM, testenv.NTLMAccount},
		{"Negotiate", transport.SchemeNegotiate, testenv.NTLMDomain + `\` + testenv.NTLMAccount},
	} {
		t.Run(tc.scheme, func(t *testing.T) {
			n := &ntlmOrigin{verifier: verifier, scheme: tc.scheme, authed: map[string]string{}}
			o := newAuthOrigin(t, true, content, n.check)
			u := o.url("/file")
			got, err := fetchVia(t, New(Options{TLSConfig: o.tlsConfig()}), u, transport.Settings{
				Credentials: []transport.Credential{serverCred(tc.cred, tc.user, verifier.Password())},
			})
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, got, content)
			want := testenv.NTLMDomain + `\` + testenv.NTLMAccount
			if accounts := n.accounts(); len(accounts) != 1 || !strings.EqualFold(accounts[0], want) {
				t.Errorf("Samba authenticated %q, want %s on one connection", accounts, want)
			}

			for _, creds := range [][]transport.Credential{
				{serverCred(tc.cred, tc.user, "wrong")},
				{{Target: transport.TargetServer, Scheme: tc.cred, Implicit: true}}, // no logged-on identity here
				nil,
			} {
				_, err = fetchVia(t, New(Options{TLSConfig: o.tlsConfig()}), u, transport.Settings{Credentials: creds})
				wantError(t, err, hresult.HTTP(401), false, hresult.ContextRemoteFile)
			}
		})
	}
}

func TestStrongestSchemeWins(t *testing.T) {
	content := testenv.RandomContent(1000, 44)
	d := &digestServer{user: "dan", password: "d-pw", realm: "r", algorithm: "MD5", nonces: map[string]bool{}}
	var schemes []string
	var mu sync.Mutex
	o := newAuthOrigin(t, false, content, func(w nethttp.ResponseWriter, r *nethttp.Request) bool {
		a := r.Header.Get("Authorization")
		mu.Lock()
		schemes = append(schemes, strings.SplitN(a, " ", 2)[0])
		mu.Unlock()
		switch {
		case strings.HasPrefix(a, "Basic "):
			return requireBasic("dan", "d-pw")(w, r)
		case strings.HasPrefix(a, "Digest "):
			return d.check(w, r)
		}
		w.Header().Add("WWW-Authenticate", `Basic realm="r"`)
		d.challenge(w, false)
		return false
	})
	for _, tc := range []struct {
		creds []transport.Credential
		want  []string
	}{
		{[]transport.Credential{serverCred(transport.SchemeBasic, "dan", "d-pw")}, []string{"", "Basic", "", "Basic"}},
		{[]transport.Credential{serverCred(transport.SchemeBasic, "dan", "d-pw"), serverCred(transport.SchemeDigest, "dan", "d-pw")}, []string{"", "Digest", "", "Digest"}},
	} {
		schemes = nil
		if _, err := fetchVia(t, New(Options{}), o.url("/file"), transport.Settings{Credentials: tc.creds}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		got := schemes
		mu.Unlock()
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("schemes sent %q, want %q", got, tc.want)
		}
	}
}

func TestCredentialsStayWithTheHost(t *testing.T) {
	content := testenv.RandomContent(1000, 45)
	other := newAuthOrigin(t, false, content, requireBasic("erin", "e-pw"))
	_, otherPort, _ := net.SplitHostPort(other.srv.Listener.Addr().String())
	first := newAuthOrigin(t, false, content, requireBasic("erin", "e-pw"))
	first.Handle("/here", nethttp.RedirectHandler("/file", nethttp.StatusFound))
	// localhost is another host name than 127.0.0.1, though the same machine.
	first.Handle("/elsewhere", nethttp.RedirectHandler("http://localhost:"+otherPort+"/file", nethttp.StatusFound))
	s := transport.Settings{Credentials: []transport.Credential{serverCred(transport.SchemeBasic, "erin", "e-pw")}}

	got, err := fetchVia(t, New(Options{}), first.url("/here"), s)
	if err != nil {
		t.Fatalf("a redirect on the same host: %v", err)
	}
	sameBytes(t, got, content)

	_, err = fetchVia(t, New(Options{}), first.url("/elsewhere"), s)
	wantError(t, err, hresult.HTTP(401), false, hresult.ContextRemoteFile)
	for _, a := range other.authorizations() {
		if a != "" {
			t.Fatalf("the other host got credentials: %q", a)
		}
	}
	if len(other.authorizations()) == 0 {
		t.Fatal("the redirect was not followed")
	}
}

// testProxy is a small forward proxy written for the test, for what
// tinyproxy cannot do: Digest, NTLM, and a 407 for a wrong password. It proxies
// plain requests itself and opens CONNECT tunnels with a raw copy.
type testProxy struct {
	srv        *httptest.Server
	authorized func(w nethttp.ResponseWriter, r *nethttp.Request) bool // false: it answered
}

func newTestProxy(t *testing.T, authorized func(w nethttp.ResponseWriter, r *nethttp.Request) bool) *testProxy {
	p := &testProxy{authorized: authorized}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	return p
}

// proxyDigest checks Proxy-Authorization as digestServer checks
// Authorization, and answers 407 with Proxy-Authenticate.
func proxyDigest(user, password string) func(w nethttp.ResponseWriter, r *nethttp.Request) bool {
	d := &digestServer{user: user, password: password, realm: "proxy", algorithm: "MD5", nonces: map[string]bool{}}
	return func(w nethttp.ResponseWriter, r *nethttp.Request) bool {
		return d.verify(w, r, "Proxy-Authorization", nethttp.StatusProxyAuthRequired, "Proxy-Authenticate")
	}
}

func (p *testProxy) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	if !p.authorized(w, r) {
		return
	}
	if r.Method == nethttp.MethodConnect {
		p.tunnel(w, r)
		return
	}
	out, err := nethttp.NewRequestWithContext(r.Context(), r.Method, r.URL.String(), nil)
	if err != nil {
		nethttp.Error(w, err.Error(), 400)
		return
	}
	out.Header = r.Header.Clone()
	out.Header.Del("Proxy-Authorization")
	resp, err := nethttp.DefaultTransport.RoundTrip(out)
	if err != nil {
		nethttp.Error(w, err.Error(), 502)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

func (p *testProxy) tunnel(w nethttp.ResponseWriter, r *nethttp.Request) {
	up, err := net.Dial("tcp", r.Host)
	if err != nil {
		nethttp.Error(w, err.Error(), 502)
		return
	}
	defer up.Close()
	conn, rw, err := nethttp.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n")
	done := make(chan struct{})
	go func() { io.Copy(up, rw); up.(*net.TCPConn).CloseWrite(); close(done) }()
	io.Copy(conn, up)
	<-done
}

func TestProxyDigest(t *testing.T) {
	content := testenv.RandomContent(20_000, 46)
	plain := testenv.NewOrigin(t, content)
	secure := testenv.NewTLSOrigin(t, content)
	proxy := newTestProxy(t, proxyDigest("frank", "f-pw"))
	proxyAddr := proxy.srv.Listener.Addr().String()
	cred := func(pw string) []transport.Credential {
		return []transport.Credential{{Target: transport.TargetProxy, Scheme: transport.SchemeDigest, User: "frank", Password: pw}}
	}
	for _, origin := range []*testenv.Origin{plain, secure} {
		t.Run(origin.URL(""), func(t *testing.T) {
			s := override(proxyAddr, "")
			s.Credentials = cred("f-pw")
			got, err := fetchVia(t, New(Options{TLSConfig: secure.TLSConfig()}), origin.URL("/file"), s)
			if err != nil {
				t.Fatal(err)
			}
			sameBytes(t, got, content)

			s.Credentials = cred("wrong")
			_, err = fetchVia(t, New(Options{TLSConfig: secure.TLSConfig()}), origin.URL("/file"), s)
			wantError(t, err, hresult.HTTP(407), false, hresult.ContextGeneralTransport)
		})
	}
}

// TestProxyNTLM runs NTLM, and NTLM inside Negotiate, with a proxy, for
// plain HTTP and for an HTTPS tunnel, whose CONNECTs must carry the whole
// handshake on one connection.
func TestProxyNTLM(t *testing.T) {
	verifier := testenv.StartNTLMServer(t)
	content := testenv.RandomContent(20_000, 47)
	plain := testenv.NewOrigin(t, content)
	secure := testenv.NewTLSOrigin(t, content)
	for _, scheme := range []transport.AuthScheme{transport.SchemeNTLM, transport.SchemeNegotiate} {
		name := map[transport.AuthScheme]string{transport.SchemeNTLM: "NTLM", transport.SchemeNegotiate: "Negotiate"}[scheme]
		t.Run(name, func(t *testing.T) {
			n := &ntlmOrigin{verifier: verifier, scheme: name, asProxy: true, authed: map[string]string{}}
			proxy := newTestProxy(t, n.check)
			s := override(proxy.srv.Listener.Addr().String(), "")
			s.Credentials = []transport.Credential{{Target: transport.TargetProxy, Scheme: scheme, User: testenv.NTLMAccount, Password: verifier.Password()}}
			for _, origin := range []*testenv.Origin{plain, secure} {
				before := len(n.accounts())
				got, err := fetchVia(t, New(Options{TLSConfig: secure.TLSConfig()}), origin.URL("/file"), s)
				if err != nil {
					t.Fatalf("%s: %v", origin.URL(""), err)
				}
				sameBytes(t, got, content)
				if after := len(n.accounts()); after != before+1 {
					t.Fatalf("%s: Samba authenticated %d connections, want 1", origin.URL(""), after-before)
				}
			}

			s.Credentials[0].Password = "wrong"
			for _, origin := range []*testenv.Origin{plain, secure} {
				_, err := fetchVia(t, New(Options{TLSConfig: secure.TLSConfig()}), origin.URL("/file"), s)
				wantError(t, err, hresult.HTTP(407), false, hresult.ContextGeneralTransport)
			}
		})
	}
}

func TestEndlessChallenges(t *testing.T) {
	var n int
	var mu sync.Mutex
	o := newAuthOrigin(t, false, []byte("x"), func(w nethttp.ResponseWriter, r *nethttp.Request) bool {
		mu.Lock()
		n++
		nonce := fmt.Sprint("n", n)
		mu.Unlock()
		challengeWith(w, 401, "WWW-Authenticate", `Digest realm="r", qop="auth", nonce="`+nonce+`", stale=true`)
		return false
	})
	_, err := fetchVia(t, New(Options{}), o.url("/file"), transport.Settings{
		Credentials: []transport.Credential{serverCred(transport.SchemeDigest, "u", "p")},
	})
	wantError(t, err, hresult.HTTP(401), false, hresult.ContextRemoteFile)
	mu.Lock()
	defer mu.Unlock()
	if n != 3 {
		t.Errorf("%d requests, want 3: unanswered, answered, answered once more for the stale nonce", n)
	}
}

func TestParseChallenges(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want []challenge
	}{
		{[]string{"NTLM"}, []challenge{{"ntlm", ""}}},
		{[]string{"Negotiate, NTLM"}, []challenge{{"negotiate", ""}, {"ntlm", ""}}},
		{[]string{"NTLM TlRMTVNTUAACAAAA=="}, []challenge{{"ntlm", "TlRMTVNTUAACAAAA=="}}},
		{[]string{`Basic realm="a, b", Digest realm="x", qop="auth,auth-int", nonce="n"`},
			[]challenge{{"basic", `realm="a, b"`}, {"digest", `realm="x", qop="auth,auth-int", nonce="n"`}}},
		{[]string{`Basic realm="q\"uote, Digest"`, "Digest nonce=1"},
			[]challenge{{"basic", `realm="q\"uote, Digest"`}, {"digest", "nonce=1"}}},
		{[]string{"", " , "}, nil},
	} {
		if got := parseChallenges(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseChallenges(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSameHost(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		want     bool
	}{
		{"http://h/a", "http://h/b", true},
		{"http://h/a", "http://H:80/b", true},
		{"http://h/a", "https://h/b", true},
		{"http://h:8080/a", "https://h/b", false},
		{"https://h/a", "http://h/b", false},
		{"http://h/a", "http://h:81/b", false},
		{"http://h/a", "http://h2/b", false},
		{"http://127.0.0.1/a", "http://localhost/b", false},
	} {
		from, _ := url.Parse(tc.from)
		to, _ := url.Parse(tc.to)
		if got := sameHost(from, to); got != tc.want {
			t.Errorf("sameHost(%s, %s) = %v", tc.from, tc.to, got)
		}
	}
}
