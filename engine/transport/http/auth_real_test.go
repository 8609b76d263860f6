package http

import (
	"path/filepath"
	"strings"
	"testing"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/testenv"
)

// These tests authenticate against servers that are not ours: a real MIT
// KDC, Apache with mod_auth_gssapi, and squid with its Basic, Digest,
// Samba NTLM and Kerberos helpers.

// kerberosUser starts a KDC with one user and returns it, the user's
// password and an environment whose credential cache holds the user's
// ticket-granting ticket, got with the real kinit.
func kerberosUser(t *testing.T) (kdc *testenv.KDC, password string, env []string) {
	kdc = testenv.StartKDC(t)
	password = kdc.AddUser(t, "alice")
	cc := filepath.Join(t.TempDir(), "cc")
	kdc.Kinit(t, "alice", password, cc)
	return kdc, password, append(kdc.Env(), "KRB5CCNAME=FILE:"+cc)
}

// TestNegotiateWithKerberosServer downloads from Apache, which takes only
// Kerberos, over HTTP and HTTPS: with the user's ticket cache (the implicit
// credential) and with a user name and password; no ticket and a wrong
// password are fatal 401s.
func TestNegotiateWithKerberosServer(t *testing.T) {
	kdc, password, env := kerberosUser(t)
	srv := testenv.StartNegotiateServer(t, kdc, "")
	content := testenv.RandomContent(300_000, 61)
	srv.WriteFile(t, "file", content)
	implicit := transport.Credential{Target: transport.TargetServer, Scheme: transport.SchemeNegotiate, Implicit: true}
	withPassword := serverCred(transport.SchemeNegotiate, "alice@"+kdc.Realm(), password)

	for _, tc := range []struct {
		name string
		cred transport.Credential
		env  []string
	}{
		{"ticket cache", implicit, env},
		// No ticket cache: the password logs in.
		{"password", withPassword, append(kdc.Env(), "KRB5CCNAME=FILE:"+filepath.Join(t.TempDir(), "none"))},
	} {
		for _, base := range []string{srv.URL(), srv.TLSURL()} {
			t.Run(tc.name+" "+base, func(t *testing.T) {
				before := authenticated(srv, "alice@"+kdc.Realm())
				s := transport.Settings{Credentials: []transport.Credential{tc.cred}, Env: tc.env}
				got, err := fetchVia(t, New(Options{TLSConfig: srv.TLSConfig()}), base+"/file", s)
				if err != nil {
					t.Fatalf("%v\n%s", err, srv.Log())
				}
				sameBytes(t, got, content)
				if after := authenticated(srv, "alice@"+kdc.Realm()); after <= before {
					t.Errorf("Apache logged no request authenticated as alice: %+v", srv.Requests())
				}
			})
		}
	}

	t.Run("no ticket", func(t *testing.T) {
		s := transport.Settings{
			Credentials: []transport.Credential{implicit},
			Env:         append(kdc.Env(), "KRB5CCNAME=FILE:"+filepath.Join(t.TempDir(), "none")),
		}
		_, err := fetchVia(t, New(Options{TLSConfig: srv.TLSConfig()}), srv.URL()+"/file", s)
		wantError(t, err, hresult.HTTP(401), false, hresult.ContextRemoteFile)
		if !strings.Contains(err.Error(), "run kinit") {
			t.Errorf("the error does not say what to do: %v", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		s := transport.Settings{
			Credentials: []transport.Credential{serverCred(transport.SchemeNegotiate, "alice@"+kdc.Realm(), "wrong")},
			Env:         kdc.Env(),
		}
		_, err := fetchVia(t, New(Options{TLSConfig: srv.TLSConfig()}), srv.URL()+"/file", s)
		wantError(t, err, hresult.HTTP(401), false, hresult.ContextRemoteFile)
	})
}

func authenticated(srv *testenv.NegotiateServer, user string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.User == user && r.Status == 200 {
			n++
		}
	}
	return n
}

// TestSquidAuthentication fetches an HTTP and an HTTPS file through a real
// squid that asks for each scheme in turn; the HTTPS tunnel's CONNECT
// carries the whole handshake. squid's log must show the user.
func TestSquidAuthentication(t *testing.T) {
	kdc, _, env := kerberosUser(t)
	content := testenv.RandomContent(100_000, 62)
	plain := testenv.NewOrigin(t, content)
	secure := testenv.NewTLSOrigin(t, content)
	proxyCred := func(scheme transport.AuthScheme, user, password string) transport.Credential {
		return transport.Credential{Target: transport.TargetProxy, Scheme: scheme, User: user, Password: password}
	}
	type setup struct {
		squid *testenv.Squid
		cred  transport.Credential
		user  string // as squid logs it
	}
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) setup
	}{
		{"Basic", func(t *testing.T) setup {
			return setup{testenv.StartSquid(t, testenv.SquidBasic("bob", "b-pw")), proxyCred(transport.SchemeBasic, "bob", "b-pw"), "bob"}
		}},
		{"Digest", func(t *testing.T) setup {
			return setup{testenv.StartSquid(t, testenv.SquidDigest("dora", "d-pw")), proxyCred(transport.SchemeDigest, "dora", "d-pw"), "dora"}
		}},
		{"NTLM", func(t *testing.T) setup {
			sq := testenv.StartSquid(t, testenv.SquidNTLM())
			return setup{sq, proxyCred(transport.SchemeNTLM, testenv.NTLMAccount, sq.NTLMPassword()), testenv.NTLMDomain + `\` + testenv.NTLMAccount}
		}},
		{"Negotiate", func(t *testing.T) setup {
			sq := testenv.StartSquid(t, testenv.SquidNegotiate(kdc))
			return setup{sq, transport.Credential{Target: transport.TargetProxy, Scheme: transport.SchemeNegotiate, Implicit: true}, "alice@" + kdc.Realm()}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.start(t)
			// The proxy by the name its Kerberos service has.
			s := override(strings.TrimPrefix(st.squid.LocalhostURL(), "http://"), "")
			s.Credentials, s.Env = []transport.Credential{st.cred}, env
			tr := New(Options{TLSConfig: secure.TLSConfig()})
			for _, origin := range []*testenv.Origin{plain, secure} {
				got, err := fetchVia(t, tr, origin.URL("/file"), s)
				if err != nil {
					t.Fatalf("%s: %v\n%s", origin.URL(""), err, st.squid.Log())
				}
				sameBytes(t, got, content)
			}
			tr.CloseIdleConnections() // squid logs a tunnel when it ends
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("squid logged %+v", st.squid.Requests())
				}
			})
			testenv.Eventually(t, "squid to log a tunnel and a request as "+st.user, func() bool {
				var tunnel, request bool
				for _, r := range st.squid.Requests() {
					if r.User == st.user && r.Status == 200 {
						tunnel = tunnel || r.Method == "CONNECT"
						request = request || r.Method == "GET"
					}
				}
				return tunnel && request
			})

			if st.cred.Implicit {
				return // a wrong password has no meaning for a ticket
			}
			st.cred.Password = "wrong"
			s.Credentials = []transport.Credential{st.cred}
			for _, origin := range []*testenv.Origin{plain, secure} {
				_, err := fetchVia(t, New(Options{TLSConfig: secure.TLSConfig()}), origin.URL("/file"), s)
				wantError(t, err, hresult.HTTP(407), false, hresult.ContextGeneralTransport)
			}
		})
	}
}
