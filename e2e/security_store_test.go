package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	_ "modernc.org/sqlite"
)

// A user owns their state folder and job database, so everything in them
// is theirs to forge. These tests forge them as an attacker would and check
// that root's /allusers commands, /takeownership and /complete leave root's
// files alone (canaries: known content, mode and owner) while every other
// user's jobs are still listed.

// rootCanary is a root-owned file that no command may touch.
type rootCanary struct {
	path    string
	content string
	mode    os.FileMode
}

func newRootCanary(t *testing.T, path, content string, mode os.FileMode) rootCanary {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // past the umask
		t.Fatal(err)
	}
	return rootCanary{path: path, content: content, mode: mode}
}

// check fails the test unless the canary is as it was made.
func (c rootCanary) check(t *testing.T) {
	t.Helper()
	fi, err := os.Lstat(c.path)
	if err != nil {
		t.Errorf("canary %s: %v", c.path, err)
		return
	}
	if fi.Mode() != c.mode {
		t.Errorf("canary %s: mode %v, was %v", c.path, fi.Mode(), c.mode)
	}
	if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != 0 {
		t.Errorf("canary %s: owner %d:%d, was root's", c.path, st.Uid, st.Gid)
	}
	if fi.Mode().IsRegular() {
		if b, _ := os.ReadFile(c.path); string(b) != c.content {
			t.Errorf("canary %s: content %.40q (%d bytes), was %q", c.path, b, len(b), c.content)
		}
	}
}

// publicDir is a root-owned folder (mode 0755, or what mode says) that
// every user can reach, unlike t.TempDir().
func publicDir(t *testing.T, mode os.FileMode) string {
	t.Helper()
	base, err := os.MkdirTemp("", "bits-public")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	dir := filepath.Join(base, "d")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}

// store is the other user's state folder.
func (o *otherUser) store() string { return filepath.Join(o.home, ".local", "state", "bits") }

// sh runs a shell script as the other user and fails the test if it fails.
func (o *otherUser) sh(t *testing.T, script string) {
	t.Helper()
	if out, code := o.run(t, "sh", "-c", script); code != 0 {
		t.Fatalf("as %s: %s: exit %d\n%s", o.name, script, code, out)
	}
}

var createdJob = regexp.MustCompile(`Created job \{([0-9A-F-]+)\}`)

// newJob creates a download job as the other user, with one file to local
// (in a folder of the user's), and returns its GUID.
func (o *otherUser) newJob(t *testing.T, name, local string) string {
	t.Helper()
	out, code := o.bitsadmin(t, "/create", name)
	m := createdJob.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("/create %s as %s: exit %d\n%s", name, o.name, code, out)
	}
	if out, code := o.bitsadmin(t, "/addfile", name, "http://127.0.0.1:9/file", local); code != 0 {
		t.Fatalf("/addfile as %s: exit %d\n%s", o.name, code, out)
	}
	return m[1]
}

// forge rewrites the other user's job database, as the user may.
func (o *otherUser) forge(t *testing.T, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(o.store(), "jobs.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("forging %q: %v", query, err)
	}
}

// transferred forges a job into TRANSFERRED with its one file done in the
// temporary file temp, to be moved to local by /complete.
func (o *otherUser) transferred(t *testing.T, id, local, temp string) {
	t.Helper()
	o.forge(t, `UPDATE files SET local_name = ?, temp_name = ?, complete = 1, bytes_total = 10, bytes_done = 10 WHERE job_id = ?`, local, temp, id)
	o.forge(t, `UPDATE jobs SET state = 6, completed_ns = modified_ns WHERE id = ?`, id)
}

// mkdir makes a folder of the other user's.
func (o *otherUser) mkdir(t *testing.T, dir string) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, int(o.uid), int(o.gid)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// bystanders are root and a second user, each with a job, whose listing
// must survive whatever the attacker does to their own store.
func bystanders(t *testing.T) (*user, *otherUser) {
	t.Helper()
	root := newUser(t)
	root.ok("/create", "roots")
	good := newOtherUser(t)
	good.newJob(t, "goods", filepath.Join(good.mkdir(t, filepath.Join(good.home, "dl")), "f"))
	return root, good
}

