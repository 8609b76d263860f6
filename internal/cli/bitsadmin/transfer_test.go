package bitsadmin

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bits/engine"
	"bits/hresult"
	"bits/internal/testenv"
)

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// noJobsLeft checks that the store is empty and that no temporary file is
// left in dir (the worker may still be removing one, so it is polled).
func (h *harness) noJobsLeft(dir string) {
	h.t.Helper()
	jobs, err := h.m.List(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	if len(jobs) != 0 {
		h.t.Errorf("%d job(s) left behind, first %q in %s", len(jobs), jobs[0].DisplayName, jobs[0].State)
	}
	testenv.Eventually(h.t, "temporary files to be deleted", func() bool { return len(testenv.TempFiles(h.t, dir)) == 0 })
}

func TestTransfer(t *testing.T) {
	h := newHarness(t)
	content := randomBytes(t, 300<<10)
	origin := testenv.NewOrigin(t, content)
	h.vars["$ORIGIN"] = origin.URL("")
	h.startWorker()

	// The first token is the name even when it looks like a switch.
	out, errs, code := h.run("/transfer", "/Download", "/priority", "foreground",
		"$ORIGIN/file", "$DIR/one.bin", "$ORIGIN/file", "$DIR/two.bin")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr:\n%s\nstdout:\n%s", code, errs, out)
	}
	n := 2 * len(content)
	want := fmt.Sprintf("DISPLAY: '/Download' TYPE: DOWNLOAD STATE: TRANSFERRED\n"+
		"PRIORITY: FOREGROUND FILES: 2 / 2 BYTES: %d / %d (100%%)\nTransfer complete.\n", n, n)
	if !strings.HasPrefix(out, banner) || !strings.HasSuffix(out, want) {
		t.Errorf("stdout:\n%s\nwant the banner, then status lines ending with:\n%s", out, want)
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("escape codes written to a non-terminal:\n%q", out)
	}
	for _, name := range []string{"one.bin", "two.bin"} {
		got, err := os.ReadFile(filepath.Join(h.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, content) {
			t.Errorf("%s: got %d bytes that differ from the origin's %d", name, len(got), len(content))
		}
	}
	h.noJobsLeft(h.dir)
}

// A file whose HEAD succeeds but whose GET is 404: the worker has created
// its temporary file before the fatal error, so cancelling must remove it.
func TestTransferFatalError(t *testing.T) {
	h := newHarness(t)
	origin := testenv.NewOrigin(t, []byte("unused"))
	origin.Handle("/gone", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.Method == nethttp.MethodHead {
			w.Header().Set("Content-Length", "1000")
			w.Header().Set("Accept-Ranges", "bytes")
			return
		}
		nethttp.NotFound(w, r)
	}))
	h.vars["$ORIGIN"] = origin.URL("")
	h.startWorker()

	out, errs, code := h.run("/transfer", "fails", "$ORIGIN/gone", "$DIR/gone.bin")
	if want := exitCode(hresult.HTTP(404)); code != want {
		t.Errorf("exit %d, want %d (0x94 of 0x80190194)", code, want)
	}
	wantOut := "DISPLAY: 'fails' TYPE: DOWNLOAD STATE: ERROR\nPRIORITY: NORMAL FILES: 0 / 1 BYTES: 0 / 1000 (0%)\n"
	if !strings.HasSuffix(out, wantOut) {
		t.Errorf("stdout:\n%s\nwant it to end with:\n%s", out, wantOut)
	}
	wantErr := "ERROR FILE:    $ORIGIN/gone -> $DIR/gone.bin\n" +
		"ERROR CODE:    0x80190194 - HTTP status 404: Not Found\n" +
		"ERROR CONTEXT: 0x00000005 - The error occurred while the remote file was being processed.\n" +
		"Unable to complete transfer.\n"
	if got := h.stable(errs); got != wantErr {
		t.Errorf("stderr:\n%s\nwant:\n%s", got, wantErr)
	}
	h.noJobsLeft(h.dir)
	if _, err := os.Stat(filepath.Join(h.dir, "gone.bin")); !os.IsNotExist(err) {
		t.Errorf("final file exists after a failed transfer: %v", err)
	}
}

