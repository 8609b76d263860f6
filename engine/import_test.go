package engine_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"path/filepath"
	"testing"

	"bits/engine"
	"bits/hresult"
)

// specsOf yields specs, and the error errs holds at the same index.
func specsOf(specs []engine.JobSpec, errs map[int]error) iter.Seq2[engine.JobSpec, error] {
	return func(yield func(engine.JobSpec, error) bool) {
		for i, s := range specs {
			if !yield(s, errs[i]) {
				return
			}
		}
	}
}

type importOutcome struct {
	id  string
	err error
}

func importAll(t *testing.T, m *engine.Manager, specs iter.Seq2[engine.JobSpec, error]) []importOutcome {
	t.Helper()
	var out []importOutcome
	if err := m.Import(context.Background(), specs, func(id string, err error) {
		out = append(out, importOutcome{id, err})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Each job of an import is made whole or not at all: a refusal at any step
// takes back only that job, the rest go in, and every refusal is reported
// in its place with the step that refused it.
func TestImportRefusesJobsOneByOne(t *testing.T) {
	dir := t.TempDir()
	m := openIdle(t, t.TempDir(), engine.Options{MaxFilesPerJob: 3, MaxJobsPerUser: 5})
	ctx := context.Background()
	if _, err := m.Submit(ctx, engine.JobSpec{Name: "before", Files: goodFiles(dir, 1)}); err != nil {
		t.Fatal(err)
	}
	const given = "0A000000-0000-4000-8000-000000000001"
	bad := errors.New("line 3 does not parse")
	specs := []engine.JobSpec{
		{ID: given, Name: "kept id", Files: goodFiles(dir, 3)},
		{Name: "too many files", Files: goodFiles(dir, 4)},
		{Name: "yielded with an error"},
		{Name: "bad last file", Files: append(goodFiles(dir, 2), engine.FileSpec{Remote: "http://127.0.0.1:9/x", Local: filepath.Join(dir, "no", "x")})},
		{ID: given, Name: "same id again", Files: goodFiles(dir, 1)},
		{Name: "bad setting", Settings: []engine.Props{{Priority: ptr(engine.Priority(9))}}, Files: goodFiles(dir, 1)},
		{Name: "queued", Files: goodFiles(dir, 2), Resume: true},
		{Name: "nothing to resume", Resume: true},
		{Name: "third", Files: goodFiles(dir, 1)},
		{Name: "fourth"},
		{Name: "over the limit", Files: goodFiles(dir, 1)},
	}
	got := importAll(t, m, specsOf(specs, map[int]error{2: bad}))
	want := []struct {
		step engine.SubmitStep
		code hresult.Code // 0: created
	}{
		{}, {engine.StepFiles, hresult.BG_E_TOO_MANY_FILES_IN_JOB}, {}, {engine.StepFiles, hresult.E_PATH_NOT_FOUND},
		{engine.StepCreate, hresult.E_INVALIDARG}, {engine.StepSettings, hresult.E_INVALIDARG}, {},
		{engine.StepResume, hresult.BG_E_EMPTY}, {}, {}, {engine.StepCreate, hresult.BG_E_TOO_MANY_JOBS_PER_USER},
	}
	if len(got) != len(specs) {
		t.Fatalf("%d outcomes for %d specs: %v", len(got), len(specs), got)
	}
	created := map[string]bool{}
	for i, w := range want {
		o := got[i]
		var se *engine.SubmitError
		switch {
		case i == 2:
			if o.err != bad {
				t.Errorf("spec 2: the error it came with is not passed on: %v", o.err)
			}
		case w.code == 0:
			if o.err != nil || o.id == "" {
				t.Errorf("spec %d (%s): %v", i, specs[i].Name, o.err)
			}
			created[o.id] = true
		case !errors.As(o.err, &se) || se.Step != w.step || !hresult.Is(o.err, w.code):
			t.Errorf("spec %d (%s): got %v, want step %d code %v", i, specs[i].Name, o.err, w.step, w.code)
		}
	}
	if got[0].id != given {
		t.Errorf("the given GUID was not kept: %s", got[0].id)
	}
	// The store holds the jobs reported created, each with all its files,
	// and its per-job totals and job count agree with the rows.
	jobs, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1+len(created) {
		t.Errorf("%d jobs in the store, want %d", len(jobs), 1+len(created))
	}
	byName := map[string]int{}
	for _, j := range jobs {
		if j.DisplayName != "before" && !created[j.ID] {
			t.Errorf("job %q is in the store but was not reported created", j.DisplayName)
		}
		byName[j.DisplayName] = len(j.Files)
		if j.DisplayName == "queued" && j.State != engine.Queued {
			t.Errorf("the job to resume is %v", j.State)
		}
	}
	for _, s := range specs {
		if n, ok := byName[s.Name]; ok && n != len(s.Files) {
			t.Errorf("job %q has %d files of %d", s.Name, n, len(s.Files))
		}
	}
	err = m.EachSummary(ctx, func(s engine.Summary) error {
		if s.FilesTotal != byName[s.DisplayName] {
			t.Errorf("job %q: the store counts %d files, it has %d", s.DisplayName, s.FilesTotal, byName[s.DisplayName])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The job count kept by the store is right: the limit of 5 is reached.
	if _, err := m.Create(ctx, "one more", engine.Download); !hresult.Is(err, hresult.BG_E_TOO_MANY_JOBS_PER_USER) {
		t.Errorf("the store holds 5 jobs, yet Create says %v", err)
	}
}

// An import that is stopped reports nothing it did not commit and leaves
// whole jobs only.
func TestImportStopsOnCancel(t *testing.T) {
	dir := t.TempDir()
	m := openIdle(t, t.TempDir(), engine.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	specs := func(yield func(engine.JobSpec, error) bool) {
		for i := 0; ; i++ {
			if i == 50 {
				cancel()
			}
			if !yield(engine.JobSpec{Name: fmt.Sprint(i), Files: goodFiles(dir, 2)}, nil) {
				return
			}
		}
	}
	var reported []string
	err := m.Import(ctx, specs, func(id string, err error) {
		if err != nil {
			t.Errorf("refused: %v", err)
		}
		reported = append(reported, id)
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Import returned %v", err)
	}
	jobs, err := m.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != len(reported) {
		t.Errorf("%d jobs in the store, %d reported", len(jobs), len(reported))
	}
	for _, j := range jobs {
		if len(j.Files) != 2 {
			t.Errorf("job %s has %d files", j.DisplayName, len(j.Files))
		}
	}
}

// BenchmarkImport creates b.N jobs of 10 files in one import, in a store
// that starts empty: the store's share of `bitsjob import`, without the
// decoding of its input.
func BenchmarkImport(b *testing.B) {
	dir := b.TempDir()
	opts := engine.Options{Home: b.TempDir(), MaxJobsPerUser: b.N + 1, StartWorker: func(string) error { return nil }}
	m, err := engine.Open(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	specs := make([]engine.JobSpec, b.N)
	for i := range specs {
		files := make([]engine.FileSpec, 10)
		for k := range files {
			files[k] = engine.FileSpec{Remote: fmt.Sprintf("http://127.0.0.1:9/%d/%d.bin", i, k), Local: filepath.Join(dir, fmt.Sprintf("%d-%d.bin", i, k))}
		}
		specs[i] = engine.JobSpec{Name: fmt.Sprint("job-", i), Files: files}
	}
	b.ResetTimer()
	n := 0
	err = m.Import(context.Background(), specsOf(specs, nil), func(id string, err error) {
		if err != nil {
			b.Fatal(err)
		}
		n++
	})
	if err != nil || n != b.N {
		b.Fatalf("%d of %d jobs made: %v", n, b.N, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}
