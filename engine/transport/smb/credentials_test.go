package smb

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bits/engine/transport"
	"bits/hresult"
)

func TestBadCredentials(t *testing.T) {
	s, tr := setup(t, Options{})
	s.WriteFile("f", []byte("x"))
	ctx := context.Background()
	// A good logon first: a later wrong password for the same user must
	// not ride on its cached session.
	if _, err := tr.Stat(ctx, req(t, s, "f")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []transport.Credential{
		ntlm(s.User(), "wrong-password-1"),
		ntlm("nosuchuser", "wrong-password-2"),
	} {
		_, err := tr.Stat(ctx, request(t, s.URL("f"), c))
		he := wantError(t, err, hresult.E_ACCESSDENIED, hresult.ContextRemoteFile, false)
		if !strings.Contains(he.Msg, "logon") || strings.Contains(he.Msg, c.Password) {
			t.Errorf("message %q should speak of the logon and never hold the password", he.Msg)
		}
	}
}

func TestNoCredentials(t *testing.T) {
	s, tr := setup(t, Options{})
	s.WriteFile("f", []byte("x"))
	for _, set := range []transport.Settings{
		{},
		{SMBCredentialsFile: filepath.Join(t.TempDir(), "smb-credentials")}, // absent
		{Credentials: []transport.Credential{{Target: transport.TargetServer, Scheme: transport.SchemeNTLM, Implicit: true}}},
		{Credentials: []transport.Credential{{Target: transport.TargetProxy, Scheme: transport.SchemeNTLM, User: s.User(), Password: s.Password()}}},
		{Credentials: []transport.Credential{{Target: transport.TargetServer, Scheme: transport.SchemeBasic, User: s.User(), Password: s.Password()}}},
	} {
		r := request(t, s.URL("f"))
		r.Settings = set
		_, err := tr.Stat(context.Background(), r)
		he := wantError(t, err, hresult.E_ACCESSDENIED, hresult.ContextRemoteFile, false)
		if !strings.Contains(he.Msg, "bitsadmin /setcredentials") || !strings.Contains(he.Msg, "smb-credentials") {
			t.Errorf("message %q does not say how to give credentials", he.Msg)
		}
	}
}

func TestCredentialForms(t *testing.T) {
	s, tr := setup(t, Options{})
	s.WriteFile("f", []byte("x"))
	for _, c := range []transport.Credential{
		{Target: transport.TargetServer, Scheme: transport.SchemeNegotiate, User: s.User(), Password: s.Password()},
		ntlm(`WORKGROUP\`+s.User(), s.Password()),
	} {
		if _, err := tr.Stat(context.Background(), request(t, s.URL("f"), c)); err != nil {
			t.Errorf("Stat as %q: %v", c.User, err)
		}
	}
}

func writeCredentials(t *testing.T, text string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "smb-credentials")
	if err := os.WriteFile(p, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCredentialsFile(t *testing.T) {
	s, tr := setup(t, Options{})
	s.WriteFile("f", []byte("x"))
	text := "# for the test server\r\nusername = " + s.User() + "\r\npassword=" + s.Password() + "\r\n; workgroup\r\ndomain=WORKGROUP\r\n"
	r := request(t, s.URL("f"))
	r.SMBCredentialsFile = writeCredentials(t, text, 0o600)
	if _, err := tr.Stat(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	// An implicit credential cannot be honoured: the file is used.
	r.Credentials = []transport.Credential{{Target: transport.TargetServer, Scheme: transport.SchemeNegotiate, Implicit: true}}
	if _, err := tr.Stat(context.Background(), r); err != nil {
		t.Fatalf("with an implicit credential: %v", err)
	}
	// The job's own credential wins over the file.
	r.Credentials = []transport.Credential{ntlm(s.User(), "wrong")}
	_, err := tr.Stat(context.Background(), r)
	wantError(t, err, hresult.E_ACCESSDENIED, hresult.ContextRemoteFile, false)
}

func TestCredentialsFileRefused(t *testing.T) {
	s, tr := setup(t, Options{})
	s.WriteFile("f", []byte("x"))
	for _, c := range []struct {
		text string
		mode os.FileMode
		want string
	}{
		{"username=" + s.User() + "\npassword=" + s.Password() + "\n", 0o644, "chmod 600"},
		{"username=" + s.User() + "\npassword=" + s.Password() + "\n", 0o640, "chmod 600"},
		{"password=" + s.Password() + "\n", 0o600, "no username"},
	} {
		r := request(t, s.URL("f"))
		r.SMBCredentialsFile = writeCredentials(t, c.text, c.mode)
		_, err := tr.Stat(context.Background(), r)
		he := wantError(t, err, hresult.E_ACCESSDENIED, hresult.ContextLocalFile, false)
		if !strings.Contains(he.Msg, c.want) || strings.Contains(he.Msg, s.Password()) {
			t.Errorf("message %q: want %q in it and no password", he.Msg, c.want)
		}
	}
}

func TestSplitUser(t *testing.T) {
	for in, want := range map[string][2]string{
		`DOM\alice`:  {"DOM", "alice"},
		`DOM/alice`:  {"DOM", "alice"},
		`alice`:      {"", "alice"},
		`alice@corp`: {"", "alice@corp"},
	} {
		if d, u := splitUser(in); d != want[0] || u != want[1] {
			t.Errorf("splitUser(%q) = %q, %q; want %q", in, d, u, want)
		}
	}
}
