package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// TestNegotiateServer downloads a file from Apache with curl --negotiate
// and a ticket from the KDC, over HTTP and HTTPS, with a range; without a
// ticket Apache answers 401; its log shows the user.
func TestNegotiateServer(t *testing.T) {
	kdc := StartKDC(t)
	password := kdc.AddUser(t, "alice")
	ccache := filepath.Join(t.TempDir(), "ccache")
	kdc.Kinit(t, "alice", password, ccache)
	content := RandomContent(100_000, 7)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "file"), content, 0o600); err != nil {
		t.Fatal(err)
	}
	s := StartNegotiateServer(t, kdc, dir)
	env := append(kdc.Env(), "KRB5CCNAME=FILE:"+ccache)

	for _, url := range []string{s.URL() + "/file", s.TLSURL() + "/file"} {
		code, body := curlVia(t, env, url, "--cacert", s.CertFile(), "--negotiate", "-u", ":")
		if code != 200 || body != string(content) {
			t.Errorf("%s: status %d, %d bytes; want 200 and the file\n%s", url, code, len(body), s.Log())
		}
	}
	code, body := curlVia(t, env, s.URL()+"/file", "--negotiate", "-u", ":", "-r", "1000-1999")
	if code != 206 || body != string(content[1000:2000]) {
		t.Errorf("range: status %d, %d bytes; want 206 and bytes 1000-1999", code, len(body))
	}
	noTicket := append(kdc.Env(), "KRB5CCNAME=FILE:"+ccache+".none")
	if code, _ := curlVia(t, noTicket, s.URL()+"/file", "--negotiate", "-u", ":"); code != 401 {
		t.Errorf("without a ticket: status %d, want 401", code)
	}
	if code, _ := curlVia(t, env, s.URL()+"/file"); code != 401 {
		t.Errorf("without Negotiate: status %d, want 401", code)
	}

	user := "alice@" + kdc.Realm()
	Eventually(t, "Apache to log the downloads as "+user, func() bool {
		var plain, tls, refused bool
		for _, r := range s.Requests() {
			ok := r.Method == "GET" && r.Path == "/file" && r.User == user
			plain = plain || ok && !r.TLS && r.Status == 200
			tls = tls || ok && r.TLS && r.Status == 200
			refused = refused || r.Path == "/file" && r.User == "" && r.Status == 401
		}
		return plain && tls && refused
	})
	if t.Failed() {
		t.Logf("Apache logged %+v", s.Requests())
	}
}

// TestNegotiateThroughSquid downloads from Apache through squid, both
// asking for Negotiate as HTTP/localhost of one KDC, which share the
// service's keys: curl authenticates to each with the same ticket cache.
func TestNegotiateThroughSquid(t *testing.T) {
	kdc := StartKDC(t)
	password := kdc.AddUser(t, "alice")
	ccache := filepath.Join(t.TempDir(), "ccache")
	kdc.Kinit(t, "alice", password, ccache)
	squid := StartSquid(t, SquidNegotiate(kdc))
	s := StartNegotiateServer(t, kdc, "")
	s.WriteFile(t, "dir/file", []byte("through both"))
	env := append(kdc.Env(), "KRB5CCNAME=FILE:"+ccache)

	code, body := curlVia(t, env, s.URL()+"/dir/file", "-x", squid.LocalhostURL(), "--proxy-negotiate", "-U", ":", "--negotiate", "-u", ":")
	if code != 200 || body != "through both" {
		t.Fatalf("status %d, body %q\nsquid:\n%s\nApache:\n%s", code, body, squid.Log(), s.Log())
	}
	user := "alice@" + kdc.Realm()
	Eventually(t, "squid and Apache to log "+user, func() bool {
		var proxied, served bool
		for _, r := range squid.Requests() {
			proxied = proxied || r.Target == s.URL()+"/dir/file" && r.User == user && r.Status == 200
		}
		for _, r := range s.Requests() {
			served = served || r.Path == "/dir/file" && r.User == user && r.Status == 200
		}
		return proxied && served
	})
}
