package e2e

import (
	"bytes"
	"encoding/pem"
	nethttp "net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bits/internal/testenv"
)

// TestProxiedAuthenticatedHTTPSDownload fetches a file from an HTTPS
// server that wants Basic credentials, through a real tinyproxy that wants
// its own, with every setting given through bitsadmin.
func TestProxiedAuthenticatedHTTPSDownload(t *testing.T) {
	u := newUser(t)
	content := testenv.RandomContent(3<<20, 31)
	o := testenv.NewTLSOrigin(t, nil)
	var unauthorized atomic.Int32
	o.Handle("/secret", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "alice" || pass != "s3cret pass" {
			unauthorized.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="files"`)
			w.WriteHeader(nethttp.StatusUnauthorized)
			return
		}
		nethttp.ServeContent(w, r, "secret", time.Unix(1700000000, 0), bytes.NewReader(content))
	}))
	origin, _ := url.Parse(o.URL("/"))
	port, _ := strconv.Atoi(origin.Port())
	proxy := testenv.StartProxy(t, testenv.ProxyBasicAuth("bob", "proxy-pass"), testenv.ProxyConnectPorts(port))

	// The worker trusts the test origin's certificate the way any Go
	// program on Linux is told to: SSL_CERT_FILE.
	ca := filepath.Join(t.TempDir(), "origin.pem")
	pemCert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.Server.Certificate().Raw})
	if err := os.WriteFile(ca, pemCert, 0o600); err != nil {
		t.Fatal(err)
	}
	u.env = append(u.env, "SSL_CERT_FILE="+ca)

	dest := filepath.Join(t.TempDir(), "secret.bin")
	u.ok("/create", "proxied")
	u.ok("/addfile", "proxied", o.URL("/secret"), dest)
	u.ok("/setproxysettings", "proxied", "OVERRIDE", proxy.Addr(), "NULL")
	u.ok("/setcredentials", "proxied", "SERVER", "BASIC", "alice", "s3cret pass")
	u.ok("/setcredentials", "proxied", "PROXY", "BASIC", "bob", "proxy-pass")
	u.ok("/resume", "proxied")
	u.waitState("proxied", "TRANSFERRED")
	u.ok("/complete", "proxied")
	if fileSum(t, dest) != sum(content) {
		t.Fatal("SHA-256 of the result differs from the origin's")
	}
	if unauthorized.Load() == 0 {
		t.Error("the server never challenged: the credentials were sent unasked")
	}
	tunnelled := false
	for _, r := range proxy.Requests() {
		tunnelled = tunnelled || (r.Method == "CONNECT" && r.Target == origin.Host)
	}
	if !tunnelled {
		t.Errorf("no CONNECT to %s went through the proxy: %+v", origin.Host, proxy.Requests())
	}
	// Credentials are never written to the worker's log.
	logText, _ := os.ReadFile(filepath.Join(u.home, "worker.log"))
	for _, secret := range []string{"s3cret pass", "proxy-pass"} {
		if strings.Contains(string(logText), secret) {
			t.Errorf("the worker log holds a password")
		}
	}
}

// TestWrongServerPasswordIsFatal401 checks the job's error when the server
// refuses the credentials.
func TestWrongServerPasswordIsFatal401(t *testing.T) {
	u := newUser(t)
	o := testenv.NewOrigin(t, nil)
	o.Handle("/secret", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("WWW-Authenticate", `Basic realm="files"`)
		w.WriteHeader(nethttp.StatusUnauthorized)
	}))
	u.ok("/create", "denied")
	u.ok("/addfile", "denied", o.URL("/secret"), filepath.Join(t.TempDir(), "x"))
	u.ok("/setcredentials", "denied", "SERVER", "BASIC", "alice", "wrong")
	u.ok("/resume", "denied")
	u.waitState("denied", "ERROR")
	if code := u.raw("/geterror", "denied"); code != "0x80190191" {
		t.Errorf("error code %s, want 0x80190191 (HTTP 401)", code)
	}
}

// TestPreconfigProxyFollowsTheUser: a PRECONFIG job goes through the proxy
// of the shell that last resumed it, not the one the worker started with:
// the worker starts with http_proxy naming one tinyproxy; the job is
// suspended mid-transfer and resumed from a shell whose http_proxy names
// another, and its next attempt goes through that one, to a whole file.
func TestPreconfigProxyFollowsTheUser(t *testing.T) {
	first, second := testenv.StartProxy(t), testenv.StartProxy(t)
	content := testenv.RandomContent(8<<20, 61)
	o := testenv.NewOrigin(t, content, testenv.RateLimit(2<<20))
	u := newUser(t)
	base := slices.Clone(u.env)
	u.env = append(base, "http_proxy="+first.URL(), "no_proxy=")
	dest := filepath.Join(t.TempDir(), "moved.bin")
	u.ok("/create", "moved")
	u.ok("/addfile", "moved", o.URL("/file"), dest)
	u.ok("/resume", "moved")
	testenv.Eventually(t, "bytes through the first proxy", func() bool { return u.bytesDone("moved") > 0 })
	u.ok("/suspend", "moved")
	through := func(p *testenv.Proxy) int {
		n := 0
		for _, r := range p.Requests() {
			if strings.Contains(r.Target, o.URL("/file")) {
				n++
			}
		}
		return n
	}
	if through(first) == 0 {
		t.Fatal("the first attempt did not go through the first proxy")
	}
	before := through(first)

	u.env = append(base, "http_proxy="+second.URL(), "no_proxy=")
	u.ok("/resume", "moved")
	u.waitState("moved", "TRANSFERRED")
	u.ok("/complete", "moved")
	if fileSum(t, dest) != sum(content) {
		t.Fatal("the file arrived damaged")
	}
	if through(second) == 0 {
		t.Error("the attempt after the resume did not go through the second proxy")
	}
	if n := through(first); n != before {
		t.Errorf("the first proxy got %d more requests after the user's proxy changed", n-before)
	}
}

// TestPreconfigFollowsTheDesktopPAC: with no proxy variable set, a
// PRECONFIG job goes where the PAC file named by the user's desktop
// settings (KDE's kioslaverc, in the XDG_CONFIG_HOME of the shell that
// made the job) says, run by the bits-pac program beside the worker.
func TestPreconfigFollowsTheDesktopPAC(t *testing.T) {
	proxy := testenv.StartProxy(t)
	content := testenv.RandomContent(1<<20, 64)
	o := testenv.NewOrigin(t, content)
	config := t.TempDir()
	script := filepath.Join(config, "proxy.pac")
	pacFile := `function FindProxyForURL(url, host) {
		if (shExpMatch(url, "http://127.0.0.1:*")) return "PROXY ` + proxy.Addr() + `";
		return "DIRECT";
	}`
	kde := "[Proxy Settings]\nProxyType=2\nProxy Config Script=" + script + "\n"
	for name, text := range map[string]string{script: pacFile, filepath.Join(config, "kioslaverc"): kde} {
		if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	u := newUser(t)
	u.env = append(slices.DeleteFunc(slices.Clone(u.env), func(kv string) bool {
		return strings.Contains(strings.ToLower(kv), "_proxy=")
	}), "XDG_CONFIG_HOME="+config)
	dest := filepath.Join(t.TempDir(), "pac.bin")
	u.ok("/create", "pac")
	u.ok("/addfile", "pac", o.URL("/file"), dest)
	u.ok("/resume", "pac")
	u.waitState("pac", "TRANSFERRED")
	u.ok("/complete", "pac")
	if fileSum(t, dest) != sum(content) {
		t.Fatal("the file arrived damaged")
	}
	if !slices.ContainsFunc(proxy.Requests(), func(r testenv.ProxyRequest) bool { return r.Target == o.URL("/file") }) {
		t.Errorf("the job did not go through the PAC file's proxy: %+v", proxy.Requests())
	}
}
