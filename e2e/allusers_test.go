package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
)

// otherUser is a real second account, made for the test with useradd, whose
// jobs live in its default state folder under a home of its own.
type otherUser struct {
	name     string
	uid, gid uint32
	home     string
}

// otherUsers numbers the accounts that one test run makes.
var otherUsers atomic.Int32

func newOtherUser(t *testing.T) *otherUser {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this test needs root (CI runs as root)")
		}
		t.Skip("needs root to add a user (CI is unset)")
	}
	useradd, err := exec.LookPath("useradd")
	if err != nil {
		useradd = "/usr/sbin/useradd" // sbin is often off PATH
		if _, err := os.Stat(useradd); err != nil {
			t.Fatal("useradd is missing: install the passwd package (make test does)")
		}
	}
	base, err := os.MkdirTemp("", "bits-user")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o755)
	t.Cleanup(func() { os.RemoveAll(base) })
	name := fmt.Sprintf("bitst%d_%d", os.Getpid()%100000, otherUsers.Add(1))
	home := filepath.Join(base, "home")
	if out, err := exec.Command(useradd, "-m", "-d", home, "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(filepath.Join(filepath.Dir(useradd), "userdel"), "-f", name).Run() })
	acct, err := osuser.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(acct.Uid)
	gid, _ := strconv.Atoi(acct.Gid)
	o := &otherUser{name: name, uid: uint32(uid), gid: uint32(gid), home: home}
	t.Cleanup(func() { o.stopWorker() })
	return o
}

// bitsadmin runs the real bitsadmin as the other user, with its own HOME
// and no BITS_HOME, so its jobs land in ~/.local/state/bits.
func (o *otherUser) bitsadmin(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return o.run(t, "bitsadmin", args...)
}

// run runs a program (one of ours, else from PATH) as the other user and
// returns its output and exit code.
func (o *otherUser) run(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	if p := filepath.Join(binDir, name); fileExists(p) {
		name = p
	}
	cmd := exec.Command(name, args...)
	o.as(cmd)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return out.String(), exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("%s as %s: %v", name, o.name, err)
	}
	return out.String(), 0
}

// as makes cmd run as the other user, in its home, with an environment of
// its own.
func (o *otherUser) as(cmd *exec.Cmd) {
	cmd.Env = []string{"HOME=" + o.home, "USER=" + o.name, "LOGNAME=" + o.name, "PATH=" + binDir + ":/usr/bin:/bin", "BITS_WORKER_IDLE=5s"}
	cmd.Dir = o.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: o.uid, Gid: o.gid}}
}

func (o *otherUser) stopWorker() {
	lock := filepath.Join(o.home, ".local", "state", "bits", "worker.lock")
	if b, err := os.ReadFile(lock); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			syscall.Kill(pid, syscall.SIGTERM)
		}
	}
}

func TestAllUsersNeedsRootAndSeesEveryone(t *testing.T) {
	other := newOtherUser(t)
	root := newUser(t)
	dir := filepath.Join(other.home, "dl")
	if out, code := other.bitsadmin(t, "/create", "theirs"); code != 0 {
		t.Fatalf("/create as %s: exit %d\n%s", other.name, code, out)
	}
	os.Mkdir(dir, 0o755)
	os.Chown(dir, int(other.uid), int(other.gid))
	if out, code := other.bitsadmin(t, "/addfile", "theirs", "http://127.0.0.1:9/file", filepath.Join(dir, "f")); code != 0 {
		t.Fatalf("/addfile: %d\n%s", code, out)
	}
	root.ok("/create", "mine")

	// Only root may look at every user's jobs.
	out, code := other.bitsadmin(t, "/list", "/allusers")
	if code == 0 || !strings.Contains(out, "0x80070005") {
		t.Errorf("/list /allusers as a user: exit %d\n%s", code, out)
	}
	all := root.ok("/list", "/allusers")
	if !strings.Contains(all, "'theirs'") || !strings.Contains(all, "'mine'") || !strings.Contains(all, "Listed 2 job(s).") {
		t.Errorf("/list /allusers as root:\n%s", all)
	}
	if own := root.ok("/list"); strings.Contains(own, "'theirs'") {
		t.Errorf("/list without /allusers shows another user's job:\n%s", own)
	}

	// Root takes the job over: it leaves the user's store, which the user
	// can still open afterwards.
	root.ok("/takeownership", "theirs")
	if out := root.ok("/list"); !strings.Contains(out, "'theirs'") {
		t.Errorf("after /takeownership root's /list:\n%s", out)
	}
	if out, code := other.bitsadmin(t, "/list"); code != 0 || !strings.Contains(out, "Listed 0 job(s).") {
		t.Errorf("the user's /list after /takeownership: exit %d\n%s", code, out)
	}

	other.bitsadmin(t, "/create", "again")
	reset := root.ok("/reset", "/allusers")
	if !strings.Contains(reset, "3 out of 3 jobs canceled.") {
		t.Errorf("/reset /allusers:\n%s", reset)
	}
	if out, _ := other.bitsadmin(t, "/list"); !strings.Contains(out, "Listed 0 job(s).") {
		t.Errorf("the user's jobs survived /reset /allusers:\n%s", out)
	}
}
