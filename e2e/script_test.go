package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"bits/internal/testenv"
)

// Script-style tests: the real bitsadmin, driven and parsed the way batch
// files, cron jobs and shell scripts written for Windows' bitsadmin do.

// run runs the real bitsadmin with stdout and stderr apart, as a script
// that captures one of them sees them.
func (u *user) run(args ...string) (stdout, stderr string, code int) {
	u.t.Helper()
	return u.runProgram("bitsadmin", args...)
}

// runProgram runs one of the real programs with stdout and stderr apart.
func (u *user) runProgram(name string, args ...string) (stdout, stderr string, code int) {
	u.t.Helper()
	cmd := u.command(name, args...)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		u.t.Fatalf("%s %v: %v", name, args, err)
	}
	return out.String(), errs.String(), code
}

// shell runs a POSIX shell script with the user's environment (bitsadmin is
// on its PATH) and the given positional parameters.
func (u *user) shell(script string, params ...string) (string, int) {
	u.t.Helper()
	cmd := u.command("sh", append([]string{"-c", script, "sh"}, params...)...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		u.t.Fatalf("sh: %v", err)
	}
	return string(out), 0
}

// createJob runs /create and reads the job's GUID as `for /f "skip=4
// tokens=3"` does in cmd: the third blank-separated token of the first line
// after the five lines of the banner, with its trailing period.
func (u *user) createJob(name string) string {
	u.t.Helper()
	out, errs, code := u.run("/create", name)
	if code != 0 || errs != "" {
		u.t.Fatalf("/create: exit %d, stderr %q", code, errs)
	}
	lines := strings.Split(out, "\n")
	if len(lines) < 6 {
		u.t.Fatalf("/create printed %d lines:\n%s", len(lines), out)
	}
	tokens := strings.Fields(lines[5])
	if len(tokens) < 3 || !strings.HasPrefix(tokens[2], "{") || !strings.HasSuffix(tokens[2], "}.") {
		u.t.Fatalf("the first line after the banner is %q; want `Created job {GUID}.`", lines[5])
	}
	return tokens[2]
}

func TestScriptParsesCreateAndFinishesWithGrep(t *testing.T) {
	grep, err := exec.LookPath("grep")
	if err != nil {
		t.Fatal("the test pipes through the real grep, and there is none:", err)
	}
	u := newUser(t)
	content := testenv.RandomContent(1<<20, 11)
	o := testenv.NewOrigin(t, content)
	dest := filepath.Join(t.TempDir(), "nightly.bin")

	job := u.createJob("nightly") // "{GUID}." with the period
	u.ok("/addfile", job, o.URL("/file"), dest)

	// /RAWRETURN /GETSTATE is the bare word: no banner, no newline.
	state, errs, code := u.run("/rawreturn", "/getstate", job)
	if state != "SUSPENDED" || errs != "" || code != 0 {
		t.Errorf("/rawreturn /getstate: stdout %q, stderr %q, exit %d; want exactly SUSPENDED", state, errs, code)
	}
	if out, code := u.shell(`[ "$(bitsadmin /rawreturn /getstate "$1")" = SUSPENDED ]`, job); code != 0 {
		t.Errorf("a shell comparing $(bitsadmin /rawreturn /getstate) with SUSPENDED failed:\n%s", out)
	}

	u.ok("/resume", job)
	u.waitState(job, "TRANSFERRED")
	pipe := `bitsadmin /info "$1" /verbose | "$2" "STATE: TRANSFERRED"`
	out, code := u.shell(pipe, job, grep)
	if code != 0 || !strings.HasPrefix(out, "TYPE: DOWNLOAD STATE: TRANSFERRED OWNER: ") {
		t.Fatalf("grep found no TRANSFERRED state (exit %d):\n%s", code, out)
	}
	// The same pipe on a job that is not there finds nothing, and says why
	// on stderr, not to grep.
	if out, code := u.shell(pipe+` 2>/dev/null`, "{00000000-0000-4000-8000-000000000000}.", grep); code == 0 {
		t.Errorf("grep matched the output for a missing job:\n%s", out)
	}

	u.ok("/complete", job)
	if fileSum(t, dest) != sum(content) {
		t.Fatal("SHA-256 of the result differs from the origin's")
	}
	if out, errs, code := u.run("/rawreturn", "/getstate", job); code != 1 || out != "" || !strings.Contains(errs, "0x80200001") {
		t.Errorf("/rawreturn /getstate of a completed job: stdout %q, stderr %q, exit %d; want nothing on stdout, not found, 1", out, errs, code)
	}
}

