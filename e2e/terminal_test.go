package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"bits/internal/testenv"
)

// TestProgressOnATerminal: under a pseudo-terminal (util-linux script),
// bitsadmin /transfer and bitsjob transfer draw their progress in place with
// the file's name, bytes, percent, rate and time left; piped, the same
// commands print plain lines with none of it.
func TestProgressOnATerminal(t *testing.T) {
	scriptTool, err := exec.LookPath("script")
	if err != nil {
		testenv.Missing(t, "script is not installed (Debian: bsdutils)")
	}
	u := newUser(t)
	content := testenv.RandomContent(6<<20, 41)
	o := testenv.NewOrigin(t, content, testenv.RateLimit(3<<20))
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"bitsadmin", []string{"bitsadmin", "/transfer", "tty", "/priority", "foreground", o.URL("/file"), filepath.Join(dir, "admin.bin")}},
		{"bitsjob", []string{"bitsjob", "transfer", "--priority", "foreground", o.URL("/file"), filepath.Join(dir, "job.bin")}},
	} {
		line := strings.Join(c.argv, " ") // no argument needs quoting here
		cmd := u.command(scriptTool, "-q", "-e", "-c", line, "/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s under script: %v\n%s", c.name, err, out)
		}
		s := string(out)
		for _, want := range []string{"\x1b[", filepath.Base(c.argv[len(c.argv)-1]), "MiB/s", " left", "6.0 MiB"} {
			if !strings.Contains(s, want) {
				t.Errorf("%s on a terminal does not show %q:\n%q", c.name, want, s)
			}
		}
		if fileSum(t, c.argv[len(c.argv)-1]) != sum(content) {
			t.Errorf("%s: the file arrived damaged", c.name)
		}
	}
	piped := u.ok("/transfer", "piped", o.URL("/file"), filepath.Join(dir, "piped.bin"))
	if strings.Contains(piped, "\x1b") || strings.Contains(piped, "/s ") || strings.Contains(piped, " left") {
		t.Errorf("piped /transfer shows terminal progress:\n%q", piped)
	}
}
