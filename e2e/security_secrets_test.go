package e2e

import (
	"bytes"
	nethttp "net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bits/internal/testenv"
)

// Secrets a job no longer holds are gone from every file of the store: the
// database, its WAL and its shared memory, free pages included. The worker
// runs throughout, as it does in use, so the WAL is not simply deleted when
// the command exits.
func TestSecretsErasedFromTheStore(t *testing.T) {
	content := testenv.RandomContent(4<<20, 21)

	t.Run("removecredentials", func(t *testing.T) {
		u := newUser(t)
		const password = "Removed-Pa55word-7f3c91"
		o := testenv.NewOrigin(t, content, testenv.RateLimit(256<<10))
		u.ok("/create", "creds")
		u.ok("/addfile", "creds", o.URL("/file"), filepath.Join(t.TempDir(), "out.bin"))
		u.ok("/setcredentials", "creds", "SERVER", "BASIC", "alice", password)
		u.ok("/resume", "creds")
		u.waitState("creds", "TRANSFERRING")
		u.ok("/removecredentials", "creds", "SERVER", "BASIC")
		u.assertErased(password)
	})

	t.Run("complete", func(t *testing.T) {
		u := newUser(t)
		const password, token = "Complete-Pa55word-2b8e44", "Complete-Header-Token-5d1a07"
		o := testenv.NewOrigin(t, nil)
		o.Handle("/secret", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			if user, pass, ok := r.BasicAuth(); !ok || user != "alice" || pass != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="files"`)
				w.WriteHeader(nethttp.StatusUnauthorized)
				return
			}
			nethttp.ServeContent(w, r, "secret", time.Unix(1700000000, 0), bytes.NewReader(content))
		}))
		dest := filepath.Join(t.TempDir(), "secret.bin")
		u.secretJob("done", o.URL("/secret"), dest, password, token)
		u.ok("/resume", "done")
		u.waitState("done", "TRANSFERRED")
		u.ok("/complete", "done")
		if fileSum(t, dest) != sum(content) {
			t.Fatal("SHA-256 of the result differs from the origin's")
		}
		u.assertErased(password, token)
	})

	t.Run("cancel", func(t *testing.T) {
		u := newUser(t)
		const password, token = "Cancel-Pa55word-91c6d2", "Cancel-Header-Token-3e7f58"
		o := testenv.NewOrigin(t, content, testenv.RateLimit(256<<10))
		u.secretJob("gone", o.URL("/file"), filepath.Join(t.TempDir(), "out.bin"), password, token)
		u.ok("/resume", "gone")
		u.waitState("gone", "TRANSFERRING")
		u.ok("/cancel", "gone")
		u.assertErased(password, token)
	})
}

// secretJob creates a job that holds a password and a write-only header.
func (u *user) secretJob(name, remote, local, password, token string) {
	u.t.Helper()
	u.ok("/create", name)
	u.ok("/addfile", name, remote, local)
	u.ok("/setcredentials", name, "SERVER", "BASIC", "alice", password)
	u.ok("/setcustomheaders", name, "X-Token: "+token)
	u.ok("/makecustomheaderswriteonly", name)
}

// assertErased fails the test if any file of the store holds one of the
// secrets.
func (u *user) assertErased(secrets ...string) {
	u.t.Helper()
	if !fileExists(filepath.Join(u.home, "jobs.db-wal")) {
		u.t.Error("no WAL: the worker should keep the database open")
	}
	for _, name := range []string{"jobs.db", "jobs.db-wal", "jobs.db-shm"} {
		b, err := os.ReadFile(filepath.Join(u.home, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			u.t.Fatal(err)
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				u.t.Errorf("%s still holds %q", name, s)
			}
		}
	}
}
