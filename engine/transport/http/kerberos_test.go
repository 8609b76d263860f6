package http

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/config"
)

// TestCredentialCacheMustBeTheUsers: the implicit credential reads only a
// FILE cache that is a regular file of this user's, never a link (a cache
// in /tmp is a name anyone may take first).
func TestCredentialCacheMustBeTheUsers(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "cc")
	if err := os.WriteFile(real, []byte("not a cache"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, want string }{
		{"KEYRING:persistent:0", "only FILE caches"},
		{"KCM:", "only FILE caches"},
		{"FILE:" + link, "not a file of this user's"},
		{link, "not a file of this user's"},
		{filepath.Join(dir, "none"), "run kinit"},
		{"FILE:" + real, "the credential cache " + real}, // a file of ours, not a cache
	}
	if os.Geteuid() == 0 { // only root can give a file away
		other := filepath.Join(dir, "other")
		if err := os.WriteFile(other, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(other, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		cases = append(cases, struct{ name, want string }{other, "not a file of this user's"})
	}
	for _, tc := range cases {
		k := newKerberos(func(n string) string {
			if n == "KRB5CCNAME" {
				return tc.name
			}
			return ""
		})
		_, err := k.ccache()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("KRB5CCNAME=%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

func TestSplitPrincipal(t *testing.T) {
	cfg, err := config.NewFromString("[libdefaults]\n default_realm = EXAMPLE.TEST\n[realms]\n CORP.TEST = {\n  kdc = 127.0.0.1:1\n }\n")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, user, realm string }{
		{"alice@OTHER.TEST", "alice", "OTHER.TEST"},
		{"alice", "alice", "EXAMPLE.TEST"},
		{`corp.test\alice`, "alice", "CORP.TEST"},
		{`UNKNOWN\alice`, "alice", "EXAMPLE.TEST"},
	} {
		user, realm := splitPrincipal(tc.in, cfg)
		if user != tc.user || realm != tc.realm {
			t.Errorf("%s: %s and %s, want %s and %s", tc.in, user, realm, tc.user, tc.realm)
		}
	}
}