// bothListed checks an /allusers listing: root's and the good user's jobs
// are there, and a warning names the attacker's store.
func bothListed(t *testing.T, out string, code int, attacker *otherUser) {
	t.Helper()
	if code != 0 {
		t.Errorf("/list /allusers: exit %d\n%s", code, out)
	}
	if !strings.Contains(out, "'roots'") || !strings.Contains(out, "'goods'") {
		t.Errorf("/list /allusers lacks root's or the other user's job:\n%s", out)
	}
	if !strings.Contains(out, "Warning: the jobs of user "+attacker.name+" are left out") {
		t.Errorf("/list /allusers does not warn of %s's store:\n%s", attacker.name, out)
	}
}

func TestSecurityStoreDatabaseLinkedToRootFile(t *testing.T) {
	root, _ := bystanders(t)
	evil := newOtherUser(t)
	evil.newJob(t, "evil", filepath.Join(evil.mkdir(t, filepath.Join(evil.home, "dl")), "f"))
	dir := publicDir(t, 0o755)
	// An empty file is one SQLite would make a database of.
	for i, content := range []string{"", "root's settings\n"} {
		c := newRootCanary(t, filepath.Join(dir, fmt.Sprint("canary", i)), content, 0o644)
		evil.sh(t, "cd "+evil.store()+" && rm -f jobs.db jobs.db-wal jobs.db-shm && ln -s "+c.path+" jobs.db")
		out, code := root.bitsadmin("/list", "/allusers")
		bothListed(t, out, code, evil)
		c.check(t)
	}
	root.bitsadmin("/reset", "/allusers")
	for i := range 2 {
		rootCanary{path: filepath.Join(dir, fmt.Sprint("canary", i)), content: []string{"", "root's settings\n"}[i], mode: 0o644}.check(t)
	}
}

func TestSecurityStoreLogLinkedToRootFile(t *testing.T) {
	root, _ := bystanders(t)
	evil := newOtherUser(t)
	evil.newJob(t, "evil", filepath.Join(evil.mkdir(t, filepath.Join(evil.home, "dl")), "f"))
	dir := publicDir(t, 0o755)
	wal := newRootCanary(t, filepath.Join(dir, "wal"), "", 0o644)
	shm := newRootCanary(t, filepath.Join(dir, "shm"), "root's index\n", 0o600)
	evil.sh(t, "cd "+evil.store()+" && ln -sf "+wal.path+" jobs.db-wal && ln -sf "+shm.path+" jobs.db-shm")
	out, code := root.bitsadmin("/list", "/allusers")
	bothListed(t, out, code, evil)
	wal.check(t)
	shm.check(t)
}

func TestSecurityStoreFolderLinkedToSharedFolder(t *testing.T) {
	root, _ := bystanders(t)
	evil := newOtherUser(t)
	evil.newJob(t, "evil", filepath.Join(evil.mkdir(t, filepath.Join(evil.home, "dl")), "f"))
	shared := publicDir(t, os.ModeDir|os.ModeSticky|0o777) // as /tmp
	evil.sh(t, "cp "+evil.store()+"/jobs.db "+shared+"/jobs.db && mv "+evil.store()+" "+evil.store()+".old && ln -s "+shared+" "+evil.store())
	out, code := root.bitsadmin("/list", "/allusers")
	bothListed(t, out, code, evil)
	out, _ = root.bitsadmin("/reset", "/allusers")
	if !strings.Contains(out, "Warning: the jobs of user "+evil.name+" are left out") {
		t.Errorf("/reset /allusers does not warn of %s's store:\n%s", evil.name, out)
	}
	rootCanary{path: shared, mode: os.ModeDir | os.ModeSticky | 0o777}.check(t)
}