// The classic pattern: the job's notification program completes it, with
// nobody watching.
func TestScriptNotifyCommandCompletesTheJob(t *testing.T) {
	u := newUser(t)
	content := testenv.RandomContent(256<<10, 12)
	o := testenv.NewOrigin(t, content)
	dest := filepath.Join(t.TempDir(), "notified.bin")
	job := u.createJob("notified")
	u.ok("/addfile", job, o.URL("/file"), dest)
	u.ok("/setnotifycmdline", job, "bitsadmin", "bitsadmin /complete "+job)
	if out := u.ok("/getnotifycmdline", job); !strings.Contains(out, "bitsadmin: bitsadmin /complete "+job+"\n") {
		t.Fatalf("/getnotifycmdline:\n%s", out)
	}
	u.ok("/resume", job)
	testenv.Eventually(t, "the notification program to complete the job", func() bool {
		_, err := os.Stat(dest)
		return err == nil
	})
	if fileSum(t, dest) != sum(content) {
		t.Fatal("SHA-256 of the result differs from the origin's")
	}
	if out := u.ok("/list"); !strings.Contains(out, "Listed 0 job(s).") {
		t.Errorf("the job is still listed after its notification program completed it:\n%s", out)
	}
}

// Only the listed ranges are fetched, and the local file holds them one
// after the other in offset order.
func TestScriptAddFileWithRanges(t *testing.T) {
	u := newUser(t)
	content := testenv.RandomContent(8000, 13)
	o := testenv.NewOrigin(t, content)
	dest := filepath.Join(t.TempDir(), "ranges.bin")
	job := u.createJob("ranges")
	u.ok("/addfilewithranges", job, o.URL("/file"), dest, "5000:eof,0:100,2000:100")
	// Windows' documented quirk: a zero-length range at another range's
	// offset is an overlap.
	out, code := u.bitsadmin("/addfilewithranges", job, o.URL("/file"), dest+".2", "100:0,100:5")
	if code == 0 || !strings.Contains(out, "0x8020002c") {
		t.Errorf("overlapping ranges: exit %d\n%s", code, out)
	}
	u.ok("/resume", job)
	u.waitState(job, "TRANSFERRED")
	u.ok("/complete", job)
	got, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	want := append(append(append([]byte{}, content[:100]...), content[2000:2100]...), content[5000:]...)
	if !bytes.Equal(got, want) {
		t.Errorf("the file holds %d bytes, want the %d bytes of the three ranges in order", len(got), len(want))
	}
	for _, r := range o.Requests() {
		if r.Method == "GET" && r.Range == "" {
			t.Errorf("a GET without Range fetched the whole file")
		}
	}

}

