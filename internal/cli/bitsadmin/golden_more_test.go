package bitsadmin

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"bits/engine"
	"bits/hresult"
	"bits/internal/testenv"
)

// A job that a real worker transferred from a real origin: the verbs that
// need a transferred file.
func TestGoldenTransferred(t *testing.T) {
	h := newHarness(t)
	origin := testenv.NewOrigin(t, []byte("the content of the file\n"))
	h.vars["$ORIGIN"] = origin.URL("")
	h.startWorker()
	h.must("/create", "job")
	h.must("/addfile", "job", "$ORIGIN/file", "$DIR/file.txt")
	h.must("/resume", "job")
	testenv.Eventually(t, "the job to be transferred", func() bool { return h.job(id(1)).State == engine.Transferred })
	h.vars["$TEMP"] = h.job(id(1)).Files[0].TempName

	h.record("/getcompletiontime", "job")
	h.record("/gettemporaryname", "job", "0")
	h.record("/rawreturn", "/gettemporaryname", "job", "0")
	h.record("/getvalidationstate", "job", "0")
	h.record("/setvalidationstate", "job", "0", "TRUE")
	h.record("/getvalidationstate", "job", "0")
	h.record("/getpeerstats", "job", "0")
	h.record("/sethttpmethod", "job", "PUT") // after the first resume
	h.record("/info", "job", "/verbose")
	h.record("/setvalidationstate", "job", "0", "false")
	h.record("/getstate", "job")
	h.record("/geterror", "job")
	h.record("/getvalidationstate", "job", "0")
	h.record("/list")
	h.check("transferred")
	if _, err := os.Stat(h.vars["$TEMP"]); !os.IsNotExist(err) {
		t.Errorf("the temporary file of a file marked not valid is still there: %v", err)
	}
}

// A file checked against the server's Repr-Digest gets a VERIFIED line in
// /INFO /VERBOSE; a file from a server that offers no digest gets none.
func TestGoldenVerified(t *testing.T) {
	h := newHarness(t)
	digested := testenv.NewOrigin(t, []byte("checked content\n"), testenv.ServeDigest("Repr-Digest", "sha-256"))
	plain := testenv.NewOrigin(t, []byte("unchecked content\n"))
	h.vars["$DIGESTED"] = digested.URL("")
	h.vars["$PLAIN"] = plain.URL("")
	h.startWorker()
	h.must("/create", "job")
	h.must("/addfile", "job", "$PLAIN/file", "$DIR/plain.txt")
	h.must("/addfile", "job", "$DIGESTED/file", "$DIR/checked.txt")
	h.must("/resume", "job")
	testenv.Eventually(t, "the job to be transferred", func() bool { return h.job(id(1)).State == engine.Transferred })

	h.record("/info", "job", "/verbose")
	h.record("/list", "/verbose")
	h.check("verified")
}

func TestGoldenMonitor(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "first")
	h.must("/create", "second")
	h.must("/addfile", "second", "http://example.com/a", "$DIR/a")
	h.monitorRounds = 2
	h.record("/monitor")
	h.record("/MONITOR", "/refresh", "1", "/allusers")
	h.record("/monitor", "/refresh", "0")
	h.record("/monitor", "/refresh", "soon")
	h.record("/monitor", "/refresh")
	h.record("/monitor", "extra")

	// On a terminal the screen is cleared before each round and, unless
	// /WRAP says otherwise, lines are cut at the terminal's width.
	h.terminal, h.width = true, 50
	h.record("/monitor")
	h.record("/wrap", "/monitor")

	// Ctrl+C ends it, and that is a success.
	h.monitorRounds, h.terminal = 0, false
	h.after = func(time.Duration) <-chan time.Time { return nil }
	h.sig <- os.Interrupt
	h.record("/monitor")
	h.check("monitor")
}

// /ALLUSERS with engine.ForAllUsers replaced by what it does for root (every
// user's store) and for anyone else (E_ACCESSDENIED), so the output does
// not depend on who runs the tests.
func TestGoldenAllUsers(t *testing.T) {
	h := newHarness(t)
	other := openStore(t, t.TempDir(), `HOST\other`, "CD000000-0000-4000-8000-%012d")
	if _, err := other.Create(context.Background(), "theirs", engine.Download); err != nil {
		t.Fatal(err)
	}
	h.must("/create", "mine")
	root := func(_ context.Context, fn func(*engine.Manager) error) error {
		for _, m := range []*engine.Manager{h.m, other} {
			if err := fn(m); err != nil {
				return err
			}
		}
		return nil
	}
	denied := func(context.Context, func(*engine.Manager) error) error {
		return &hresult.Error{Code: hresult.E_ACCESSDENIED, Msg: "only root sees every user's jobs"}
	}

	h.allUsers = denied
	h.record("/list", "/allusers")
	h.record("/reset", "/allusers")
	h.monitorRounds = 1
	h.record("/monitor", "/allusers")
	h.record("/list") // one's own jobs need no rights

	h.allUsers = root
	h.record("/list", "/allusers")
	h.record("/list", "/allusers", "/verbose")
	h.record("/monitor", "/allusers")
	h.record("/reset", "/allusers")
	h.record("/list", "/allusers")
	h.check("allusers")
}

