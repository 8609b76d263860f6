package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// curlVia fetches url through a proxy with the system curl and returns
// the HTTP status of the last answer and the body. args are curl's proxy
// options (scheme, credentials); env is added to curl's environment.
func curlVia(t *testing.T, env []string, url string, args ...string) (int, string) {
	t.Helper()
	curl := lookTool(t, "curl", "curl")
	body := filepath.Join(t.TempDir(), "body")
	all := append([]string{"-sS", "-o", body, "-w", "%{http_code}", "--max-time", "20", "--noproxy", ""}, args...)
	cmd := exec.Command(curl, append(all, url)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	var code int
	if _, serr := fmt.Sscan(strings.TrimSpace(string(out)), &code); serr != nil {
		t.Fatalf("curl %s: %v, output %q", strings.Join(args, " "), err, out)
	}
	b, _ := os.ReadFile(body)
	return code, string(b)
}

func TestApr1(t *testing.T) {
	// openssl passwd -apr1 -salt 12345678 secret
	if got, want := apr1("secret", "12345678"), "$apr1$12345678$0lqb/6VUFP8JY/s/jTrIk0"; got != want {
		t.Errorf("apr1 = %s, want %s", got, want)
	}
}

// squidCase checks one authenticating squid with curl: the right
// credentials reach an HTTP and an HTTPS origin, wrong ones get 407, and
// the access log shows the user.
func squidCase(t *testing.T, s *Squid, proxyURL string, env []string, good, bad []string, user string) {
	t.Helper()
	content := RandomContent(1000, 1)
	plain := NewOrigin(t, content)
	tlsOrigin := NewTLSOrigin(t, content)
	for _, url := range []string{plain.URL("/file"), tlsOrigin.URL("/file")} {
		code, body := curlVia(t, env, url, append([]string{"-k", "-x", proxyURL}, good...)...)
		if code != 200 || body != string(content) {
			t.Errorf("through squid to %s: status %d, %d bytes; want 200 and the file\n%s", url, code, len(body), s.Log())
		}
	}
	if bad != nil {
		code, _ := curlVia(t, env, plain.URL("/file"), append([]string{"-x", proxyURL}, bad...)...)
		if code != 407 {
			t.Errorf("wrong credentials: status %d, want 407", code)
		}
	}
	code, _ := curlVia(t, env, plain.URL("/file"), "-x", proxyURL)
	if code != 407 {
		t.Errorf("no credentials: status %d, want 407", code)
	}
	tunnel := strings.TrimPrefix(tlsOrigin.Server.URL, "https://")
	Eventually(t, "squid to log both requests as "+user, func() bool {
		var get, connect bool
		for _, r := range s.Requests() {
			get = get || r.Method == "GET" && r.Target == plain.URL("/file") && r.Status == 200 && r.User == user
			connect = connect || r.Method == "CONNECT" && r.Target == tunnel && r.Status == 200 && r.User == user
		}
		return get && connect
	})
	if t.Failed() {
		t.Logf("squid logged %+v", s.Requests())
	}
}

func TestSquidNoAuth(t *testing.T) {
	s := StartSquid(t)
	o := NewOrigin(t, []byte("hello"))
	code, body := curlVia(t, nil, o.URL("/file"), "-x", s.URL())
	if code != 200 || body != "hello" {
		t.Fatalf("status %d, body %q", code, body)
	}
	want := ProxyRequest{Method: "GET", Target: o.URL("/file"), Status: 200}
	deadline := time.Now().Add(10 * time.Second)
	for r := s.Requests(); len(r) != 1 || r[0] != want; r = s.Requests() {
		if time.Now().After(deadline) {
			t.Fatalf("squid logged %+v, want %+v", r, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Only loopback destinations: a documentation address (TEST-NET-1)
	// is refused without a connection.
	if code, _ := curlVia(t, nil, "http://192.0.2.1/", "-x", s.URL()); code != 403 {
		t.Errorf("to a non-loopback address: status %d, want 403", code)
	}
}

func TestSquidBasic(t *testing.T) {
	s := StartSquid(t, SquidBasic("alice", "Secret-1"))
	squidCase(t, s, s.URL(), nil, []string{"--proxy-basic", "-U", "alice:Secret-1"}, []string{"--proxy-basic", "-U", "alice:wrong"}, "alice")
}

func TestSquidDigest(t *testing.T) {
	s := StartSquid(t, SquidDigest("alice", "Secret-1"))
	squidCase(t, s, s.URL(), nil, []string{"--proxy-digest", "-U", "alice:Secret-1"}, []string{"--proxy-digest", "-U", "alice:wrong"}, "alice")
}

func TestSquidNTLM(t *testing.T) {
	s := StartSquid(t, SquidNTLM())
	who := NTLMDomain + `\` + NTLMAccount
	squidCase(t, s, s.URL(), nil, []string{"--proxy-ntlm", "-U", who + ":" + s.NTLMPassword()}, []string{"--proxy-ntlm", "-U", who + ":wrong"}, who)
}

func TestSquidNegotiate(t *testing.T) {
	kdc := StartKDC(t)
	password := kdc.AddUser(t, "alice")
	ccache := filepath.Join(t.TempDir(), "ccache")
	kdc.Kinit(t, "alice", password, ccache)
	s := StartSquid(t, SquidNegotiate(kdc))
	env := append(kdc.Env(), "KRB5CCNAME=FILE:"+ccache)
	// Without a ticket the proxy's 407 stands.
	noTicket := append(kdc.Env(), "KRB5CCNAME=FILE:"+ccache+".none")
	o := NewOrigin(t, []byte("x"))
	if code, _ := curlVia(t, noTicket, o.URL("/file"), "-x", s.LocalhostURL(), "--proxy-negotiate", "-U", ":"); code != 407 {
		t.Errorf("Negotiate without a ticket: status %d, want 407", code)
	}
	squidCase(t, s, s.LocalhostURL(), env, []string{"--proxy-negotiate", "-U", ":"}, nil, "alice@"+kdc.Realm())
}