func TestSecurityStoreCorruptIsLeftOut(t *testing.T) {
	root, good := bystanders(t)
	evil := newOtherUser(t)
	evil.newJob(t, "evil", filepath.Join(evil.mkdir(t, filepath.Join(evil.home, "dl")), "f"))
	evil.sh(t, "cd "+evil.store()+" && rm -f jobs.db-wal jobs.db-shm && head -c 8192 /dev/zero | tr '\\0' x > jobs.db")
	out, code := root.bitsadmin("/list", "/allusers")
	bothListed(t, out, code, evil)

	// bitsjob: the jobs on stdout, the store left out as a JSON warning.
	cmd := root.command("bitsjob", "list", "--all-users", "--json")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bitsjob list --all-users --json: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), `"roots"`) || !strings.Contains(stdout.String(), `"goods"`) {
		t.Errorf("bitsjob list --all-users lacks root's or the other user's job:\n%s", stdout.String())
	}
	warned := false
	for dec := json.NewDecoder(&stderr); ; {
		var w struct{ Warning *struct{ Action string } }
		if dec.Decode(&w) != nil {
			break
		}
		warned = warned || w.Warning != nil && strings.Contains(w.Warning.Action, evil.name)
	}
	if !warned {
		t.Errorf("bitsjob printed no warning of %s's store:\n%s", evil.name, stderr.String())
	}

	// Root's reading left the good user's store theirs, and usable.
	entries, _ := os.ReadDir(good.store())
	for _, e := range entries {
		fi, err := os.Lstat(filepath.Join(good.store(), e.Name()))
		if st, ok := fi.Sys().(*syscall.Stat_t); err != nil || !ok || st.Uid != good.uid {
			t.Errorf("%s in %s's store is not theirs after root's listing", e.Name(), good.name)
		}
	}
	if out, code := good.bitsadmin(t, "/list"); code != 0 || !strings.Contains(out, "'goods'") {
		t.Errorf("%s's /list after root's: exit %d\n%s", good.name, code, out)
	}
}

func TestSecurityResetDeletesNoForgedTemporaryFile(t *testing.T) {
	root, good := bystanders(t)
	evil := newOtherUser(t)
	own := evil.mkdir(t, filepath.Join(evil.home, "dl"))
	dir := publicDir(t, 0o755)
	named := newRootCanary(t, filepath.Join(dir, "BIT1234.tmp"), "root's file\n", 0o644)
	other := newRootCanary(t, filepath.Join(dir, "passwd"), "root's other file\n", 0o644)

	// A temporary name of the right shape, in a folder of root's.
	shaped := evil.newJob(t, "shaped", filepath.Join(own, "a"))
	evil.forge(t, `UPDATE files SET local_name = ?, temp_name = ? WHERE job_id = ?`, filepath.Join(dir, "x"), named.path, shaped)
	// A temporary name no transfer makes.
	broken := evil.newJob(t, "broken", filepath.Join(own, "b"))
	evil.forge(t, `UPDATE files SET temp_name = ? WHERE job_id = ?`, other.path, broken)

	out, _ := root.bitsadmin("/reset", "/allusers")
	named.check(t)
	other.check(t)
	if !strings.Contains(out, "{"+shaped+"} canceled.") {
		t.Errorf("/reset /allusers did not cancel the job (without its file):\n%s", out)
	}
	if !strings.Contains(out, broken) || !strings.Contains(out, "0x80070005") {
		t.Errorf("/reset /allusers did not report the broken job:\n%s", out)
	}
	if out, _ := good.bitsadmin(t, "/list"); !strings.Contains(out, "Listed 0 job(s).") {
		t.Errorf("the other user's job survived /reset /allusers:\n%s", out)
	}
	if out, _ := evil.bitsadmin(t, "/list"); !strings.Contains(out, "'broken'") || strings.Contains(out, "'shaped'") {
		t.Errorf("after /reset /allusers the user's jobs are:\n%s", out)
	}
}

