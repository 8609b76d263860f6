package e2e

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bits/internal/testenv"
)

// TestUserChecksum: bitsjob transfer --sha256 completes a file that has
// the SHA-256 given, and stops in Error, with nothing under the final
// name, on one that does not; a malformed sum is refused before any job
// is made; the sum travels in the job's JSON.
func TestUserChecksum(t *testing.T) {
	u := newUser(t)
	content := testenv.RandomContent(1<<20, 77)
	o := testenv.NewOrigin(t, content)
	dir := t.TempDir()
	good := sum(content)
	right := hex.EncodeToString(good[:])
	wrong := strings.Repeat("0", 64)

	ok := filepath.Join(dir, "ok.bin")
	if _, stderr, code := u.bitsjob("transfer", "--sha256", strings.ToUpper(right), o.URL("/file"), ok); code != 0 {
		t.Fatalf("transfer with the right SHA-256: exit %d\n%s", code, stderr)
	}
	if fileSum(t, ok) != good {
		t.Fatal("the file arrived damaged")
	}

	bad := filepath.Join(dir, "bad.bin")
	_, stderr, code := u.bitsjob("transfer", "--name", "bad", "--sha256", wrong, o.URL("/file"), bad)
	if code != 4 || !strings.Contains(stderr, "0x80200053") || !strings.Contains(stderr, right) {
		t.Errorf("transfer with a wrong SHA-256: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("a file with the wrong SHA-256 is under its final name")
	}
	if out := u.jobctl("get", "--json", "bad"); !strings.Contains(out, `"Sha256":"`+wrong+`"`) || !strings.Contains(out, `"JobState":"Error"`) {
		t.Errorf("get --json of the job that failed its check:\n%s", out)
	}
	u.jobctl("cancel", "bad")

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"transfer", "--sha256", "xyz", o.URL("/file"), filepath.Join(dir, "x")}, "want 64 hexadecimal digits"},
		{[]string{"transfer", "--sha256", right, "--sha256", right, o.URL("/file"), filepath.Join(dir, "x")}, "2 given for 1 files"},
	} {
		if _, stderr, code := u.bitsjob(c.args...); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("bitsjob %s: exit %d\n%s\nwant a failure saying %q", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
	if out := u.jobctl("list", "--json"); strings.Contains(out, "JobId") {
		t.Errorf("a refused transfer left a job:\n%s", out)
	}
}
