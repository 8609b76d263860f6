package testenv

// This file runs Samba's NTLM server side, so that NTLM clients are checked
// by an implementation that is not ours: ntlm_auth's NTLMSSP server
// (squid's helper protocol), backed by a private winbindd that
// authenticates against its own passdb in the test's temporary folder.
//
// winbindd and ntlm_auth meet at a socket whose folder is built into
// Samba (/run/samba/winbindd), so both run in a private mount namespace
// with a fresh tmpfs on /run/samba: nothing of the machine's own Samba is
// seen or touched.

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// NTLMAccount is the Unix account the NTLM server knows. It exists on every
// Debian system; only the private passdb gets its password.
const NTLMAccount = "nobody"

// NTLMDomain is the NetBIOS name of the NTLM server, which is the domain of
// its accounts.
const NTLMDomain = "BITSNTLM"

// An NTLMServer checks the messages of one NTLM handshake at a time.
type NTLMServer struct {
	password string

	mu  sync.Mutex
	in  io.WriteCloser
	out *bufio.Reader
}

// startWinbindd is the start of a script run by unshare: it mounts the
// private /run/samba, starts winbindd ($wb is its pid) with the
// configuration $CONF, and waits for its socket (a bounded poll).
const startWinbindd = `set -e
mkdir -p /run/samba
mount -t tmpfs -o size=4m,mode=0755 bits-test /run/samba
"$WINBINDD" -F --no-process-group --debug-stdout --configfile="$CONF" >"$DIR/winbindd.log" 2>&1 &
wb=$!
i=0
until [ -S /run/samba/winbindd/pipe ]; do
	i=$((i+1))
	if [ $i -gt 1000 ] || ! kill -0 $wb 2>/dev/null; then
		echo "winbindd did not start" >&2
		kill $wb 2>/dev/null || true
		exit 1
	fi
	sleep 0.01
done
`

// runNTLM runs ntlm_auth on the test's pipes once winbindd is up.
const runNTLM = startWinbindd + `set +e
"$NTLM_AUTH" --helper-protocol=squid-2.5-ntlmssp --configfile="$CONF"
status=$?
kill $wb
wait $wb
exit $status
`

// StartNTLMServer starts the NTLM server for the test. It needs root (for
// the mount namespace) and Samba's winbind: without them the test is
// skipped, or fails when the CI environment variable is set.
func StartNTLMServer(tb testing.TB) *NTLMServer {
	tb.Helper()
	if os.Geteuid() != 0 {
		missing(tb, "the NTLM server needs root for its mount namespace")
	}
	unshare := lookTool(tb, "unshare", "util-linux")
	winbindd := lookTool(tb, "winbindd", "winbind")
	ntlmAuth := lookTool(tb, "ntlm_auth", "winbind")
	smbpasswd := lookTool(tb, "smbpasswd", "samba-common-bin")

	dir := tb.TempDir()
	conf, password := ntlmPassdb(tb, dir, smbpasswd)
	s := &NTLMServer{password: password}
	cmd := exec.Command(unshare, "--mount", "--propagation", "private", "sh", "-c", runNTLM)
	cmd.Env = append(os.Environ(), "WINBINDD="+winbindd, "NTLM_AUTH="+ntlmAuth, "CONF="+conf, "DIR="+dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("unshare: %v", err)
	}
	s.in, s.out = in, bufio.NewReader(out)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		in.Close() // ntlm_auth ends, and the script stops winbindd
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
		}
		// winbindd's children may outlive the script and still write to
		// dir: end the whole process group before dir is removed.
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-exited
		Eventually(tb, "the NTLM server's processes to exit", func() bool { return !groupAlive(pgid) })
	})
	// A first handshake step proves the helper and winbindd are up.
	if _, err := s.Challenge(nil); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "winbindd.log"))
		tb.Fatalf("the NTLM server did not start: %v\n%s\n%s", err, stderr.String(), log)
	}
	return s
}

