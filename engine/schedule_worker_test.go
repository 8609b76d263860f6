package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"bits/engine"
	"bits/engine/policy"
	"bits/engine/spawn"
	"bits/internal/testenv"
)

// These tests drive the scheduler through a real worker and real, paced
// origins on loopback: slots, pre-emption, time slices, FOREGROUND jobs and
// policy changes while the worker runs.

// startWithPolicy writes a policy file of the given lines, points
// $BITS_POLICY at it and starts the harness. It returns the file's path.
func startWithPolicy(t *testing.T, lines ...string) (*harness, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.conf")
	writePolicy(t, path, lines...)
	t.Setenv("BITS_POLICY", path)
	return start(t), path
}

// writePolicy replaces the policy file in one rename, so the worker never
// reads half of it (an empty file would be a valid, all-default policy).
func writePolicy(t *testing.T, path string, lines ...string) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// jobsByID is one consistent snapshot of every job.
type jobsByID map[string]*engine.Job

func (js jobsByID) done(id string) int64 { return js[id].Files[0].BytesTransferred }

// watch polls every job, in one snapshot at a time, until cond holds, for at
// most 10 s. Each snapshot must pass every rule; the first one broken fails
// the test at once.
func (h *harness) watch(what string, cond func(jobsByID) bool, rules ...func(jobsByID) error) jobsByID {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := h.m.List(context.Background())
		if err != nil {
			h.t.Fatal(err)
		}
		js := jobsByID{}
		for _, j := range list {
			js[j.ID] = j
		}
		for _, rule := range rules {
			if err := rule(js); err != nil {
				h.t.Fatalf("waiting for %s: %v\n%s", what, err, describe(list))
			}
		}
		if cond(js) {
			return js
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s\n%s", what, describe(list))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func describe(list []*engine.Job) string {
	var b strings.Builder
	for _, j := range list {
		_, n, _, _ := j.Progress()
		fmt.Fprintf(&b, "  %s %v %v %d bytes err %+v\n", j.ID[:8], j.Priority, j.State, n, j.Err)
	}
	return b.String()
}

// noFailure: no job is in ERROR or TRANSIENT_ERROR.
func noFailure(js jobsByID) error {
	for _, j := range js {
		if j.State == engine.Error || j.State == engine.TransientError {
			return fmt.Errorf("job %s is %v: %+v", j.ID[:8], j.State, j.Err)
		}
	}
	return nil
}

// inState: each of ids is in state s.
func inState(s engine.State, ids ...string) func(jobsByID) error {
	return func(js jobsByID) error {
		for _, id := range ids {
			if js[id].State != s {
				return fmt.Errorf("job %s is %v, want %v", id[:8], js[id].State, s)
			}
		}
		return nil
	}
}

// notTransferred: none of ids has finished.
func notTransferred(ids ...string) func(jobsByID) error {
	return func(js jobsByID) error {
		for _, id := range ids {
			if js[id].State == engine.Transferred {
				return fmt.Errorf("job %s finished first", id[:8])
			}
		}
		return nil
	}
}

// atMostActive: no more than n of ids are CONNECTING or TRANSFERRING.
func atMostActive(n int, ids ...string) func(jobsByID) error {
	return func(js jobsByID) error {
		var active []string
		for _, id := range ids {
			if s := js[id].State; s == engine.Connecting || s == engine.Transferring {
				active = append(active, id[:8])
			}
		}
		if len(active) > n {
			return fmt.Errorf("jobs %v transfer at once with %d slot(s)", active, n)
		}
		return nil
	}
}

// getRanges returns the Range header of every GET the origin received.
func getRanges(o *testenv.Origin) []string {
	var out []string
	for _, r := range o.Requests() {
		if r.Method == "GET" {
			out = append(out, r.Range)
		}
	}
	return out
}

// waitPastAScan waits until job id (paced at rate bytes per second) has
// moved another 1.25 s worth of bytes: the worker scans the store at least
// once a second, so a scan has run in between.
func (h *harness) waitPastAScan(id string, rate int64, rules ...func(jobsByID) error) {
	h.t.Helper()
	js := h.watch("a job moving", func(js jobsByID) bool { return js.done(id) > 0 }, rules...)
	from := js.done(id)
	h.watch("a scan of the store", func(js jobsByID) bool { return js.done(id) >= from+rate*5/4 }, rules...)
}

// waitLog polls the worker's log until it holds text, for at most 10 s.
func (h *harness) waitLog(text string) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(h.log(), text) {
		if time.Now().After(deadline) {
			h.t.Fatalf("the worker never logged %q; log:\n%s", text, h.log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLowJobIsPreemptedByHighAndResumesFromCheckpoint(t *testing.T) {
	h, _ := startWithPolicy(t, "MaxBackgroundTransfers = 1")
	lowContent := testenv.RandomContent(4<<20, 31)
	highContent := testenv.RandomContent(512<<10, 32)
	lowO := testenv.NewOrigin(t, lowContent, testenv.RateLimit(2<<20))
	highO := testenv.NewOrigin(t, highContent, testenv.RateLimit(1<<20))

	low := h.jobWith(engine.Props{Priority: ptr(engine.Low)}, lowO.URL("/file")).ID
	h.watch("LOW moving", func(js jobsByID) bool { return js.done(low) > 0 }, noFailure)
	high := h.jobWith(engine.Props{Priority: ptr(engine.High)}, highO.URL("/file")).ID

	// LOW gives its slot up and goes back to the queue with its checkpoint.
	js := h.watch("LOW back in the queue", func(js jobsByID) bool { return js[low].State == engine.Queued },
		noFailure, notTransferred(low, high), atMostActive(1, low, high))
	checkpoint := js.done(low)
	if checkpoint <= 0 || checkpoint >= int64(len(lowContent)) {
		t.Fatalf("LOW's checkpoint is %d of %d bytes; want some, not all", checkpoint, len(lowContent))
	}
	before := len(getRanges(lowO))

	// HIGH transfers while LOW waits in the queue.
	h.watch("HIGH transferred", func(js jobsByID) bool { return js[high].State == engine.Transferred },
		noFailure, func(js jobsByID) error {
			if js[high].State != engine.Transferred && js[low].State != engine.Queued {
				return fmt.Errorf("LOW is %v before HIGH finished", js[low].State)
			}
			return nil
		})

	// Then LOW resumes from its checkpoint and finishes.
	js = h.watch("LOW transferred", func(js jobsByID) bool { return js[low].State == engine.Transferred }, noFailure)
	resumed := getRanges(lowO)[before:]
	if len(resumed) == 0 {
		t.Fatal("LOW transferred without another GET")
	}
	from, ok := strings.CutPrefix(resumed[0], "bytes=")
	from, _, _ = strings.Cut(from, "-")
	n, err := strconv.ParseInt(from, 10, 64)
	if !ok || err != nil || n < checkpoint {
		t.Fatalf("LOW resumed with Range %q; want one from its checkpoint at %d", resumed[0], checkpoint)
	}
	if got := h.completeAndRead(js[low]); !bytes.Equal(got, lowContent) {
		t.Fatalf("LOW's file differs: %d bytes, want %d", len(got), len(lowContent))
	}
	if got := h.completeAndRead(js[high]); !bytes.Equal(got, highContent) {
		t.Fatalf("HIGH's file differs: %d bytes, want %d", len(got), len(highContent))
	}
	if !strings.Contains(h.log(), "job gives its slot up") {
		t.Error("the worker did not log the pre-emption")
	}
}

func TestSamePriorityJobsShareTheSlotInTimeSlices(t *testing.T) {
	h, _ := startWithPolicy(t, "MaxBackgroundTransfers = 1", "TimeSlice = 1")
	// Each would take 4 s alone; a slice is 1 s (up to 2 s, as the worker
	// scans once a second).
	const rate = 2 << 20
	oa := testenv.NewOrigin(t, testenv.RandomContent(8<<20, 33), testenv.RateLimit(rate))
	ob := testenv.NewOrigin(t, testenv.RandomContent(8<<20, 34), testenv.RateLimit(rate))
	a := h.job(oa.URL("/file")).ID
	b := h.job(ob.URL("/file")).ID
	rules := []func(jobsByID) error{noFailure, notTransferred(a, b), atMostActive(1, a, b)}

	js := h.watch("both jobs moving", func(js jobsByID) bool { return js.done(a) > 0 && js.done(b) > 0 }, rules...)

	// And the slot comes back: the job that went first moves again before
	// the other finishes.
	first := a
	if js[a].State != engine.Queued {
		first = b
	}
	if js[first].State != engine.Queued {
		t.Fatalf("neither job waits its turn with one slot: %v and %v", js[a].State, js[b].State)
	}
	from := js.done(first)
	h.watch("the first job's next turn", func(js jobsByID) bool { return js.done(first) > from }, rules...)
	origin := map[string]*testenv.Origin{a: oa, b: ob}
	if g := getRanges(origin[first]); len(g) < 2 || g[len(g)-1] == "" || g[len(g)-1] == "bytes=0-" {
		t.Errorf("the first job's GETs %q; want its next turn to resume from its checkpoint", g)
	}
	if !strings.Contains(h.log(), "job gives its slot up") {
		t.Error("the worker did not log a job giving its slot up")
	}
}

func TestForegroundJobStartsBesideTheBackgroundSlots(t *testing.T) {
	h, _ := startWithPolicy(t, "MaxBackgroundTransfers = 1")
	const rate = 1 << 20
	on := testenv.NewOrigin(t, testenv.RandomContent(6<<20, 35), testenv.RateLimit(rate))
	ow := testenv.NewOrigin(t, testenv.RandomContent(6<<20, 36), testenv.RateLimit(rate))
	of := testenv.NewOrigin(t, testenv.RandomContent(6<<20, 37), testenv.RateLimit(rate))

	normal := h.job(on.URL("/file")).ID
	h.watch("NORMAL moving", func(js jobsByID) bool { return js[normal].State == engine.Transferring }, noFailure)
	// A second NORMAL job waits: the one slot is taken.
	waiting := h.job(ow.URL("/file")).ID
	fg := h.jobWith(engine.Props{Priority: ptr(engine.Foreground)}, of.URL("/file")).ID

	rules := []func(jobsByID) error{noFailure, inState(engine.Transferring, normal), inState(engine.Queued, waiting)}
	js := h.watch("FOREGROUND moving", func(js jobsByID) bool {
		return js[fg].State == engine.Transferring && js.done(fg) > 0
	}, rules...)
	// Both keep moving at once.
	n0, f0 := js.done(normal), js.done(fg)
	h.watch("both moving on", func(js jobsByID) bool { return js.done(normal) > n0 && js.done(fg) > f0 },
		append(rules, inState(engine.Transferring, fg))...)

	if g := getRanges(on); len(g) != 1 {
		t.Errorf("NORMAL's origin got GETs %q; want one, never pre-empted", g)
	}
	if g := getRanges(ow); len(g) != 0 {
		t.Errorf("the waiting job's origin got GETs %q; want none", g)
	}
}

func TestMoreSlotsInThePolicyFileStartAWaitingJob(t *testing.T) {
	h, path := startWithPolicy(t, "MaxBackgroundTransfers = 1")
	const rate = 1 << 20
	oa := testenv.NewOrigin(t, testenv.RandomContent(8<<20, 38), testenv.RateLimit(rate))
	ob := testenv.NewOrigin(t, testenv.RandomContent(8<<20, 39), testenv.RateLimit(rate))

	a := h.job(oa.URL("/file")).ID
	h.watch("the first job moving", func(js jobsByID) bool { return js.done(a) > 0 }, noFailure)
	b := h.job(ob.URL("/file")).ID
	h.waitPastAScan(a, rate, noFailure, inState(engine.Queued, b))
	if g := getRanges(ob); len(g) != 0 {
		t.Fatalf("the second job's origin got GETs %q with one slot", g)
	}

	if err := policy.Set(path, "MaxBackgroundTransfers", "2"); err != nil {
		t.Fatal(err)
	}
	spawn.Nudge(h.m.Home())
	h.watch("the second job moving", func(js jobsByID) bool { return js.done(b) > 0 },
		noFailure, notTransferred(a, b), inState(engine.Transferring, a))
	if g := getRanges(oa); len(g) != 1 {
		t.Errorf("the first job's origin got GETs %q; want one, never pre-empted", g)
	}
	if !strings.Contains(h.log(), "policy file read again") {
		t.Error("the worker did not log the new policy")
	}
}

func TestBadPolicyFileKeepsTheLastGoodOne(t *testing.T) {
	h, path := startWithPolicy(t, "MaxBackgroundTransfers = 1")
	const rate = 1 << 20
	oa := testenv.NewOrigin(t, testenv.RandomContent(8<<20, 40), testenv.RateLimit(rate))
	ob := testenv.NewOrigin(t, testenv.RandomContent(8<<20, 41), testenv.RateLimit(rate))

	a := h.job(oa.URL("/file")).ID
	h.watch("the first job moving", func(js jobsByID) bool { return js.done(a) > 0 }, noFailure)
	b := h.job(ob.URL("/file")).ID

	// Two slots, but a bad line: the worker must keep one slot, not fall
	// back to the default of two, nor apply the half it understood.
	writePolicy(t, path, "MaxBackgroundTransfers = 2", "MaxBackgroundTransfers 3")
	spawn.Nudge(h.m.Home())
	const refused = "policy file not applied; keeping the last good one"
	h.waitLog(refused)
	h.waitPastAScan(a, rate, noFailure, inState(engine.Queued, b), inState(engine.Transferring, a))
	if g := getRanges(ob); len(g) != 0 {
		t.Fatalf("the second job's origin got GETs %q under a bad policy file", g)
	}
	for _, l := range strings.Split(h.log(), "\n") {
		if strings.Contains(l, refused) && !strings.Contains(l, "level=ERROR") {
			t.Errorf("policy error not logged as an error: %s", l)
		}
	}
	if n := strings.Count(h.log(), refused); n != 1 {
		t.Errorf("the policy error was logged %d times; want once per bad file", n)
	}

	// The worker is still there and takes the file once it is good again.
	writePolicy(t, path, "MaxBackgroundTransfers = 2")
	spawn.Nudge(h.m.Home())
	h.watch("the second job moving", func(js jobsByID) bool { return js.done(b) > 0 },
		noFailure, notTransferred(a, b), inState(engine.Transferring, a))
}

func TestRunningJobIsScheduledByItsCurrentPriority(t *testing.T) {
	h, _ := startWithPolicy(t, "MaxBackgroundTransfers = 1")
	const rate = 1 << 20
	oa := testenv.NewOrigin(t, testenv.RandomContent(6<<20, 42), testenv.RateLimit(rate))
	ob := testenv.NewOrigin(t, testenv.RandomContent(6<<20, 43), testenv.RateLimit(rate))

	a := h.job(oa.URL("/file")).ID
	h.watch("the first job moving", func(js jobsByID) bool { return js.done(a) > 0 }, noFailure)
	// Lowered while it transfers, it gives its slot to a NORMAL job.
	if err := h.m.Set(context.Background(), a, engine.Props{Priority: ptr(engine.Low)}); err != nil {
		t.Fatal(err)
	}
	b := h.job(ob.URL("/file")).ID
	js := h.watch("the NORMAL job moving", func(js jobsByID) bool { return js.done(b) > 0 },
		noFailure, notTransferred(a, b), atMostActive(1, a, b))
	if js[a].State != engine.Queued || js.done(a) == 0 {
		t.Errorf("the lowered job is %v with %d bytes; want QUEUED with its checkpoint", js[a].State, js.done(a))
	}
}
