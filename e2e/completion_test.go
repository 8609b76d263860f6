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

// TestCompletionInstall: bitsjob completion --install writes the three
// programs' completions where the shell looks, and fish, started afresh
// in that home, completes from them on its own.
func TestCompletionInstall(t *testing.T) {
	if _, err := exec.LookPath("fish"); err != nil {
		testenv.Missing(t, "fish is not installed (Debian: apt-get install fish)")
	}
	u := newUser(t)
	home := t.TempDir()
	u.env = append(u.env, "HOME="+home, "XDG_CONFIG_HOME=", "XDG_DATA_HOME=", "SHELL=/usr/bin/fish")
	out := u.jobctl("completion", "--install")
	dir := filepath.Join(home, ".config", "fish", "completions")
	for _, prog := range []string{"bitsjob", "bitsadmin", "bitsserver"} {
		path := filepath.Join(dir, prog+".fish")
		if !fileExists(path) || !strings.Contains(out, path) {
			t.Errorf("no %s after completion --install:\n%s", path, out)
		}
	}
	got, err := u.command("fish", "-c", `complete -C "bitsjob tra"; complete -C "bitsadmin /cre"`).CombinedOutput()
	if err != nil || !strings.Contains(string(got), "transfer\t") || !strings.Contains(string(got), "/create") {
		t.Errorf("fish in the new home: %v\n%s", err, got)
	}
	if out := u.jobctl("completion", "--install=bash"); !strings.Contains(out, filepath.Join(home, ".local", "share", "bash-completion", "completions", "bitsadmin")) {
		t.Errorf("completion --install=bash:\n%s", out)
	}
}
