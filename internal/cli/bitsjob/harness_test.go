package bitsjob

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bits/engine"
	"bits/engine/spawn"
	"bits/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// testdata is the golden files' folder, fixed before any test changes the
// current folder.
var testdata, _ = filepath.Abs("testdata")

// fixedNow is the clock of every test Manager and of watch's event times.
var fixedNow = time.Date(2024, 3, 5, 14, 7, 9, 0, time.UTC)

// harness runs bitsjob in-process against a Manager with a fixed clock and
// counting GUIDs, and keeps a transcript of the commands it records for a
// golden file. No worker runs unless a test starts one (startWorker, or
// settle, the wait of transfer and watch).
type harness struct {
	t     *testing.T
	m     *engine.Manager
	home  string
	dir   string            // for local files; $DIR in commands and output
	vars  map[string]string // $NAME -> value, expanded in commands, restored in output
	stdin string            // standard input of the next command

	// wait is what transfer and watch call between two looks; nil: settle.
	wait func(ctx context.Context) error
	// allUsers stands for engine.ForAllUsers; nil: the harness's store only.
	allUsers func(ctx context.Context, fn func(*engine.Manager) error) error

	script strings.Builder
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	home := t.TempDir()
	var n atomic.Int64
	m, err := engine.Open(engine.Options{
		Home:  home,
		Now:   func() time.Time { return fixedNow },
		NewID: func() string { return fmt.Sprintf("AB000000-0000-4000-8000-%012d", n.Add(1)) },
		// No worker is started; one that a test runs itself is nudged.
		StartWorker: func(home string) error { spawn.Nudge(home); return nil },
		Owner:       `HOST\user`,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	h := &harness{t: t, m: m, home: home, dir: t.TempDir()}
	h.vars = map[string]string{"$DIR": h.dir}
	return h
}

// origin serves content at $ORIGIN/file on 127.0.0.1; other paths are 404.
func (h *harness) origin(content []byte) *testenv.Origin {
	o := testenv.NewOrigin(h.t, content)
	h.vars["$ORIGIN"] = o.Server.URL
	return o
}

func (h *harness) env(stdin io.Reader, stdout, stderr io.Writer) *env {
	e := &env{
		stdin: stdin, stdout: stdout, stderr: stderr, m: h.m,
		allUsers: h.allUsers,
		wait:     h.wait,
		now:      func() time.Time { return fixedNow },
	}
	if e.allUsers == nil {
		e.allUsers = func(_ context.Context, fn func(*engine.Manager) error) error { return fn(h.m) }
	}
	if e.wait == nil {
		e.wait = h.settle
	}
	return e
}

// settle is the wait of transfer and watch in tests: it runs a worker until
// no job is queued, moving or waiting to retry, then stops it. No worker
// runs between two commands, so every command sees the same steps whatever
// the machine's speed: the jobs it resumed are still queued when it first
// looks, and settled when it looks again.
func (h *harness) settle(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := h.startWorker()
	defer stop()
	testenv.Eventually(h.t, "the jobs to settle", func() bool {
		jobs, err := h.m.List(context.Background())
		if err != nil {
			h.t.Fatal(err)
		}
		for _, j := range jobs {
			if j.State.Active() || j.State == engine.TransientError {
				return false
			}
		}
		return true
	})
	return nil
}

// startWorker runs a real worker on the harness's store until stop is
// called (or the test ends).
func (h *harness) startWorker() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- engine.RunWorker(ctx, h.m, engine.WorkerOptions{
			Checkpoint: 20 * time.Millisecond,
			Log:        slog.New(slog.DiscardHandler),
		})
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				h.t.Errorf("worker: %v", err)
			}
		})
	}
	h.t.Cleanup(stop)
	return stop
}

func (h *harness) expand(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		for k, v := range h.vars {
			a = strings.ReplaceAll(a, k, v)
		}
		out[i] = a
	}
	return out
}

