package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"bits/internal/testenv"
)

// TestOwnerKnownOnlyToANameService: the programs are built without cgo, so
// Go's own user lookup reads /etc/passwd and nothing else. A user whom only
// another of the system's name services knows (here a userdb record of
// systemd, read by nss-systemd, as LDAP or sssd would be) still creates
// jobs under their own name, with no $USER to fall back on.
func TestOwnerKnownOnlyToANameService(t *testing.T) {
	needNameService(t, "systemd", "unshare", "setpriv", "getent")
	uid := 4_000_000 + os.Getpid()%100_000
	for tries := 0; exec.Command("getent", "passwd", fmt.Sprint(uid)).Run() == nil; tries++ {
		if tries == 100 {
			t.Fatalf("uids up to %d are all taken", uid)
		}
		uid++
	}
	name := fmt.Sprintf("bitsnss%d", uid)

	base, err := os.MkdirTemp("", "bits-nss")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	home := filepath.Join(base, "home")
	records := filepath.Join(base, "userdb")
	for _, d := range []string{home, records} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(home, uid, uid); err != nil {
		t.Fatal(err)
	}
	record := fmt.Sprintf(`{"userName":%q,"uid":%d,"gid":%d,"homeDirectory":%q,"disposition":"regular"}`, name, uid, uid, home)
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(records, name+".user"), record)
	write(filepath.Join(records, fmt.Sprint(uid)+".user"), record)
	nsswitch := filepath.Join(base, "nsswitch.conf")
	write(nsswitch, "passwd: files systemd\ngroup: files systemd\n")

	// In a mount namespace of its own: the records where nss-systemd reads
	// them (a fresh /run) and a name service switch that asks it; then, as
	// the user, with an empty environment, create a job and list it.
	script := `set -e
mount -t tmpfs tmpfs /run
mkdir /run/userdb
cp "$1"/* /run/userdb/
mount --bind "$2" /etc/nsswitch.conf
exec setpriv --reuid "$3" --regid "$3" --clear-groups env -i BITS_HOME="$4/state" PATH=/usr/bin:/bin \
	sh -c '"$1" /create nss >/dev/null && "$2" list --json' - "$5" "$6"`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, "-",
		records, nsswitch, fmt.Sprint(uid), home, filepath.Join(binDir, "bitsadmin"), filepath.Join(binDir, "bitsjob"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var job struct{ OwnerAccount string }
	if err := json.Unmarshal(out, &job); err != nil {
		t.Fatalf("bitsjob list --json: %v\n%s", err, out)
	}
	if !strings.HasSuffix(job.OwnerAccount, `\`+name) {
		t.Errorf("the job's owner is %q, want the account %q", job.OwnerAccount, name)
	}
}

// TestHostKnownOnlyToANameService: a host name that only a module of the
// system's name service resolves (here nss-myhostname, the machine's own
// name; nss-mdns's nas.local is the common case) is still reached, though
// Go's own resolver, which the programs use without cgo, reads only
// /etc/hosts and DNS.
func TestHostKnownOnlyToANameService(t *testing.T) {
	needNameService(t, "myhostname", "unshare", "getent", "ip", "hostname")
	dir := t.TempDir()
	root := filepath.Join(dir, "www")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("bits over a name only myhostname knows\n"), 3000)
	if err := os.WriteFile(filepath.Join(root, "f.bin"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	nsswitch := filepath.Join(dir, "nsswitch.conf")
	if err := os.WriteFile(nsswitch, []byte("hosts: files myhostname\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	host := fmt.Sprintf("bitsnss-%d", os.Getpid())
	dest := filepath.Join(dir, "out", "f.bin")
	os.Mkdir(filepath.Dir(dest), 0o755)

	// In namespaces of its own (mounts, host name, network with only lo,
	// where nss-myhostname gives the host name 127.0.0.2, and processes, so
	// the worker ends with the script): a server on 127.0.0.2, and a
	// transfer from the host name, given two minutes.
	script := `set -e
ip link set lo up
hostname "$1"
mount --bind "$2" /etc/nsswitch.conf
"$3" -listen 127.0.0.2:18581 -root "$4" > "$5/server.log" 2>&1 &
server=$!
tries=0
until grep -q listening "$5/server.log"; do
	tries=$((tries+1)); [ $tries -lt 200 ] || { echo "bitsserver did not start"; cat "$5/server.log"; exit 1; }
	sleep 0.05
done
BITS_HOME="$5/state" timeout 120 "$6" /transfer nss /priority FOREGROUND "http://$1:18581/f.bin" "$7"
kill $server`
	cmd := exec.Command("unshare", "-m", "-u", "-n", "-p", "--fork", "--kill-child", "--propagation", "private", "sh", "-c", script, "-",
		host, nsswitch, filepath.Join(binDir, "bitsserver"), root, dir, filepath.Join(binDir, "bitsadmin"), dest)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got, err := os.ReadFile(dest)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the file from http://%s:18581/ did not arrive whole (%d of %d bytes): %v", host, len(got), len(data), err)
	}
}

// needNameService skips the test for want of root, of the C library's
// name-service module nss-<module>, or of a tool (make deps installs them),
// or fails it under CI.
func needNameService(t *testing.T, module string, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "needs root, for namespaces")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool+" is missing (make deps installs it)")
		}
	}
	if m, _ := filepath.Glob("/usr/lib/*/libnss_" + module + ".so.2"); len(m) == 0 {
		testenv.Missing(t, "nss-"+module+" is missing (Debian: apt-get install libnss-"+module+")")
	}
}
