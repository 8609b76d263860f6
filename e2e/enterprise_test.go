package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"bits/internal/testenv"
)

// TestKerberosSingleSignOn downloads over HTTPS from Apache, which takes
// only Kerberos, through a squid that takes only Kerberos, with nothing
// but the user's tickets: /setcredentials ... NEGOTIATE NULL NULL for
// both. Without a ticket the job fails and says to run kinit; after
// kinit, /resume from that shell finishes it.
func TestKerberosSingleSignOn(t *testing.T) {
	kdc := testenv.StartKDC(t)
	password := kdc.AddUser(t, "alice")
	srv := testenv.StartNegotiateServer(t, kdc, "")
	content := testenv.RandomContent(2<<20, 71)
	srv.WriteFile(t, "report.bin", content)
	squid := testenv.StartSquid(t, testenv.SquidNegotiate(kdc))

	u := newUser(t)
	base := append(slices.Clone(u.env), kdc.Env()...)
	base = append(base, "SSL_CERT_FILE="+srv.CertFile())
	u.env = append(base, "KRB5CCNAME=FILE:"+filepath.Join(t.TempDir(), "no-ticket-yet"))
	dest := filepath.Join(t.TempDir(), "report.bin")
	u.ok("/create", "sso")
	u.ok("/addfile", "sso", srv.TLSURL()+"/report.bin", dest)
	u.ok("/setproxysettings", "sso", "OVERRIDE", strings.TrimPrefix(squid.LocalhostURL(), "http://"), "NULL")
	u.ok("/setcredentials", "sso", "SERVER", "NEGOTIATE", "NULL", "NULL")
	u.ok("/setcredentials", "sso", "PROXY", "NEGOTIATE", "NULL", "NULL")
	u.ok("/resume", "sso")
	u.waitState("sso", "ERROR")
	if code := u.raw("/geterror", "sso"); code != "0x80190197" {
		t.Errorf("error code %s, want 0x80190197 (the proxy's 407)", code)
	}
	if out := u.ok("/geterror", "sso"); !strings.Contains(out, "run kinit") {
		t.Errorf("the error does not say to run kinit:\n%s", out)
	}

	cc := filepath.Join(t.TempDir(), "cc")
	kdc.Kinit(t, "alice", password, cc)
	u.env = append(base, "KRB5CCNAME=FILE:"+cc)
	u.ok("/resume", "sso")
	u.waitState("sso", "TRANSFERRED")
	u.ok("/complete", "sso")
	if fileSum(t, dest) != sum(content) {
		t.Fatal("the file arrived damaged")
	}
	principal := "alice@" + kdc.Realm()
	served := false
	for _, r := range srv.Requests() {
		served = served || (r.TLS && r.User == principal && r.Path == "/report.bin" && r.Status/100 == 2)
	}
	if !served {
		t.Errorf("Apache served no request of %s over TLS: %+v", principal, srv.Requests())
	}
	u.stopWorker() // squid logs a tunnel when it closes
	testenv.Eventually(t, "squid to log the tunnel as "+principal, func() bool {
		return slices.ContainsFunc(squid.Requests(), func(r testenv.ProxyRequest) bool {
			return r.Method == "CONNECT" && r.User == principal && r.Status == 200
		})
	})
}

// TestNTLMProxyCarriesHTTPSUpload uploads with the BITS upload protocol to
// a bitsserver over HTTPS through a squid that asks for NTLM (Samba's
// ntlm_auth): every packet goes through tunnels whose CONNECT ran the
// NTLM handshake on its own connection.
func TestNTLMProxyCarriesHTTPSUpload(t *testing.T) {
	squid := testenv.StartSquid(t, testenv.SquidNTLM())
	cert, key := testenv.SelfSigned(t, t.TempDir())
	dir := t.TempDir()
	srv := startBitsserver(t, "-tls-cert", cert, "-tls-key", key, "-upload", "/up="+dir)
	src, want := uploadSource(t, 3<<20+17)

	u := newUser(t)
	u.env = append(u.env, "SSL_CERT_FILE="+cert)
	u.ok("/create", "/upload", "tunnelled")
	u.ok("/addfile", "tunnelled", srv.url+"/up/report.bin", src)
	u.ok("/setproxysettings", "tunnelled", "OVERRIDE", squid.Addr(), "NULL")
	u.ok("/setcredentials", "tunnelled", "PROXY", "NTLM", testenv.NTLMDomain+`\`+testenv.NTLMAccount, squid.NTLMPassword())
	u.ok("/resume", "tunnelled")
	u.waitState("tunnelled", "TRANSFERRED")
	u.ok("/complete", "tunnelled")
	if got := fileSum(t, filepath.Join(dir, "report.bin")); got != want {
		t.Fatal("the server's file differs from the source")
	}
	u.stopWorker() // squid logs a tunnel when it closes
	user := testenv.NTLMDomain + `\` + testenv.NTLMAccount
	testenv.Eventually(t, "squid to log the tunnel as "+user, func() bool {
		return slices.ContainsFunc(squid.Requests(), func(r testenv.ProxyRequest) bool {
			return r.Method == "CONNECT" && r.User == user && r.Status == 200
		})
	})
	logText, _ := os.ReadFile(filepath.Join(u.home, "worker.log"))
	if strings.Contains(string(logText), squid.NTLMPassword()) {
		t.Error("the worker log holds the proxy password")
	}
}