func TestTransferInterrupted(t *testing.T) {
	h := newHarness(t)
	// Slow enough that the transfer is still running when Ctrl+C comes.
	origin := testenv.NewOrigin(t, randomBytes(t, 1<<20), testenv.RateLimit(64<<10))
	h.vars["$ORIGIN"] = origin.URL("")
	h.startWorker()

	type result struct {
		out, errs string
		code      int
	}
	done := make(chan result, 1)
	go func() {
		out, errs, code := h.run("/transfer", "slow", "$ORIGIN/file", "$DIR/slow.bin")
		done <- result{out, errs, code}
	}()
	testenv.Eventually(t, "the transfer to start writing", func() bool {
		jobs, err := h.m.List(context.Background())
		return err == nil && len(jobs) == 1 && jobs[0].State == engine.Transferring &&
			len(testenv.TempFiles(t, h.dir)) == 1
	})
	h.sig <- os.Interrupt

	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("/transfer did not return after the interrupt")
	}
	if r.code != 1 || r.errs != "Transfer canceled.\n" {
		t.Errorf("exit %d, stderr %q; want 1 and %q\nstdout:\n%s", r.code, r.errs, "Transfer canceled.\n", r.out)
	}
	h.noJobsLeft(h.dir)
	if _, err := os.Stat(filepath.Join(h.dir, "slow.bin")); !os.IsNotExist(err) {
		t.Errorf("final file exists after a canceled transfer: %v", err)
	}
}

func testJob(state engine.State, files ...engine.File) *engine.Job {
	return &engine.Job{ID: "AB000000-0000-4000-8000-000000000001", DisplayName: "job", Type: engine.Download,
		State: state, Priority: engine.Normal, Files: files}
}

