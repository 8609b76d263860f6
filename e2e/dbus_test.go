package e2e

import (
	"bufio"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5/introspect"

	"bits/internal/testenv"
)

// These tests drive the worker's D-Bus service, on a private session bus,
// with clients nobody here wrote: GLib's gdbus and systemd's busctl.

// dbusUser is a user whose worker runs on a private session bus.
type dbusUser struct {
	*user
	bus string
}

// newDBusUser starts the user's worker on a private session bus, with env
// added to the user's environment.
func newDBusUser(t *testing.T, env ...string) *dbusUser {
	t.Helper()
	for _, tool := range []string{"gdbus", "busctl"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool+" is not installed (Debian: apt-get install libglib2.0-bin systemd)")
		}
	}
	bus := testenv.StartBus(t)
	u := newUser(t)
	u.env = append(append(u.env, "DBUS_SESSION_BUS_ADDRESS="+bus.Address), env...)
	d := &dbusUser{user: u, bus: bus.Address}
	worker := u.command("bitsjob", "worker", "--idle-timeout", "0")
	log := &testenv.SyncBuffer{}
	worker.Stdout, worker.Stderr = log, log
	if err := worker.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { worker.Wait(); close(done) }()
	t.Cleanup(func() {
		worker.Process.Signal(os.Interrupt)
		<-done
		if t.Failed() {
			t.Logf("worker log:\n%s", log.String())
		}
	})
	testenv.Eventually(t, "the service on the bus", func() bool {
		out, err := d.gdbusRaw("call", "--dest", "org.freedesktop.DBus", "--object-path", "/org/freedesktop/DBus",
			"--method", "org.freedesktop.DBus.NameHasOwner", "org.bits.Transfer1")
		return err == nil && strings.Contains(out, "true")
	})
	return d
}