func TestSecurityTakeOwnershipChecksTheOldOwnersRights(t *testing.T) {
	root := newUser(t)
	evil := newOtherUser(t)
	own := evil.mkdir(t, filepath.Join(evil.home, "dl"))
	dir := publicDir(t, 0o755)

	// The user's bytes, bound for a file of root's in another folder.
	far := newRootCanary(t, filepath.Join(dir, "far"), "root's file\n", 0o644)
	id := evil.newJob(t, "far", filepath.Join(own, "f"))
	evil.sh(t, "printf 'user bytes' > "+own+"/BIT00AA.tmp")
	evil.transferred(t, id, far.path, filepath.Join(own, "BIT00AA.tmp"))
	if out, code := root.bitsadmin("/takeownership", "{"+id+"}"); code == 0 {
		t.Errorf("/takeownership of a job bound for root's folder succeeded:\n%s", out)
	}
	root.bitsadmin("/complete", "{"+id+"}")
	far.check(t)

	// A temporary file beside the destination, in a folder the user cannot
	// write: root's own, as one of root's jobs would leave it.
	near := newRootCanary(t, filepath.Join(dir, "near"), "root's file\n", 0o644)
	temp := newRootCanary(t, filepath.Join(dir, "BIT00BB.tmp"), "root's download\n", 0o600)
	id = evil.newJob(t, "near", filepath.Join(own, "g"))
	evil.transferred(t, id, near.path, temp.path)
	out, code := root.bitsadmin("/takeownership", "{"+id+"}")
	if code == 0 || !strings.Contains(out, "0x80070005") {
		t.Errorf("/takeownership of a job bound for a folder the user cannot write: exit %d\n%s", code, out)
	}
	root.bitsadmin("/complete", "{"+id+"}")
	near.check(t)
	temp.check(t)
	if out, _ := evil.bitsadmin(t, "/list"); !strings.Contains(out, "'near'") {
		t.Errorf("the refused job left the user's store:\n%s", out)
	}
}

func TestSecurityCompleteAfterTakeOwnershipFollowsNoUsersLink(t *testing.T) {
	root := newUser(t)
	evil := newOtherUser(t)
	sticky := publicDir(t, os.ModeDir|os.ModeSticky|0o777) // as /tmp
	c := newRootCanary(t, filepath.Join(sticky, "f"), "root's file\n", 0o644)

	// A job the user could complete themself: taking it over is allowed,
	// and root completes it.
	fine := evil.mkdir(t, filepath.Join(evil.home, "fine"))
	id := evil.newJob(t, "fine", filepath.Join(fine, "g"))
	evil.sh(t, "printf 'user bytes' > "+fine+"/BIT00DD.tmp")
	evil.transferred(t, id, filepath.Join(fine, "g"), filepath.Join(fine, "BIT00DD.tmp"))
	root.ok("/takeownership", "{"+id+"}")
	root.ok("/complete", "{"+id+"}")
	if b, err := os.ReadFile(filepath.Join(fine, "g")); err != nil || string(b) != "user bytes" {
		t.Errorf("after /takeownership and /complete: %q, %v", b, err)
	}

	// The same, then the user moves the temporary file into a shared
	// folder and puts a link to it in the place of their folder.
	dl := evil.mkdir(t, filepath.Join(evil.home, "dl"))
	id = evil.newJob(t, "swapped", filepath.Join(dl, "f"))
	evil.sh(t, "printf 'user bytes' > "+dl+"/BIT00CC.tmp")
	evil.transferred(t, id, filepath.Join(dl, "f"), filepath.Join(dl, "BIT00CC.tmp"))
	root.ok("/takeownership", "{"+id+"}")
	evil.sh(t, "mv "+dl+"/BIT00CC.tmp "+sticky+"/ && mv "+dl+" "+dl+".old && ln -s "+sticky+" "+dl)
	if out, code := root.bitsadmin("/complete", "{"+id+"}"); code == 0 {
		t.Errorf("/complete through the user's link succeeded:\n%s", out)
	}
	c.check(t)
}