func TestGoldenGroups(t *testing.T) {
	h := newHarness(t)
	h.vars["$GOVERSION"] = runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH
	for _, args := range [][]string{
		{"/util"}, {"/util", "/help"}, {"/UTIL", "/?"}, {"/util", "/bogus"}, {"/util", "/help", "extra"},
		{"/util", "/version"}, {"/rawreturn", "/util", "/version"}, {"/util", "/version", "/verbose"}, {"--version"},
		{"/util", "/version", "/verbose", "extra"},
		{"/util", "/getieproxy", "localsystem"}, {"/util", "/getieproxy", "networkservice", "/conn", "VPN"},
		{"/util", "/getieproxy"},
		{"/util", "/setieproxy", "localsystem", "MANUAL_PROXY", "proxy1:80", "<local>"},
		{"/util", "/setieproxy", "localsystem"},
		{"/util", "/repairservice"}, {"/util", "/repairservice", "/force"},
		{"/util", "/enableanalyticchannel", "TRUE"}, {"/util", "/enableanalyticchannel"},

		{"/cache"}, {"/cache", "/help"}, {"/cache", "/?"}, {"/cache", "/clear"}, {"/cache", "/delete", "{0000}"}, {"/cache", "/delete"},
		{"/cache", "/deleteurl", "http://example.com/a"}, {"/cache", "/list"}, {"/cache", "/list", "/verbose"},
		{"/cache", "/info", "{0000}", "/verbose"}, {"/cache", "/getlimit"}, {"/cache", "/setlimit", "5"},
		{"/cache", "/getexpirationtime"}, {"/cache", "/setexpirationtime", "3600"}, {"/cache", "/setlimit"},

		{"/peers"}, {"/peers", "/?"}, {"/peers", "/help"}, {"/peers", "/discover"}, {"/peers", "/clear"}, {"/peers", "/list"},
		{"/peers", "/list", "extra"},

		{"/peercaching", "/help"}, {"/peercaching", "/?"}, {"/peercaching", "/getconfigurationflags"},
		{"/rawreturn", "/peercaching", "/getconfigurationflags"}, {"/peercaching", "/setconfigurationflags", "3"},
		{"/peercaching", "/setconfigurationflags"}, {"/peercaching", "/bogus"},
	} {
		h.record(args...)
	}
	h.check("groups")
}

// /WRAP breaks and /NOWRAP cuts lines at a terminal's width; without a
// terminal, or without a prefix, lines are left whole.
func TestGoldenWrap(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "a job with a rather long display name")
	h.must("/addfile", id(1), "http://example.com/"+strings.Repeat("x", 40), "$DIR/x")
	h.terminal, h.width = true, 40
	h.record("/wrap", "/list")
	h.record("/nowrap", "/list")
	h.record("/list")
	h.record("/rawreturn", "/wrap", "/getdisplayname", id(1))
	h.terminal = false
	h.record("/wrap", "/list")
	h.record("/nowrap", "/list")
	h.check("wrap")
}

func TestLineFitter(t *testing.T) {
	tests := []struct {
		name  string
		wrap  bool
		in    []string // written one after the other
		width int
		want  string
	}{
		{"short lines pass", true, []string{"abc\nde\n"}, 3, "abc\nde\n"},
		{"wrap", true, []string{"abcdefg\nhi\n"}, 3, "abc\ndef\ng\nhi\n"},
		{"cut", false, []string{"abcdefg\nhi\n"}, 3, "abc\nhi\n"},
		{"across writes", true, []string{"ab", "cd", "e\n"}, 2, "ab\ncd\ne\n"},
		{"runes, not bytes", false, []string{"ééééé\n"}, 3, "ééé\n"},
		{"escapes take no room", false, []string{"\x1b[H\x1b[2Jabcd\n"}, 2, "\x1b[H\x1b[2Jab\n"},
		{"carriage return restarts", false, []string{"abcd\rxy\n"}, 3, "abc\rxy\n"},
		{"redraw of /transfer", true, []string{"\r\x1b[2A\x1b[2Kabcd\n"}, 4, "\r\x1b[2A\x1b[2Kabcd\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		f := &lineFitter{w: &b, width: tt.width, wrap: tt.wrap}
		for _, s := range tt.in {
			if n, err := f.Write([]byte(s)); n != len(s) || err != nil {
				t.Errorf("%s: Write(%q) = %d, %v", tt.name, s, n, err)
			}
		}
		if b.String() != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, b.String(), tt.want)
		}
	}
}

