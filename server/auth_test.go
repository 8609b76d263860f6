package server

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func hash(t *testing.T, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func withUsers(t *testing.T, lines ...string) func(*Config) {
	u, err := ParseUsers(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) { c.Users = u }
}

func TestBasicAuth(t *testing.T) {
	f := startUploads(t, withUsers(t, "# uploaders", "", "alice:"+hash(t, "wonderland"), "bob:"+hash(t, "builder")))
	ping := func(user, password string) *http.Response {
		req, _ := http.NewRequest("BITS_POST", f.ts.URL+"/up/a.bin", nil)
		req.Header.Set("BITS-Packet-Type", "Ping")
		if user != "" {
			req.SetBasicAuth(user, password)
		}
		return f.send(req)
	}
	for _, c := range []struct{ user, password string }{
		{"", ""}, {"alice", "wrong"}, {"alice", ""}, {"carol", "wonderland"}, {"bob", "wonderland"},
	} {
		resp := ping(c.user, c.password)
		expectAck(t, resp, http.StatusUnauthorized, "")
		if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Basic realm=") {
			t.Errorf("%s: WWW-Authenticate %q", c.user, got)
		}
	}
	expectAck(t, ping("alice", "wonderland"), http.StatusOK, "")
	expectAck(t, ping("alice", "wonderland"), http.StatusOK, "") // the remembered check
	expectAck(t, ping("alice", "wonderlan"), http.StatusUnauthorized, "")

	// Downloads need a user too.
	if resp, _ := f.get(f.ts.URL + "/hello.txt"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET without credentials: %s", resp.Status)
	}
	req, _ := http.NewRequest("GET", f.ts.URL+"/hello.txt", nil)
	req.SetBasicAuth("bob", "builder")
	if resp := f.send(req); resp.StatusCode != http.StatusOK {
		t.Errorf("GET as bob: %s", resp.Status)
	}

	// A session is its owner's: bob cannot touch alice's.
	as := func(user, password string, header ...string) *http.Response {
		req, _ := http.NewRequest("BITS_POST", f.ts.URL+"/up/a.bin", strings.NewReader("abc"))
		req.SetBasicAuth(user, password)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		if header[1] != "Fragment" {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		return f.send(req)
	}
	resp := as("alice", "wonderland", "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", upload15)
	expectAck(t, resp, http.StatusOK, "")
	id := resp.Header.Get("BITS-Session-Id")
	frag := []string{"BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 0-2/3"}
	expectAck(t, as("bob", "builder", frag...), http.StatusInternalServerError, "0x8020001f")
	expectAck(t, as("bob", "builder", "BITS-Packet-Type", "Cancel-Session", "BITS-Session-Id", id), http.StatusInternalServerError, "0x8020001f")
	expectAck(t, as("alice", "wonderland", frag...), http.StatusOK, "")
	expectAck(t, as("alice", "wonderland", "BITS-Packet-Type", "Close-Session", "BITS-Session-Id", id), http.StatusOK, "")
	if got := readFile(t, filepath.Join(f.up, "a.bin")); string(got) != "abc" {
		t.Fatalf("a.bin = %q", got)
	}
}

func TestParseUsers(t *testing.T) {
	good := hash(t, "pw")
	for _, c := range []struct {
		name, text string
		ok         bool
	}{
		{"one user", "alice:" + good, true},
		{"comments and blanks", "# c\n\n  alice:" + good + "  \n", true},
		{"htpasswd -B's $2y$", "alice:$2y" + good[3:], true},
		{"no users", "# none\n", false},
		{"no colon", "alice " + good, false},
		{"empty name", ":" + good, false},
		{"space in name", "al ice:" + good, false},
		{"twice", "alice:" + good + "\nalice:" + good, false},
		{"plain password", "alice:secret", false},
		{"md5 crypt", "alice:$apr1$abc$defghijklmnopqrstuv", false},
		{"sha1", "alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=", false},
	} {
		_, err := ParseUsers(strings.NewReader(c.text))
		if (err == nil) != c.ok {
			t.Errorf("%s: err %v", c.name, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error quotes the password: %v", c.name, err)
		}
	}
	name := filepath.Join(t.TempDir(), "users")
	os.WriteFile(name, []byte("alice:"+good+"\n"), 0o600)
	u, err := LoadUsers(name)
	if err != nil || !u.check("alice", "pw") || u.check("alice", "PW") {
		t.Errorf("LoadUsers: %v", err)
	}
	if _, err := LoadUsers(name + ".missing"); err == nil {
		t.Error("LoadUsers of a missing file succeeded")
	}
	h, err := HashPassword("pw")
	if err != nil || bcrypt.CompareHashAndPassword([]byte(h), []byte("pw")) != nil {
		t.Errorf("HashPassword: %q, %v", h, err)
	}
}
