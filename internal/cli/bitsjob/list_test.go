package bitsjob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"bits/engine"
)

// heapWatcher is standard output that counts lines and, every `every`
// lines, notes the live heap after a collection.
type heapWatcher struct {
	lines, every int
	peak         uint64
}

func (w *heapWatcher) Write(p []byte) (int, error) {
	for range bytes.Count(p, []byte("\n")) {
		if w.lines++; w.lines%w.every == 0 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			w.peak = max(w.peak, m.HeapAlloc)
		}
	}
	return len(p), nil
}

// TestListJSONStreams: list --json holds a few jobs at a time, whatever
// the length of the list: while 3,000 jobs of 10 files are printed, the
// live heap grows by far less than the jobs would take if they were
// gathered first (each job's JSON line alone is about 3 KB).
func TestListJSONStreams(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	const n = 3000
	// A Manager of the same store whose limit takes them all.
	m, err := engine.Open(engine.Options{Home: h.home, MaxJobsPerUser: n, StartWorker: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := range n {
		spec := engine.JobSpec{Name: fmt.Sprintf("job-%d", i), Type: engine.Download}
		for k := range 10 {
			spec.Files = append(spec.Files, engine.FileSpec{
				Remote: fmt.Sprintf("http://127.0.0.1:9/%d/%d/%s.bin", i, k, strings.Repeat("x", 100)),
				Local:  fmt.Sprintf("%s/%d-%d-%s.bin", h.dir, i, k, strings.Repeat("y", 100)),
			})
		}
		if _, err := m.Submit(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	w := &heapWatcher{every: 200}
	var errb bytes.Buffer
	if code := run(ctx, []string{"list", "--json"}, h.env(strings.NewReader(""), w, &errb)); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if w.lines != n {
		t.Fatalf("printed %d lines for %d jobs", w.lines, n)
	}
	// Gathered, the jobs would hold n * 10 files * 2 names of 100+ bytes:
	// more than 6 MB, and their JSON about 10 MB.
	if grew := int64(w.peak) - int64(before.HeapAlloc); grew > 2<<20 {
		t.Errorf("the live heap grew by %d KiB while listing; want the jobs printed as they are read", grew>>10)
	}
}

// TestPrintJobAllocations: printing a job's JSON line allocates a bounded
// number of times, however many files it has beyond the first: the
// encoder writes into one buffer kept from job to job.
func TestPrintJobAllocations(t *testing.T) {
	e := &env{json: true}
	j := &engine.Job{ID: "AB000000-0000-4000-8000-000000000001", DisplayName: "x", Type: engine.Download, State: engine.Suspended}
	allocs := func(files int) float64 {
		j.Files = nil
		for k := range files {
			j.Files = append(j.Files, engine.File{Index: k, RemoteName: "http://h/a", LocalName: "/tmp/a", BytesTotal: engine.SizeUnknown})
		}
		return testing.AllocsPerRun(100, func() {
			if err := e.printJobs(io.Discard, []*engine.Job{j}); err != nil {
				t.Fatal(err)
			}
		})
	}
	one, many := allocs(1), allocs(50)
	t.Logf("%v allocations for 1 file, %v for 50", one, many)
	if many > one {
		t.Errorf("printing a job of 50 files allocates %v times, of 1 file %v: want no allocation per file", many, one)
	}
	if one > 4 {
		t.Errorf("printing a job allocates %v times; want at most 4", one)
	}
}
