package http

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"bits/engine/transport"
	"bits/engine/transport/http/pac"
	"bits/hresult"
	"bits/internal/testenv"
)

// desktopPAC builds bits-pac onto PATH and makes a KDE configuration
// whose proxies come from a PAC file; it returns the recorded environment
// that points there and a function that writes the PAC file's answer.
func desktopPAC(t *testing.T) (env []string, answer func(string)) {
	bin := t.TempDir()
	if err := testenv.BuildPrograms(bin, pac.HelperName); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	dir := t.TempDir()
	script := filepath.Join(dir, "proxy.pac")
	kde := "[Proxy Settings]\nProxyType=2\nProxy Config Script=file://" + script + "\n"
	if err := os.WriteFile(filepath.Join(dir, "kioslaverc"), []byte(kde), 0o600); err != nil {
		t.Fatal(err)
	}
	answer = func(s string) {
		src := `function FindProxyForURL(url, host) { return "` + s + `"; }`
		if err := os.WriteFile(script, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return []string{"XDG_CONFIG_HOME=" + dir}, answer
}

// TestPreconfigTakesTheDesktopPAC: with no proxy variable set, a PRECONFIG
// request goes where the desktop's PAC file says, through a real
// tinyproxy; and DIRECT means direct.
func TestPreconfigTakesTheDesktopPAC(t *testing.T) {
	env, answer := desktopPAC(t)
	content := testenv.RandomContent(50_000, 63)
	o := testenv.NewOrigin(t, content)
	proxy := testenv.StartProxy(t)
	s := transport.Settings{Proxy: transport.Proxy{Usage: transport.ProxyPreconfig}, Env: env}

	answer("PROXY " + proxy.Addr() + "; DIRECT")
	got, err := fetchVia(t, New(Options{}), o.URL("/file"), s)
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, got, content)
	through := func() int {
		return len(slices.DeleteFunc(proxy.Requests(), func(r testenv.ProxyRequest) bool { return r.Target != o.URL("/file") }))
	}
	if through() == 0 {
		t.Fatalf("nothing went through the PAC file's proxy: %+v", proxy.Requests())
	}

	before := through()
	answer("DIRECT")
	if _, err := fetchVia(t, New(Options{}), o.URL("/file"), s); err != nil {
		t.Fatal(err)
	}
	if through() != before {
		t.Error("a DIRECT answer still went through the proxy")
	}
}

// TestPACIsReadAgain: a changed PAC file, or a desktop that names
// another, reaches requests once pacRecheck has passed, not before.
func TestPACIsReadAgain(t *testing.T) {
	env, answer := desktopPAC(t)
	getenv := (&transport.Settings{Env: env}).Getenv
	now := time.Unix(1_800_000_000, 0)
	r := newPACRouter(getenv, false)
	r.now = func() time.Time { return now }
	u, _ := url.Parse("https://files.example/report")
	route := func() string {
		var hosts []string
		for _, p := range r.route(u) {
			if p == directRoute {
				hosts = append(hosts, "DIRECT")
			} else {
				hosts = append(hosts, p.Host)
			}
		}
		return strings.Join(hosts, " ")
	}

	answer("PROXY first.example:3128")
	if got := route(); got != "first.example:3128" {
		t.Fatalf("routes %q, want first.example:3128", got)
	}
	answer("PROXY second.example:3128; PROXY third.example; DIRECT")
	now = now.Add(pacRecheck - time.Second)
	if got := route(); got != "first.example:3128" {
		t.Errorf("routes %q before the recheck, want the script read first", got)
	}
	now = now.Add(2 * time.Second)
	if got := route(); got != "second.example:3128 third.example:80 DIRECT" {
		t.Errorf("routes %q after the recheck, want second.example:3128 third.example:80 DIRECT", got)
	}

	if err := os.Remove(filepath.Join(strings.TrimPrefix(env[0], "XDG_CONFIG_HOME="), "kioslaverc")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(pacRecheck)
	if got := route(); got != "" {
		t.Errorf("routes %q with no PAC file configured, want direct", got)
	}
}

// TestPACDirectFallback: a DIRECT after a proxy that cannot be connected
// to is taken, as browsers take it; without it the attempt fails.
func TestPACDirectFallback(t *testing.T) {
	env, answer := desktopPAC(t)
	content := testenv.RandomContent(20_000, 65)
	o := testenv.NewOrigin(t, content)
	s := transport.Settings{Proxy: transport.Proxy{Usage: transport.ProxyPreconfig}, Env: env}
	dead := testenv.DeadAddr(t)

	answer("PROXY " + dead + "; DIRECT")
	got, err := fetchVia(t, New(Options{}), o.URL("/file"), s)
	if err != nil {
		t.Fatalf("with DIRECT after a dead proxy: %v", err)
	}
	sameBytes(t, got, content)

	answer("PROXY " + dead)
	_, err = fetchVia(t, New(Options{}), o.URL("/file"), s)
	wantError(t, err, hresult.WINHTTP_CANNOT_CONNECT, true, hresult.ContextGeneralTransport)
}

func TestWPADURLs(t *testing.T) {
	for _, tc := range []struct{ domain, want string }{
		{"eng.corp.example", "http://wpad.eng.corp.example/wpad.dat http://wpad.corp.example/wpad.dat"},
		{"corp.example.", "http://wpad.corp.example/wpad.dat"},
		{"example", ""},
		{"", ""},
	} {
		if got := strings.Join(wpadURLs(tc.domain), " "); got != tc.want {
			t.Errorf("wpadURLs(%q) = %q, want %q", tc.domain, got, tc.want)
		}
	}
}