var tempName = regexp.MustCompile(`BIT[0-9A-F]{4}\.tmp`)

// stable replaces temporary paths, server addresses and temporary file
// names in output by stable names.
func (h *harness) stable(s string) string {
	for k, v := range h.vars {
		s = strings.ReplaceAll(s, v, k)
	}
	return tempName.ReplaceAllString(s, "BIT####.tmp")
}

// run runs one command, with $NAMEs expanded, and returns what it printed
// and its exit code.
func (h *harness) run(args ...string) (stdout, stderr string, code int) {
	return h.runCtx(context.Background(), args...)
}

func (h *harness) runCtx(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	var out, errb bytes.Buffer
	stdin := strings.NewReader(h.stdin)
	h.stdin = ""
	code = run(ctx, h.expand(args), h.env(stdin, &out, &errb))
	return out.String(), errb.String(), code
}

// must runs a setup command that has to succeed; it is not recorded.
func (h *harness) must(args ...string) string {
	h.t.Helper()
	out, errs, code := h.run(args...)
	if code != 0 {
		h.t.Fatalf("bitsjob %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// record runs a command and adds it and its outcome to the transcript.
// Every line of JSON output must be one compact document; the transcript
// shows it indented, for people reading the golden file.
func (h *harness) record(args ...string) int {
	h.t.Helper()
	return h.recordCtx(context.Background(), args...)
}

func (h *harness) recordCtx(ctx context.Context, args ...string) int {
	h.t.Helper()
	out, errs, code := h.runCtx(ctx, args...)
	fmt.Fprintf(&h.script, "$ bitsjob %s\n", shellQuote(args))
	section := func(name, s string) {
		fmt.Fprintf(&h.script, "-- %s --\n", name)
		h.script.WriteString(h.stable(h.pretty(s)))
	}
	section("stdout", out)
	section("stderr", errs)
	fmt.Fprintf(&h.script, "-- exit %d --\n\n", code)
	return code
}

// pretty indents the lines of s that are JSON documents; it fails the test
// for a JSON document that spans lines or does not parse.
func (h *harness) pretty(s string) string {
	h.t.Helper()
	if s != "" && !strings.HasSuffix(s, "\n") {
		h.t.Errorf("output does not end with a newline: %q", s)
	}
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l == "" {
			continue
		}
		if !strings.HasPrefix(l, "{") && !strings.HasPrefix(l, "[") {
			b.WriteString(l)
			continue
		}
		var ind bytes.Buffer
		if err := json.Indent(&ind, []byte(l), "", "  "); err != nil {
			h.t.Errorf("a line of output is not one JSON document: %v\n%s", err, l)
			b.WriteString(l)
			continue
		}
		b.Write(ind.Bytes())
		b.WriteString("\n")
	}
	return b.String()
}

// shellQuote joins args as a shell would need them typed.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"\\*?<>|;&$") && !strings.HasPrefix(a, "$") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

// check compares the transcript with testdata/<name>.golden, or rewrites it
// with -update.
func (h *harness) check(name string) {
	h.t.Helper()
	testenv.CheckGolden(h.t, filepath.Join(testdata, name+".golden"), h.script.String(), *update)
}

// id is the GUID of the n-th job a harness created, as bitsjob prints it.
func id(n int) string { return fmt.Sprintf("ab000000-0000-4000-8000-%012d", n) }

// job returns the n-th job, failing the test if it cannot be read.
func (h *harness) job(n int) *engine.Job {
	h.t.Helper()
	j, err := h.m.Get(context.Background(), strings.ToUpper(id(n)))
	if err != nil {
		h.t.Fatalf("get job %d: %v", n, err)
	}
	return j
}

// source creates $DIR/name, for an upload job to read.
func (h *harness) source(name string) {
	h.t.Helper()
	if err := os.WriteFile(filepath.Join(h.dir, name), []byte("upload source\n"), 0o600); err != nil {
		h.t.Fatal(err)
	}
}
