package testenv

// This file runs a real Samba smbd on a loopback high port, with every
// folder it needs inside the test's temporary folder, for the SMB transport.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SMBUser is the Unix account the share is served as. It is not root, so
// file permissions on the share hold (root would bypass them).
const SMBUser = "bitssmb"

// SMBShare is the name of the one share an SMBD serves.
const SMBShare = "share"

// An SMBD is a running smbd serving SMBShare at 127.0.0.1:Port() to
// User() with Password(). Stop it with Kill and start it again with
// Restart; the test's cleanup stops it for good.
type SMBD struct {
	tb       testing.TB
	smbd     string
	root     string // config, state and log folders
	conf     string
	share    string
	port     int
	password string
	uid, gid int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has been waited for
}

// StartSMBD starts an smbd for the test. It needs root, to run smbd and to
// create the SMBUser account: without root, or without Samba, the test is
// skipped, or fails when the CI environment variable is set.
func StartSMBD(tb testing.TB) *SMBD {
	tb.Helper()
	smbd := findTool(tb, "smbd")
	smbpasswd := findTool(tb, "smbpasswd")
	if os.Geteuid() != 0 {
		missing(tb, "running smbd as a test server needs root")
	}
	uid, gid := smbAccount(tb)

	s := &SMBD{tb: tb, smbd: smbd, root: tb.TempDir(), password: randomHex(tb, 12), uid: uid, gid: gid}
	// The share user must be able to walk down to its share.
	for _, d := range []string{filepath.Dir(s.root), s.root} {
		if err := os.Chmod(d, 0o711); err != nil {
			tb.Fatal(err)
		}
	}
	s.share = filepath.Join(s.root, SMBShare)
	for _, d := range []string{"private", "lock", "state", "cache", "pid", "ncalrpc", SMBShare} {
		if err := os.Mkdir(filepath.Join(s.root, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.Chown(s.share, uid, gid); err != nil {
		tb.Fatal(err)
	}
	s.port = freePort(tb)
	s.conf = filepath.Join(s.root, "smb.conf")
	if err := os.WriteFile(s.conf, []byte(s.config()), 0o644); err != nil {
		tb.Fatal(err)
	}

	add := exec.Command(smbpasswd, "-c", s.conf, "-a", "-s", SMBUser)
	add.Stdin = strings.NewReader(s.password + "\n" + s.password + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		tb.Fatalf("smbpasswd -a: %v\n%s", err, out)
	}

	tb.Cleanup(s.Kill)
	s.Restart()
	return s
}

func (s *SMBD) config() string {
	dir := func(name string) string { return filepath.Join(s.root, name) }
	return fmt.Sprintf(`[global]
server role = standalone server
workgroup = WORKGROUP
smb ports = %d
interfaces = lo
bind interfaces only = yes
disable netbios = yes
server min protocol = SMB2_02
private dir = %s
lock directory = %s
state directory = %s
cache directory = %s
pid directory = %s
ncalrpc dir = %s
passdb backend = tdbsam:%s
log file = %s
logging = file
log level = 1
max log size = 0
load printers = no
printcap name = /dev/null
disable spoolss = yes
rpc start on demand helpers = no
map to guest = never
obey pam restrictions = no
unix password sync = no

[%s]
path = %s
read only = no
valid users = %s
create mask = 0644
`, s.port, dir("private"), dir("lock"), dir("state"), dir("cache"), dir("pid"), dir("ncalrpc"),
		dir("private/passdb.tdb"), dir("smbd.log"), SMBShare, s.share, SMBUser)
}

// Addr is the server's host:port.
func (s *SMBD) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port is the server's TCP port.
func (s *SMBD) Port() int { return s.port }

// URL names a file of the share: smb://127.0.0.1:port/share/name.
func (s *SMBD) URL(name string) string {
	return "smb://" + s.Addr() + "/" + SMBShare + "/" + strings.TrimPrefix(name, "/")
}

// Dir is the share's folder on disk.
func (s *SMBD) Dir() string { return s.share }

// User is the SMB (and Unix) user the share admits.
func (s *SMBD) User() string { return SMBUser }

// Password is User's SMB password.
func (s *SMBD) Password() string { return s.password }

// Owner is the Unix uid and gid of User.
func (s *SMBD) Owner() (uid, gid int) { return s.uid, s.gid }

// WriteFile puts a file into the share (folders included), owned by User
// as if it had been uploaded.
func (s *SMBD) WriteFile(name string, data []byte) {
	s.tb.Helper()
	p := filepath.Join(s.share, filepath.FromSlash(name))
	for d := filepath.Dir(p); d != s.share; d = filepath.Dir(d) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			s.tb.Fatal(err)
		}
		if err := os.Chown(d, s.uid, s.gid); err != nil {
			s.tb.Fatal(err)
		}
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		s.tb.Fatal(err)
	}
	if err := os.Chown(p, s.uid, s.gid); err != nil {
		s.tb.Fatal(err)
	}
}

// Log returns smbd's log so far, for failure messages.
func (s *SMBD) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.root, "smbd.log"))
	return string(b)
}