// ntlmPassdb writes the Samba configuration of an NTLM server into dir
// and gives NTLMAccount a random password in its passdb. It returns the
// configuration's path and the password.
func ntlmPassdb(tb testing.TB, dir, smbpasswd string) (conf, password string) {
	tb.Helper()
	conf = filepath.Join(dir, "smb.conf")
	if err := os.WriteFile(conf, []byte(ntlmConfig(dir)), 0o644); err != nil {
		tb.Fatal(err)
	}
	password = "Pw-" + randomHex(tb, 8)
	add := exec.Command(smbpasswd, "-c", conf, "-a", "-s", NTLMAccount)
	add.Stdin = strings.NewReader(password + "\n" + password + "\n")
	if out, err := add.CombinedOutput(); err != nil {
		tb.Fatalf("smbpasswd: %v\n%s", err, out)
	}
	return conf, password
}

func ntlmConfig(dir string) string {
	var b strings.Builder
	b.WriteString("[global]\n")
	for _, kv := range [][2]string{
		{"workgroup", "BITSTEST"},
		{"netbios name", NTLMDomain},
		{"server role", "standalone server"},
		{"passdb backend", "tdbsam:" + filepath.Join(dir, "private", "passdb.tdb")},
		{"lock directory", filepath.Join(dir, "lock")},
		{"state directory", filepath.Join(dir, "state")},
		{"cache directory", filepath.Join(dir, "cache")},
		{"private dir", filepath.Join(dir, "private")},
		{"pid directory", filepath.Join(dir, "pid")},
		{"ncalrpc dir", filepath.Join(dir, "ncalrpc")},
		{"log file", filepath.Join(dir, "samba.log")},
		{"ntlm auth", "ntlmv2-only"},
		{"load printers", "no"},
	} {
		fmt.Fprintf(&b, "  %s = %s\n", kv[0], kv[1])
	}
	for _, d := range []string{"private", "lock", "state", "cache", "pid", "ncalrpc"} {
		os.MkdirAll(filepath.Join(dir, d), 0o700)
	}
	return b.String()
}

// Password is NTLMAccount's password.
func (s *NTLMServer) Password() string { return s.password }

// minimalNegotiate is a NEGOTIATE message with the usual flags (Unicode,
// OEM, request target, NTLM, always sign, extended session security) and no
// domain or workstation: "NTLMSSP\0", type 1, flags, two empty fields.
var minimalNegotiate = []byte("NTLMSSP\x00\x01\x00\x00\x00\x07\x82\x08\x00" + strings.Repeat("\x00", 16))

// Challenge starts a handshake: it takes a NEGOTIATE message and returns
// the server's CHALLENGE message. A nil message stands for a minimal one.
func (s *NTLMServer) Challenge(negotiate []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if negotiate == nil {
		negotiate = minimalNegotiate
	}
	reply, err := s.ask("YR " + base64.StdEncoding.EncodeToString(negotiate))
	if err != nil {
		return nil, err
	}
	token, ok := strings.CutPrefix(reply, "TT ")
	if !ok {
		return nil, fmt.Errorf("ntlm_auth answered %q", reply)
	}
	return base64.StdEncoding.DecodeString(token)
}

// Authenticate ends the handshake: it checks an AUTHENTICATE message
// against the CHALLENGE it follows and returns the account it proves
// (DOMAIN\user), or an error saying why it was refused.
func (s *NTLMServer) Authenticate(authenticate []byte) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	reply, err := s.ask("KK " + base64.StdEncoding.EncodeToString(authenticate))
	if err != nil {
		return "", err
	}
	if user, ok := strings.CutPrefix(reply, "AF "); ok {
		return user, nil
	}
	return "", fmt.Errorf("ntlm_auth refused the message: %q", reply)
}

func (s *NTLMServer) ask(line string) (string, error) {
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		return "", err
	}
	reply, err := s.out.ReadString('\n')
	return strings.TrimSpace(reply), err
}