// gdbusRaw runs gdbus on the user's bus.
func (d *dbusUser) gdbusRaw(args ...string) (string, error) {
	cmd := exec.Command("gdbus", append(args[:1:1], append([]string{"--address", d.bus}, args[1:]...)...)...)
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// call calls a method of the service with gdbus and returns what it
// printed; it fails the test if the call fails.
func (d *dbusUser) call(path, method string, args ...string) string {
	d.t.Helper()
	out, err := d.gdbusRaw(append([]string{"call", "--dest", "org.bits.Transfer1", "--object-path", path, "--method", method}, args...)...)
	if err != nil {
		d.t.Fatalf("gdbus call %s %s: %v\n%s", method, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

var objectPath = regexp.MustCompile(`objectpath '([^']+)'`)

func (d *dbusUser) createJob(name string) string {
	d.t.Helper()
	out := d.call("/org/bits/Transfer1", "org.bits.Transfer1.Manager.CreateJob", name, "0")
	m := objectPath.FindStringSubmatch(out)
	if m == nil {
		d.t.Fatalf("CreateJob printed %q", out)
	}
	return m[1]
}

// monitor runs gdbus monitor on the service and returns a function that
// waits for a line holding every one of the given strings.
func (d *dbusUser) monitor() func(what ...string) string {
	d.t.Helper()
	cmd := exec.Command("gdbus", "monitor", "--address", d.bus, "--dest", "org.bits.Transfer1")
	cmd.Env = d.env
	out, err := cmd.StdoutPipe()
	if err != nil {
		d.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	d.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var mu sync.Mutex
	var seen []string
	wait := func(what ...string) string {
		d.t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					d.t.Fatalf("gdbus monitor ended; it printed:\n%s", strings.Join(seen, "\n"))
				}
				mu.Lock()
				seen = append(seen, l)
				mu.Unlock()
				all := true
				for _, w := range what {
					all = all && strings.Contains(l, w)
				}
				if all {
					return l
				}
			case <-timeout:
				d.t.Fatalf("no line with %q from gdbus monitor in 30 s; it printed:\n%s", what, strings.Join(seen, "\n"))
			}
		}
	}
	// gdbus monitor says whose signals it follows once it has subscribed.
	wait("is owned by")
	return wait
}

// TestDBusDownloadDrivenByGdbus: a download made, followed and completed
// through the D-Bus service alone, with GLib's gdbus: the JobTransferred
// signal comes, properties read through busctl tell the state, the file
// arrives whole; a 404 comes as JobError with its code, and errors of calls
// as D-Bus errors named after the BITS error, with the CLIs' text.
func TestDBusDownloadDrivenByGdbus(t *testing.T) {
	d := newDBusUser(t)
	wait := d.monitor()
	content := testenv.RandomContent(3<<20, 17)
	o := testenv.NewOrigin(t, content)
	dest := filepath.Join(t.TempDir(), "via-dbus.bin")

	job := d.createJob("via dbus")
	d.call(job, "org.bits.Transfer1.Job.AddFile", o.URL("/file"), dest)
	d.call(job, "org.freedesktop.DBus.Properties.Set", "org.bits.Transfer1.Job", "Priority", "<uint32 0>")
	d.call(job, "org.bits.Transfer1.Job.Resume")
	wait(job, "org.bits.Transfer1.Job.JobTransferred")

	bc := exec.Command("busctl", "--address="+d.bus, "get-property", "org.bits.Transfer1", job, "org.bits.Transfer1.Job", "StateName", "BytesTransferred", "Priority")
	out, err := bc.CombinedOutput()
	if want := "s \"TRANSFERRED\"\nt 3145728\nu 0\n"; err != nil || string(out) != want {
		t.Errorf("busctl get-property: %v\n%s\nwant\n%s", err, out, want)
	}
	files := d.call(job, "org.bits.Transfer1.Job.EnumFiles")
	if !strings.Contains(files, job+"/file/0") {
		t.Errorf("EnumFiles printed %s", files)
	}
	local := d.call(job+"/file/0", "org.freedesktop.DBus.Properties.Get", "org.bits.Transfer1.File", "LocalName")
	if !strings.Contains(local, dest) {
		t.Errorf("the file's LocalName is %s, want %s", local, dest)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Fatal("the file is there under its name before Complete")
	}
	if out := d.call(job, "org.bits.Transfer1.Job.Complete"); out != "(uint32 0,)" {
		t.Errorf("Complete printed %s, want (uint32 0,)", out)
	}
	if fileSum(t, dest) != sum(content) {
		t.Error("the file arrived damaged")
	}

	bad := d.createJob("missing")
	d.call(bad, "org.bits.Transfer1.Job.AddFile", o.URL("/missing"), filepath.Join(t.TempDir(), "missing.bin"))
	d.call(bad, "org.bits.Transfer1.Job.Resume")
	line := wait(bad, "org.bits.Transfer1.Job.JobError")
	if !strings.Contains(line, "uint32 2149122452") { // 0x80190194, HTTP 404
		t.Errorf("JobError of a 404: %s", line)
	}
	d.call(bad, "org.bits.Transfer1.Job.Cancel")

	// The job is gone: the error is BITS', by name, with bitsadmin's text.
	out2, err := d.gdbusRaw("call", "--dest", "org.bits.Transfer1", "--object-path", job, "--method", "org.bits.Transfer1.Job.Resume")
	const name = "org.bits.Transfer1.Error.BG_E_NOT_FOUND: "
	i := strings.Index(out2, name)
	if err == nil || i < 0 || !strings.HasSuffix(strings.TrimSpace(out2), "[0x80200001]") {
		t.Fatalf("Resume of a completed job: %v\n%s", err, out2)
	}
	guid := "{" + strings.ReplaceAll(strings.TrimPrefix(job, "/org/bits/Transfer1/job/"), "_", "-") + "}"
	_, cli, _ := d.bitsjob("resume", guid)
	if text := strings.TrimSpace(out2[i+len(name):]); !strings.Contains(cli, text) {
		t.Errorf("the bus says %q; bitsjob says %q", text, cli)
	}
	out3, err := d.gdbusRaw("call", "--dest", "org.bits.Transfer1", "--object-path", bad, "--method",
		"org.freedesktop.DBus.Properties.Set", "org.bits.Transfer1.Job", "StateName", "<'QUEUED'>")
	if err == nil || !strings.Contains(out3, "PropertyReadOnly") && !strings.Contains(out3, "BG_E_NOT_FOUND") {
		t.Errorf("Set of a read-only property: %v\n%s", err, out3)
	}
}

// TestDBusSignalsForChangesFromTheCLI: a change made with bitsadmin, not on
// the bus, is told on the bus: PropertiesChanged with the new value, and
// JobModification.
func TestDBusSignalsForChangesFromTheCLI(t *testing.T) {
	d := newDBusUser(t)
	wait := d.monitor()
	job := strings.TrimSpace(d.ok("/rawreturn", "/create", "from the cli"))
	path := "/org/bits/Transfer1/job/" + strings.ReplaceAll(strings.Trim(job, "{}"), "-", "_")
	wait(path, "org.bits.Transfer1.Job.JobModification")
	d.ok("/setdescription", job, "changed by bitsadmin")
	wait(path, "PropertiesChanged", "'Description': <'changed by bitsadmin'>")
	wait(path, "org.bits.Transfer1.Job.JobModification")

	// And the other way: a setting written on the bus, read by bitsadmin,
	// under the rules bitsadmin applies.
	d.call(path, "org.freedesktop.DBus.Properties.Set", "org.bits.Transfer1.Job", "RetryInterval", "<uint32 1200>")
	if out := d.ok("/getminretrydelay", job); !strings.Contains(out, "1200") {
		t.Errorf("/getminretrydelay after RetryInterval was set to 1200 on the bus:\n%s", out)
	}
	d.call(path, "org.bits.Transfer1.Job.SetCustomHeaders", "['X-One: 1', 'X-Two: 2']")
	d.call(path, "org.bits.Transfer1.Job.AddFiles", "[('http://127.0.0.1:9/a', '"+filepath.Join(t.TempDir(), "a")+"'), ('http://127.0.0.1:9/b', '"+filepath.Join(t.TempDir(), "b")+"')]")
	if out := d.jobctl("get", "--json", job); !strings.Contains(out, `"CustomHeaders":["X-One: 1","X-Two: 2"]`) || !strings.Contains(out, `"FilesTotal":2`) {
		t.Errorf("bitsjob get --json after SetCustomHeaders and AddFiles on the bus:\n%s", out)
	}
	out, err := d.gdbusRaw("call", "--dest", "org.bits.Transfer1", "--object-path", path, "--method",
		"org.freedesktop.DBus.Properties.Set", "org.bits.Transfer1.Job", "SecurityFlags", "<uint32 4294967295>")
	if err == nil || !strings.Contains(out, "org.bits.Transfer1.Error.E_INVALIDARG") {
		t.Errorf("SecurityFlags 0xFFFFFFFF on the bus: %v\n%s", err, out)
	}
	d.ok("/cancel", job)
}

// TestDBusIntrospectionIsTheCheckedInInterface: what the running service
// says of itself is the interface file in the repository.
func TestDBusIntrospectionIsTheCheckedInInterface(t *testing.T) {
	d := newDBusUser(t)
	want := parseInterfaces(t, mustRead(t, "../internal/dbusapi/org.bits.Transfer1.xml"))
	job := d.createJob("introspected")
	for path, iface := range map[string]string{
		"/org/bits/Transfer1": "org.bits.Transfer1.Manager",
		job:                   "org.bits.Transfer1.Job",
		job + "/file/0":       "org.bits.Transfer1.File",
	} {
		if strings.HasSuffix(path, "/file/0") {
			d.call(job, "org.bits.Transfer1.Job.AddFile", "http://127.0.0.1:9/x", filepath.Join(t.TempDir(), "x"))
		}
		out, err := d.gdbusRaw("introspect", "--xml", "--dest", "org.bits.Transfer1", "--object-path", path)
		if err != nil {
			t.Fatalf("gdbus introspect %s: %v\n%s", path, err, out)
		}
		got := parseInterfaces(t, out)[iface]
		if got.Name == "" {
			t.Errorf("%s does not offer %s", path, iface)
			continue
		}
		if g, w := marshal(t, got), marshal(t, want[iface]); g != w {
			t.Errorf("%s at %s:\n%s\nthe checked-in file says:\n%s", iface, path, g, w)
		}
	}
	d.call(job, "org.bits.Transfer1.Job.Cancel")
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func parseInterfaces(t *testing.T, s string) map[string]introspect.Interface {
	t.Helper()
	var n introspect.Node
	if err := xml.Unmarshal([]byte(s), &n); err != nil {
		t.Fatalf("introspection: %v\n%s", err, s)
	}
	out := map[string]introspect.Interface{}
	for _, i := range n.Interfaces {
		out[i.Name] = i
	}
	return out
}

func marshal(t *testing.T, i introspect.Interface) string {
	t.Helper()
	b, err := xml.MarshalIndent(i, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDBusActivationStartsTheWorker: after `bitsjob service install`, a
// call to the service's name on the user's session bus, with no worker
// running, starts one (the bus reads the activation file the install
// wrote) and gets its answer; uninstall removes the file.
func TestDBusActivationStartsTheWorker(t *testing.T) {
	for _, tool := range []string{"gdbus", "crontab"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool+" is not installed (Debian: apt-get install libglib2.0-bin cron)")
		}
	}
	other := newOtherUser(t)
	t.Cleanup(func() { other.run(t, "crontab", "-r") })
	must := func(name string, args ...string) string {
		t.Helper()
		out, code := other.run(t, name, args...)
		if code != 0 {
			t.Fatalf("%s %s as %s: exit %d\n%s", name, strings.Join(args, " "), other.name, code, out)
		}
		return out
	}
	must("bitsjob", "service", "install")
	services := filepath.Join(other.home, ".local", "share", "dbus-1", "services")
	file := filepath.Join(services, "org.bits.Transfer1.service")
	if b, err := os.ReadFile(file); err != nil || !strings.Contains(string(b), "Name=org.bits.Transfer1\n") {
		t.Fatalf("no activation file after service install: %v\n%s", err, b)
	}

	// The user's session bus, as a login would start it.
	conf := filepath.Join(other.home, "bus.conf")
	socket := filepath.Join(other.home, "bus")
	config := strings.Replace(sessionBusConfig, "SOCKET", socket, 1)
	config = strings.Replace(config, "SERVICES", services, 1)
	if err := os.WriteFile(conf, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	daemon := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--nopidfile", "--print-address=1")
	other.as(daemon)
	out, err := daemon.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var logs testenv.SyncBuffer
	daemon.Stderr = &logs
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		daemon.Process.Kill()
		daemon.Wait()
		if t.Failed() {
			t.Logf("dbus-daemon:\n%s", logs.String())
		}
	})
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("dbus-daemon: %v\n%s", err, logs.String())
	}
	must("bitsadmin", "/create", "activated")
	// Asked as the user: a check as root would make the lock file root's.
	running := func() bool {
		var st struct{ WorkerRunning bool }
		if err := json.Unmarshal([]byte(must("bitsjob", "service", "status", "--json")), &st); err != nil {
			t.Fatal(err)
		}
		return st.WorkerRunning
	}
	if running() {
		t.Fatal("a worker runs before the call: the test would prove nothing")
	}
	reply := must("gdbus", "call", "--address", "unix:path="+socket, "--dest", "org.bits.Transfer1",
		"--object-path", "/org/bits/Transfer1", "--method", "org.bits.Transfer1.Manager.GetJob", "activated")
	if !strings.Contains(reply, "objectpath '/org/bits/Transfer1/job/") {
		t.Errorf("GetJob through activation printed %q", reply)
	}
	if !running() {
		t.Error("the call was answered, but no worker runs")
	}
	other.stopWorker()
	must("bitsjob", "service", "uninstall")
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the activation file is still there after uninstall: %v", err)
	}
}