func TestReplyDataDump(t *testing.T) {
	var b bytes.Buffer
	writeReplyData(&b, []byte("HTTP/1.1 200 OK\r\nserver: bits\x00\xff"))
	want := "Reply data: 31 byte(s)\n" +
		"00000000  48 54 54 50 2f 31 2e 31  20 32 30 30 20 4f 4b 0d  |HTTP/1.1 200 OK.|\n" +
		"00000010  0a 73 65 72 76 65 72 3a  20 62 69 74 73 00 ff     |.server: bits..|\n"
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	writeReplyData(&b, nil)
	if b.String() != "Reply data: 0 byte(s)\n" {
		t.Errorf("empty reply: got %q", b.String())
	}
}

// A /transfer with /ACLFLAGS and /DYNAMIC gives the job those settings
// before it starts; the worker here is not running, so the test reads the
// job while /transfer waits, then interrupts it.
func TestTransferSettings(t *testing.T) {
	h := newHarness(t)
	done := make(chan int, 1)
	go func() {
		_, _, code := h.run("/transfer", "t", "/aclflags", "gd", "/dynamic", "/priority", "foreground",
			"http://example.com/a", "$DIR/a")
		done <- code
	}()
	var j *engine.Job
	testenv.Eventually(t, "the job to be queued", func() bool {
		jobs, err := h.m.List(context.Background())
		if err != nil || len(jobs) != 1 || jobs[0].State != engine.Queued {
			return false
		}
		j = jobs[0]
		return true
	})
	if j.ACLFlags != 0x6 || !j.Dynamic || j.Priority != engine.Foreground {
		t.Errorf("job has ACL flags %#x, dynamic %v, priority %s; want 0x6, true, FOREGROUND", j.ACLFlags, j.Dynamic, j.Priority)
	}
	h.sig <- os.Interrupt
	if code := <-done; code != 1 {
		t.Errorf("interrupted /transfer exited %d, want 1", code)
	}
	h.noJobsLeft(filepath.Join(h.dir))
}

// Root takes another user's job: it moves into root's store, without what
// belonged to its old owner. Anyone else is refused by the engine.
func TestTakeOwnershipOfAnotherUsersJob(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	otherHome := t.TempDir()
	other := openStore(t, otherHome, `HOST\other`, "CD000000-0000-4000-8000-%012d")
	theirs, err := other.Create(ctx, "theirs", engine.Download)
	if err != nil {
		t.Fatal(err)
	}
	prog := engine.NotifyCmdLine{Program: "/bin/true"}
	if err := other.Set(ctx, theirs.ID, engine.Props{NotifyCmdLine: &prog}); err != nil {
		t.Fatal(err)
	}
	// As the engine does: the other store is opened for the lookup, and
	// the caller closes it.
	h.findAnyUser = func(ctx context.Context, m *engine.Manager, arg string) (*engine.Job, *engine.Manager, error) {
		if j, err := m.Find(ctx, arg); err == nil {
			return j, m, nil
		}
		src, err := engine.Open(engine.Options{Home: otherHome})
		if err != nil {
			return nil, nil, err
		}
		j, err := src.Find(ctx, arg)
		return j, src, err
	}
	out, errs, code := h.run("/takeownership", "theirs")
	if os.Geteuid() != 0 {
		if code != 5 || !strings.HasPrefix(errs, "Unable to take ownership - 0x80070005\n") {
			t.Errorf("not root: exit %d, stderr %q; want 5 and access denied", code, errs)
		}
		return
	}
	if code != 0 || !strings.HasSuffix(out, "You now own job {"+theirs.ID+"}.\n") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	j := h.job("{" + theirs.ID + "}")
	if j.Owner != `HOST\user` || j.NotifyProgram != "" {
		t.Errorf("adopted job: owner %q, notification program %q", j.Owner, j.NotifyProgram)
	}
	if _, err := other.Get(ctx, theirs.ID); !hresult.Is(err, hresult.BG_E_NOT_FOUND) {
		t.Errorf("the job is still in the other user's store: %v", err)
	}
}
