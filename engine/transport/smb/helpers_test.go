package smb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net/url"
	"testing"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/testenv"
)

// setup starts an smbd and a Transport that the test closes at its end.
func setup(t *testing.T, o Options) (*testenv.SMBD, *Transport) {
	t.Helper()
	s := testenv.StartSMBD(t)
	tr := New(o)
	t.Cleanup(func() { tr.Close() })
	return s, tr
}

// names reads this transport's remote names as the engine's registry does.
var names = transport.NewRegistry(New(Options{}).Entry())

// request names rawURL with the given credentials.
func request(t *testing.T, rawURL string, creds ...transport.Credential) *transport.Request {
	t.Helper()
	u, err := names.Parse(rawURL)
	if err != nil {
		u, err = url.Parse(rawURL) // names the registry refuses are tested too
		if err != nil {
			t.Fatal(err)
		}
	}
	return &transport.Request{URL: u, Settings: transport.Settings{Credentials: creds}}
}

func ntlm(user, password string) transport.Credential {
	return transport.Credential{Target: transport.TargetServer, Scheme: transport.SchemeNTLM, User: user, Password: password}
}

// req names a file of s's share with the share user's credentials.
func req(t *testing.T, s *testenv.SMBD, name string) *transport.Request {
	t.Helper()
	return request(t, s.URL(name), ntlm(s.User(), s.Password()))
}

// randomData is n reproducible pseudo-random bytes.
func randomData(n int) []byte { return testenv.RandomContent(n, uint64(n)) }

// wantError checks err's code, context and transient flag.
func wantError(t *testing.T, err error, code hresult.Code, ctx hresult.Context, transient bool) *hresult.Error {
	t.Helper()
	var he *hresult.Error
	if !errors.As(err, &he) {
		t.Fatalf("error = %v (%T), want an *hresult.Error 0x%08x", err, err, uint32(code))
	}
	if he.Code != code || he.Context != ctx || he.Transient != transient {
		t.Fatalf("error = 0x%08x context %d transient %v (%v), want 0x%08x context %d transient %v",
			uint32(he.Code), he.Context, he.Transient, he, uint32(code), ctx, transient)
	}
	return he
}

// download fetches the whole file and checks it against want.
func download(t *testing.T, tr *Transport, r *transport.Request, want []byte) {
	t.Helper()
	ctx := context.Background()
	info, err := tr.Stat(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := tr.Download(ctx, r, 0, -1, info, &buf)
	if err != nil || n != int64(len(want)) {
		t.Fatalf("Download = %d, %v; want %d bytes", n, err, len(want))
	}
	if sha256.Sum256(buf.Bytes()) != sha256.Sum256(want) {
		t.Fatal("downloaded bytes differ from the file")
	}
}
