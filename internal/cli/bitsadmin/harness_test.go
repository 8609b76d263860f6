package bitsadmin

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bits/engine"
	"bits/engine/spawn"
	"bits/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// fixedNow is the clock of every test Manager, so times in the output are
// stable: it prints as 3/5/2024 2:07:09 PM.
var fixedNow = time.Date(2024, 3, 5, 14, 7, 9, 0, time.UTC)

// harness runs bitsadmin in-process against a Manager with a fixed clock,
// counting GUIDs and a folder for local files, and keeps a transcript of the
// commands it records for a golden file.
type harness struct {
	t      *testing.T
	m      *engine.Manager
	home   string
	dir    string            // for local files; $DIR in commands and output
	vars   map[string]string // $NAME -> value, expanded in commands, restored in output
	sig    chan os.Signal    // what the interrupt of env delivers
	script strings.Builder

	// What env gets; tests change them before running commands.
	terminal      bool
	width         int
	monitorRounds int
	after         func(time.Duration) <-chan time.Time
	// allUsers and findAnyUser stand for engine.ForAllUsers and
	// FindAnyUser: by default they see the harness's own store only, as
	// if the caller were the only user, whoever runs the tests.
	allUsers    func(ctx context.Context, fn func(*engine.Manager) error) error
	findAnyUser func(ctx context.Context, m *engine.Manager, arg string) (*engine.Job, *engine.Manager, error)
	// secrets must never appear in what a command prints: a test fails
	// when one does, before output is made stable.
	secrets []string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	home := t.TempDir()
	m := openStore(t, home, `HOST\user`, "AB000000-0000-4000-8000-%012d")
	h := &harness{t: t, m: m, home: home, dir: t.TempDir(), sig: make(chan os.Signal, 1)}
	h.vars = map[string]string{"$DIR": h.dir, "$HOME": home}
	h.after = now
	h.allUsers = func(_ context.Context, fn func(*engine.Manager) error) error { return fn(h.m) }
	h.findAnyUser = func(ctx context.Context, m *engine.Manager, arg string) (*engine.Job, *engine.Manager, error) {
		j, err := m.Find(ctx, arg)
		return j, m, err
	}
	return h
}

// openStore opens a Manager on home with the fixed clock, the owner, and
// GUIDs counted in the format idFormat.
func openStore(t *testing.T, home, owner, idFormat string) *engine.Manager {
	t.Helper()
	var n atomic.Int64
	m, err := engine.Open(engine.Options{
		Home:  home,
		Now:   func() time.Time { return fixedNow },
		NewID: func() string { return fmt.Sprintf(idFormat, n.Add(1)) },
		// No worker is started; one that a test runs itself is nudged.
		StartWorker: func(home string) error { spawn.Nudge(home); return nil },
		Owner:       owner,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// now is a channel that is always ready: /monitor's refresh never waits.
func now(time.Duration) <-chan time.Time {
	c := make(chan time.Time, 1)
	c <- fixedNow
	return c
}

func (h *harness) env(stdout, stderr io.Writer) *env {
	return &env{
		m: h.m, stdout: stdout, stderr: stderr, tz: time.UTC, poll: 5 * time.Millisecond,
		interrupt:     func() (<-chan os.Signal, func()) { return h.sig, func() {} },
		after:         h.after,
		terminal:      h.terminal,
		width:         h.width,
		monitorRounds: h.monitorRounds,
		allUsers:      h.allUsers,
		findAnyUser:   h.findAnyUser,
		user:          func() string { return "user" },
	}
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

// stable replaces the temporary paths and server addresses in output by
// their $NAMEs.
func (h *harness) stable(s string) string {
	// Longest values first: a temporary file's path holds $DIR's.
	names := slices.Collect(maps.Keys(h.vars))
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(len(h.vars[b])-len(h.vars[a]), strings.Compare(a, b)) })
	for _, k := range names {
		s = strings.ReplaceAll(s, h.vars[k], k)
	}
	return s
}

// run runs one command, with $NAMEs expanded, and returns what it printed
// and its exit code.
func (h *harness) run(args ...string) (stdout, stderr string, code int) {
	h.t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), h.expand(args), h.env(&out, &errb))
	for _, s := range h.secrets {
		if strings.Contains(out.String(), s) || strings.Contains(errb.String(), s) {
			h.t.Errorf("bitsadmin %s printed a secret:\n%s%s", strings.Join(args, " "), out.String(), errb.String())
		}
	}
	return out.String(), errb.String(), code
}

// must runs a setup command that has to succeed; it is not recorded.
func (h *harness) must(args ...string) string {
	h.t.Helper()
	out, errs, code := h.run(args...)
	if code != 0 {
		h.t.Fatalf("bitsadmin %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// record runs a command and adds it and its outcome to the transcript.
func (h *harness) record(args ...string) int {
	h.t.Helper()
	out, errs, code := h.run(args...)
	fmt.Fprintf(&h.script, "$ bitsadmin %s\n", shellQuote(args))
	section := func(name, s string) {
		fmt.Fprintf(&h.script, "-- %s --\n", name)
		s = h.stable(s)
		h.script.WriteString(s)
		if s != "" && !strings.HasSuffix(s, "\n") {
			h.script.WriteString("\n\\ no newline at end\n")
		}
	}
	section("stdout", out)
	section("stderr", errs)
	fmt.Fprintf(&h.script, "-- exit %d --\n\n", code)
	return code
}

// shellQuote joins args as a shell would need them typed.
func shellQuote(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " '\"\\<>|&;()*?`") {
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
	testenv.CheckGolden(h.t, filepath.Join("testdata", name+".golden"), h.script.String(), *update)
}

// id is the GUID of the n-th job a harness created, in braces.
func id(n int) string { return fmt.Sprintf("{AB000000-0000-4000-8000-%012d}", n) }

// startWorker runs a real worker on the harness's store until the test ends.
func (h *harness) startWorker() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- engine.RunWorker(ctx, h.m, engine.WorkerOptions{
			Checkpoint: 20 * time.Millisecond,
			Log:        slog.New(slog.DiscardHandler),
		})
	}()
	h.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			h.t.Errorf("worker: %v", err)
		}
	})
}

// job returns the job with this GUID (in braces), failing the test if it
// cannot be read.
func (h *harness) job(guid string) *engine.Job {
	h.t.Helper()
	raw, _ := engine.ParseGUID(guid)
	j, err := h.m.Get(context.Background(), raw)
	if err != nil {
		h.t.Fatalf("get %s: %v", guid, err)
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