func TestScriptAddFileSet(t *testing.T) {
	u := newUser(t)
	content := testenv.RandomContent(64<<10, 14)
	o := testenv.NewOrigin(t, content)
	dir := t.TempDir()
	set := filepath.Join(t.TempDir(), "files.txt")
	text := fmt.Sprintf("# two copies\n%s %s/one.bin\n\n%s \"%s/two words.bin\"\n", o.URL("/file"), dir, o.URL("/file"), dir)
	if err := os.WriteFile(set, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	job := u.createJob("set")
	if out := u.ok("/addfileset", job, set); !strings.Contains(out, "Added 2 file(s) to job.") {
		t.Fatalf("/addfileset:\n%s", out)
	}
	if n := u.raw("/getfilestotal", job); n != "2" {
		t.Fatalf("/getfilestotal = %q, want 2", n)
	}
	u.ok("/resume", job)
	u.waitState(job, "TRANSFERRED")
	u.ok("/complete", job)
	for _, name := range []string{"one.bin", "two words.bin"} {
		if fileSum(t, filepath.Join(dir, name)) != sum(content) {
			t.Errorf("%s differs from the origin's file", name)
		}
	}
}

// Credentials are stored for the transfer, and never shown: not by any
// command, not in the worker's log.
func TestScriptCredentialsAreNeverShown(t *testing.T) {
	u := newUser(t)
	const password = "pa55-w0rd-e2e"
	o := testenv.NewOrigin(t, testenv.RandomContent(16<<10, 15))
	job := u.createJob("secret")
	u.ok("/addfile", job, o.URL("/file"), filepath.Join(t.TempDir(), "s.bin"))
	var seen strings.Builder
	seen.WriteString(u.ok("/setcredentials", job, "SERVER", "BASIC", "edward", password))
	seen.WriteString(u.ok("/setcredentials", job, "PROXY", "NTLM", "NULL", "NULL"))
	info := u.ok("/info", job, "/verbose")
	if !strings.Contains(info, "CREDENTIALS: SERVER BASIC, PROXY NTLM") {
		t.Errorf("/info /verbose does not say which credentials are set:\n%s", info)
	}
	seen.WriteString(info)
	seen.WriteString(u.ok("/list", "/verbose"))
	out, _ := u.bitsadmin("/setcredentials", job, "SERVER", "KERBEROS", "edward", password)
	seen.WriteString(out)
	u.ok("/resume", job)
	u.waitState(job, "TRANSFERRED")
	u.ok("/complete", job)
	if strings.Contains(seen.String(), password) {
		t.Errorf("a command printed the password:\n%s", seen.String())
	}
	if log, err := os.ReadFile(filepath.Join(u.home, "worker.log")); err == nil && bytes.Contains(log, []byte(password)) {
		t.Errorf("the worker's log holds the password")
	}
}

// Piped, /MONITOR prints one plain snapshot per refresh.
func TestScriptMonitorPiped(t *testing.T) {
	u := newUser(t)
	u.createJob("watched")
	u.env = append(u.env, "BITSADMIN_MONITOR_ROUNDS=2")
	out, errs, code := u.run("/monitor", "/refresh", "1")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if n := strings.Count(out, "MONITORING BACKGROUND COPY MANAGER(1 second refresh)\n"); n != 2 {
		t.Errorf("%d snapshots, want 2:\n%s", n, out)
	}
	if n := strings.Count(out, "'watched' SUSPENDED 0 / 0 0 / 0\n"); n != 2 {
		t.Errorf("the job is in %d snapshots, want 2:\n%s", n, out)
	}
	if strings.ContainsAny(out, "\x1b\r") {
		t.Errorf("escape codes in piped output: %q", out)
	}
}

// Ctrl+C ends /MONITOR cleanly: exit 0, no error.
func TestScriptMonitorInterrupted(t *testing.T) {
	u := newUser(t)
	cmd := exec.Command(filepath.Join(binDir, "bitsadmin"), "/monitor", "/refresh", "60")
	cmd.Env = u.env
	var errs bytes.Buffer
	cmd.Stderr = &errs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	header := make(chan error, 1)
	go func() {
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				header <- err
				return
			}
			if strings.HasPrefix(line, "MONITORING BACKGROUND COPY MANAGER(60 second refresh)") {
				header <- nil
				io.Copy(io.Discard, r)
				return
			}
		}
	}()
	select {
	case err := <-header:
		if err != nil {
			t.Fatalf("no header before %v", err)
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("/monitor printed no header within a minute")
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("/monitor after Ctrl+C: %v, stderr %q; want exit 0", err, errs.String())
	}
}

// /LIST /ALLUSERS: root sees its own jobs among everyone's; anyone else is
// refused with E_ACCESSDENIED.
func TestScriptListAllUsers(t *testing.T) {
	u := newUser(t)
	job := u.createJob("mine")
	out, errs, code := u.run("/list", "/allusers")
	if os.Geteuid() != 0 {
		if code != 5 || !strings.HasPrefix(errs, "Unable to list jobs - 0x80070005\n") {
			t.Errorf("not root: exit %d, stderr %q", code, errs)
		}
		return
	}
	if code != 0 || !strings.Contains(out, strings.TrimSuffix(job, ".")+" 'mine' SUSPENDED") {
		t.Errorf("root: exit %d, stderr %q, stdout:\n%s", code, errs, out)
	}
}