// Kill stops every process of this smbd with SIGKILL, as a crash would,
// and returns once none is left. Killing a stopped server does nothing.
func (s *SMBD) Kill() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	pgid := s.cmd.Process.Pid
	// smbd runs with --no-process-group in a group of its own, so the
	// group holds the master and every child it forked for a client.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
	Eventually(s.tb, "smbd's processes to exit", func() bool { return !groupAlive(pgid) })
}

// Freeze stops every process of this smbd with SIGSTOP: connections stay
// open but nothing answers, as with a hung server. Thaw undoes it.
func (s *SMBD) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw lets a frozen smbd run again.
func (s *SMBD) Thaw() { s.signal(syscall.SIGCONT) }

func (s *SMBD) signal(sig syscall.Signal) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		s.tb.Fatal("smbd is not running")
	}
	if err := syscall.Kill(-s.cmd.Process.Pid, sig); err != nil {
		s.tb.Fatalf("signalling smbd: %v", err)
	}
}

// Restart starts smbd again on the same port with the same configuration
// and waits until it accepts connections. The server must be stopped.
func (s *SMBD) Restart() {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.tb.Fatal("smbd is already running")
	}
	out, err := os.OpenFile(filepath.Join(s.root, "smbd.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.tb.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(s.smbd, "-F", "--no-process-group", "-s", s.conf)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.tb.Fatalf("starting smbd: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited

	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-exited:
			s.cmd = nil
			s.tb.Fatalf("smbd exited at start:\n%s", s.Log())
		default:
		}
		if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("smbd did not accept connections on %s within 30s:\n%s", s.Addr(), s.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// groupAlive reports whether a live (not zombie) process is in group pgid.
// Zombies are skipped: they hold no sockets, and whoever reaps them may
// not be quick about it.
func groupAlive(pgid int) bool {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command name: state ppid pgrp ...
		_, rest, ok := strings.Cut(string(b), ") ")
		f := strings.Fields(rest)
		if !ok || len(f) < 3 {
			continue
		}
		if f[2] == strconv.Itoa(pgid) && f[0] != "Z" {
			return true
		}
	}
	return false
}

// smbAccount returns the uid and gid of SMBUser, creating the account
// (a system user without a home or shell) when it does not exist.
func smbAccount(tb testing.TB) (uid, gid int) {
	tb.Helper()
	u, err := user.Lookup(SMBUser)
	if err != nil {
		useradd := findTool(tb, "useradd")
		out, err := exec.Command(useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SMBUser).CombinedOutput()
		// Another test process may have created it meanwhile.
		if u, err2 := user.Lookup(SMBUser); err2 == nil {
			return atoi(tb, u.Uid), atoi(tb, u.Gid)
		}
		tb.Fatalf("useradd %s: %v\n%s", SMBUser, err, out)
	}
	return atoi(tb, u.Uid), atoi(tb, u.Gid)
}

// findTool looks for a program on PATH and in the sbin folders, which are
// often not on a test's PATH.
func findTool(tb testing.TB, name string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	missing(tb, name+" is not installed (Debian: apt-get install samba)")
	return ""
}

// missing skips the test, or fails it under CI, where nothing may be
// skipped for want of a tool.
func missing(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatal(why)
	}
	tb.Skip(why)
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(tb testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func atoi(tb testing.TB, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		tb.Fatal(errors.New("bad id " + s))
	}
	return n
}