// sessionBusConfig is a session bus that starts services from SERVICES.
const sessionBusConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=SOCKET</listen>
  <auth>EXTERNAL</auth>
  <servicedir>SERVICES</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`

// TestDBusSystemBusServesEveryUserToRoot: root's worker also takes the name
// on the system bus (a private one here), where it serves every user's
// jobs to root: another user's job is listed, read and cancelled there,
// and that user, calling the same service, is refused.
func TestDBusSystemBusServesEveryUserToRoot(t *testing.T) {
	other := newOtherUser(t)
	out, code := other.run(t, "bitsadmin", "/rawreturn", "/create", "theirs")
	if code != 0 {
		t.Fatalf("/create as %s: %s", other.name, out)
	}
	theirs := "/org/bits/Transfer1/job/" + strings.ReplaceAll(strings.Trim(strings.TrimSpace(out), "{}"), "-", "_")
	system := testenv.StartBus(t)
	// The other user may reach the bus, as everyone reaches the system bus.
	socket := strings.TrimPrefix(system.Address, "unix:path=")
	for d := filepath.Dir(socket); d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	d := newDBusUser(t, "DBUS_SYSTEM_BUS_ADDRESS="+system.Address)
	onSystem := func(args ...string) (string, error) {
		cmd := exec.Command("gdbus", append([]string{"call", "--address", system.Address, "--dest", "org.bits.Transfer1"}, args...)...)
		b, err := cmd.CombinedOutput()
		return string(b), err
	}
	testenv.Eventually(t, "the service on the system bus", func() bool {
		_, err := onSystem("--object-path", "/org/bits/Transfer1", "--method", "org.freedesktop.DBus.Peer.Ping")
		return err == nil
	})
	all, err := onSystem("--object-path", "/org/bits/Transfer1", "--method", "org.bits.Transfer1.Manager.ListAllJobs")
	if err != nil || !strings.Contains(all, theirs) {
		t.Fatalf("ListAllJobs as root: %v\n%s\nwant %s among them", err, all, theirs)
	}
	if own := d.call("/org/bits/Transfer1", "org.bits.Transfer1.Manager.ListJobs"); strings.Contains(own, theirs) {
		t.Errorf("the session bus lists another user's job: %s", own)
	}
	state, err := onSystem("--object-path", theirs, "--method", "org.freedesktop.DBus.Properties.Get", "org.bits.Transfer1.Job", "Owner")
	if err != nil || !strings.Contains(state, other.name) {
		t.Errorf("the owner of their job, read by root: %v\n%s", err, state)
	}

	refused, code := other.run(t, "gdbus", "call", "--address", system.Address, "--dest", "org.bits.Transfer1",
		"--object-path", "/org/bits/Transfer1", "--method", "org.bits.Transfer1.Manager.ListAllJobs")
	if code == 0 || !strings.Contains(refused, "org.bits.Transfer1.Error.E_ACCESSDENIED") {
		t.Errorf("ListAllJobs as %s on the system bus: exit %d\n%s", other.name, code, refused)
	}
	if out, err := onSystem("--object-path", theirs, "--method", "org.bits.Transfer1.Job.Cancel"); err != nil {
		t.Fatalf("Cancel of their job by root: %v\n%s", err, out)
	}
	if out, _ := other.run(t, "bitsadmin", "/list"); strings.Contains(out, "theirs") {
		t.Errorf("their job is still there after root cancelled it:\n%s", out)
	}
}
