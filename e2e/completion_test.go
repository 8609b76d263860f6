package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"bits/internal/testenv"
)

// TestCompletions: the completion scripts of bitsadmin and bitsserver, for
// bash, zsh and fish, are valid in each shell; bash and fish, running them,
// complete bitsadmin's verbs and job names (one with a blank, quoted) and
// bitsserver's flags.
func TestCompletions(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		if _, err := exec.LookPath(sh); err != nil {
			testenv.Missing(t, sh+" is not installed (Debian: apt-get install "+sh+")")
		}
	}
	u := newUser(t)
	u.ok("/create", "nightly backup")
	dir := t.TempDir()
	script := func(prog, sh string) string {
		path := filepath.Join(dir, prog+"."+sh)
		cmd := u.command(prog, "--completion", sh)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s --completion %s: %v", prog, sh, err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command(sh, "-n", path).CombinedOutput(); err != nil {
			t.Errorf("%s -n %s: %v\n%s", sh, path, err, b)
		}
		return path
	}
	run := func(sh, code string) string {
		t.Helper()
		out, err := u.command(sh, "-c", code).CombinedOutput()
		if err != nil {
			t.Fatalf("%s -c %q: %v\n%s", sh, code, err, out)
		}
		return string(out)
	}
	for _, prog := range []string{"bitsadmin", "bitsserver"} {
		script(prog, "zsh")
	}

	bash := script("bitsadmin", "bash")
	got := run("bash", `source `+bash+`; COMP_WORDS=(bitsadmin /cre); COMP_CWORD=1; _bitsadmin; printf '[%s]' "${COMPREPLY[@]}"
COMP_WORDS=(bitsadmin /RAWRETURN /info night); COMP_CWORD=3; _bitsadmin; printf '[%s]' "${COMPREPLY[@]}"`)
	if got != `[/create][nightly\ backup]` {
		t.Errorf("bash completion of bitsadmin: %s", got)
	}
	bashServer := script("bitsserver", "bash")
	if got := run("bash", `source `+bashServer+`; complete -p bitsserver`); !strings.Contains(got, "-listen") || !strings.Contains(got, "-upload") {
		t.Errorf("bash completion of bitsserver: %s", got)
	}

	fish := script("bitsadmin", "fish")
	fishServer := script("bitsserver", "fish")
	got = run("fish", `source `+fish+`; complete -C "bitsadmin /cre"; complete -C "bitsadmin /info night"; source `+fishServer+`; complete -C "bitsserver -lis"`)
	for _, want := range []string{"/create\n", "nightly backup\n", "-listen\t"} {
		if !strings.Contains(got, want) {
			t.Errorf("fish completion lacks %q:\n%s", want, got)
		}
	}
}