func TestStatusLines(t *testing.T) {
	tests := []struct {
		name string
		job  *engine.Job
		want string
	}{
		{"no files", testJob(engine.Queued),
			"DISPLAY: 'job' TYPE: DOWNLOAD STATE: QUEUED\nPRIORITY: NORMAL FILES: 0 / 0 BYTES: 0 / 0 (0%)"},
		{"size unknown", testJob(engine.Connecting, engine.File{BytesTotal: engine.SizeUnknown}),
			"DISPLAY: 'job' TYPE: DOWNLOAD STATE: CONNECTING\nPRIORITY: NORMAL FILES: 0 / 1 BYTES: 0 / UNKNOWN"},
		{"percentage rounds down", testJob(engine.Transferring, engine.File{BytesTotal: 456, BytesTransferred: 123}),
			"DISPLAY: 'job' TYPE: DOWNLOAD STATE: TRANSFERRING\nPRIORITY: NORMAL FILES: 0 / 1 BYTES: 123 / 456 (26%)"},
		{"almost done is 99%", testJob(engine.Transferring, engine.File{BytesTotal: 1000, BytesTransferred: 999}),
			"DISPLAY: 'job' TYPE: DOWNLOAD STATE: TRANSFERRING\nPRIORITY: NORMAL FILES: 0 / 1 BYTES: 999 / 1000 (99%)"},
		{"done", testJob(engine.Transferred,
			engine.File{BytesTotal: 0, Complete: true}, engine.File{BytesTotal: 10, BytesTransferred: 10, Complete: true}),
			"DISPLAY: 'job' TYPE: DOWNLOAD STATE: TRANSFERRED\nPRIORITY: NORMAL FILES: 2 / 2 BYTES: 10 / 10 (100%)"},
	}
	for _, tt := range tests {
		l1, l2 := statusLines(tt.job)
		if got := l1 + "\n" + l2; got != tt.want {
			t.Errorf("%s:\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
}

func TestProgressView(t *testing.T) {
	file := func(f engine.File) engine.File { f.LocalName = "/home/me/f.bin"; return f }
	steps := []*engine.Job{
		testJob(engine.Queued, file(engine.File{BytesTotal: engine.SizeUnknown})),
		testJob(engine.Transferring, file(engine.File{BytesTotal: 200, BytesTransferred: 50})),
		testJob(engine.Transferring, file(engine.File{BytesTotal: 200, BytesTransferred: 50})), // unchanged
		testJob(engine.Transferring, file(engine.File{BytesTotal: 200, BytesTransferred: 150})),
		testJob(engine.Transferred, file(engine.File{BytesTotal: 200, BytesTransferred: 200, Complete: true})),
	}
	const (
		queued1 = "DISPLAY: 'job' TYPE: DOWNLOAD STATE: QUEUED"
		queued2 = "PRIORITY: NORMAL FILES: 0 / 1 BYTES: 0 / UNKNOWN"
		xfer1   = "DISPLAY: 'job' TYPE: DOWNLOAD STATE: TRANSFERRING"
		xfer2a  = "PRIORITY: NORMAL FILES: 0 / 1 BYTES: 50 / 200 (25%)"
		xfer2b  = "PRIORITY: NORMAL FILES: 0 / 1 BYTES: 150 / 200 (75%)"
		done1   = "DISPLAY: 'job' TYPE: DOWNLOAD STATE: TRANSFERRED"
		done2   = "PRIORITY: NORMAL FILES: 1 / 1 BYTES: 200 / 200 (100%)"
		redraw  = "\r\x1b[3A\x1b[J"
	)
	tests := []struct {
		terminal bool
		want     string
	}{
		// A terminal: redrawn in place at each change, with a line for
		// people; one step a second here.
		{true, queued1 + "\n" + queued2 + "\n" + "f.bin  0 B\n" +
			redraw + xfer1 + "\n" + xfer2a + "\n" + "f.bin  50 B / 200 B (25%)  50 B/s  3s left\n" +
			redraw + xfer1 + "\n" + xfer2a + "\n" + "f.bin  50 B / 200 B (25%)  25 B/s  6s left\n" +
			redraw + xfer1 + "\n" + xfer2b + "\n" + "f.bin  150 B / 200 B (75%)  50 B/s  1s left\n" +
			redraw + done1 + "\n" + done2 + "\n" + "200 B / 200 B (100%)  50 B/s\n"},
		// Not a terminal: once per state, no escapes.
		{false, queued1 + "\n" + queued2 + "\n" +
			xfer1 + "\n" + xfer2a + "\n" +
			done1 + "\n" + done2 + "\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		clock := time.Unix(1000, 0)
		v := &progressView{w: &b, terminal: tt.terminal, now: func() time.Time { clock = clock.Add(time.Second); return clock }}
		for _, j := range steps {
			v.show(j)
		}
		if b.String() != tt.want {
			t.Errorf("terminal=%v:\n%q\nwant\n%q", tt.terminal, b.String(), tt.want)
		}
	}
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		code hresult.Code
		want int
	}{
		{hresult.E_INVALIDARG, 0x57},
		{hresult.BG_E_INVALID_STATE, 2},
		{hresult.BG_E_EMPTY, 3},
		{hresult.HTTP(404), 0x94},
		{hresult.BG_E_NOT_FOUND, 255}, // low byte 1 would read as a usage error
		{hresult.E_NOTIMPL, 255},
		{0x80190100, 255}, // low byte 0 would read as success
	}
	for _, tt := range tests {
		if got := exitCode(tt.code); got != tt.want {
			t.Errorf("exitCode(0x%08x) = %d, want %d", uint32(tt.code), got, tt.want)
		}
	}
}

// Main opens the store that BITS_HOME names and never needs it for /help.
func TestMainDefaults(t *testing.T) {
	home := filepath.Join(t.TempDir(), "state")
	t.Setenv("BITS_HOME", home)
	var out, errs bytes.Buffer
	if code := Main([]string{"/?"}, strings.NewReader(""), &out, &errs); code != 0 {
		t.Fatalf("/? exit %d: %s", code, errs.String())
	}
	if !strings.HasPrefix(out.String(), banner+"USAGE: BITSADMIN ") {
		t.Errorf("/? printed:\n%s", out.String())
	}
	if _, err := os.Stat(home); !os.IsNotExist(err) {
		t.Errorf("/? created the state folder: %v", err)
	}
	out.Reset()
	if code := Main([]string{"/rawreturn", "/create", "j"}, strings.NewReader(""), &out, &errs); code != 0 {
		t.Fatalf("/create exit %d: %s", code, errs.String())
	}
	id := out.String()
	if _, ok := engine.ParseGUID(id); !ok {
		t.Errorf("/rawreturn /create printed %q, want a {GUID}", id)
	}
	out.Reset()
	if code := Main([]string{"/list"}, strings.NewReader(""), &out, &errs); code != 0 {
		t.Fatalf("/list exit %d: %s", code, errs.String())
	}
	if want := banner + id + " 'j' SUSPENDED 0 / 0 0 / 0\n\nListed 1 job(s).\n"; out.String() != want {
		t.Errorf("/list printed:\n%s\nwant:\n%s", out.String(), want)
	}
}

// TestBannerBeginsAsWindows: scripts find bitsadmin's banner by its words,
// case and all: a blank line, "BITSADMIN version 3.0", "BITS
// administration utility.", a copyright line, a blank line.
func TestBannerBeginsAsWindows(t *testing.T) {
	lines := strings.Split(banner, "\n")
	if len(lines) != 6 || lines[0] != "" || !strings.HasPrefix(lines[1], "BITSADMIN version 3.0") ||
		lines[2] != "BITS administration utility." || !strings.HasPrefix(lines[3], "(C) Copyright ") || lines[4] != "" {
		t.Errorf("the banner is not in Windows' shape:\n%q", banner)
	}
}
