package smb

import (
	"context"
	"net/url"
	"os"
	"testing"

	"bits/engine/transport"
	"bits/internal/testenv"
)

func TestExplore(t *testing.T) {
	s := testenv.StartSMBD(t)
	s.WriteFile("a.txt", []byte("hello"))
	os.WriteFile(s.Dir()+"/secret", []byte("x"), 0)
	tr := New(Options{})
	req := func(raw, pw string) *transport.Request {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return &transport.Request{URL: u, Settings: transport.Settings{Credentials: []transport.Credential{{Target: transport.TargetServer, Scheme: transport.SchemeNTLM, User: s.User(), Password: pw}}}}
	}
	ctx := context.Background()
	for _, c := range []struct{ u, pw string }{
		{s.URL("a.txt"), s.Password()},
		{s.URL("nope.txt"), s.Password()},
		{s.URL("dir/nope.txt"), s.Password()},
		{s.URL("secret"), s.Password()},
		{"smb://" + s.Addr() + "/noshare/x", s.Password()},
		{s.URL("a.txt"), "wrong"},
		{"smb://127.0.0.1:1/share/x", "wrong"},
	} {
		info, err := tr.Stat(ctx, req(c.u, c.pw))
		t.Logf("%s: %+v %#v %v", c.u, info, err, err)
	}
}
