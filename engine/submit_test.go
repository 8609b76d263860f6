package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"bits/engine"
	"bits/hresult"
)

// openIdle opens a Manager on home that never starts a worker.
func openIdle(t *testing.T, home string, opts engine.Options) *engine.Manager {
	t.Helper()
	opts.Home = home
	opts.StartWorker = func(string) error { return nil }
	m, err := engine.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// goodFiles are n files that any download job takes.
func goodFiles(dir string, n int) []engine.FileSpec {
	var out []engine.FileSpec
	for i := range n {
		out = append(out, engine.FileSpec{Remote: fmt.Sprintf("http://127.0.0.1:9/%d", i), Local: filepath.Join(dir, fmt.Sprint(i))})
	}
	return out
}

func countJobs(t *testing.T, m *engine.Manager) int {
	t.Helper()
	jobs, err := m.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(jobs)
}

func TestSubmitMakesAWholeSuspendedJob(t *testing.T) {
	dir := t.TempDir()
	m := openIdle(t, t.TempDir(), engine.Options{})
	ctx := context.Background()
	j, err := m.Submit(ctx, engine.JobSpec{Name: "whole", Type: engine.Download,
		Settings: []engine.Props{{Description: ptr("nightly"), CustomHeaders: ptr("X-Token: abc"), MakeHeadersWriteOnly: true},
			{Priority: ptr(engine.Low)}},
		Files: goodFiles(dir, 3)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Get(ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if fmtJob(got) != fmtJob(j) {
		t.Errorf("Submit returned\n%s\nGet reads\n%s", fmtJob(j), fmtJob(got))
	}
	if got.State != engine.Suspended || got.DisplayName != "whole" || got.Description != "nightly" ||
		got.Priority != engine.Low || !got.HeadersWriteOnly || got.CustomHeaders != "" || len(got.Files) != 3 {
		t.Errorf("job is not what was submitted (write-only headers hidden): %s", fmtJob(got))
	}
	if err := m.Resume(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
}

// A submission refused at its last file leaves no job: the files before it
// were in the same transaction.
func TestSubmitRefusedAtLastFileLeavesNoJob(t *testing.T) {
	dir := t.TempDir()
	home := t.TempDir()
	m := openIdle(t, home, engine.Options{MaxFilesPerJob: 4})
	other := openIdle(t, home, engine.Options{}) // another process's view of the store
	for _, tc := range []struct {
		name string
		good int // files before the last
		last engine.FileSpec
		code hresult.Code
	}{
		{"folder missing", 3, engine.FileSpec{Remote: "http://127.0.0.1:9/x", Local: filepath.Join(dir, "no", "x")}, hresult.E_PATH_NOT_FOUND},
		{"one too many", 4, engine.FileSpec{Remote: "http://127.0.0.1:9/x", Local: filepath.Join(dir, "x")}, hresult.BG_E_TOO_MANY_FILES_IN_JOB},
	} {
		_, err := m.Submit(context.Background(), engine.JobSpec{Name: tc.name, Type: engine.Download,
			Settings: []engine.Props{{Description: ptr("refused")}}, Files: append(goodFiles(dir, tc.good), tc.last)})
		var se *engine.SubmitError
		if !errors.As(err, &se) || se.Step != engine.StepFiles || !hresult.Is(err, tc.code) {
			t.Errorf("%s: %v, want a refused file with 0x%08X", tc.name, err, uint32(tc.code))
		}
		if n := countJobs(t, m) + countJobs(t, other); n != 0 {
			t.Errorf("%s: %d jobs left", tc.name, n)
		}
	}
}

// Each step is named as the separate call would be, and leaves no job.
func TestSubmitNamesTheRefusedStep(t *testing.T) {
	dir := t.TempDir()
	m := openIdle(t, t.TempDir(), engine.Options{MaxJobsPerUser: 1})
	ctx := context.Background()
	long := string(make([]rune, engine.MaxDisplayName+1))
	for _, tc := range []struct {
		name    string
		spec    engine.JobSpec
		step    engine.SubmitStep
		setting int
		code    hresult.Code
	}{
		{"name too long", engine.JobSpec{Name: long, Type: engine.Download, Files: goodFiles(dir, 1)},
			engine.StepCreate, 0, hresult.BG_E_STRING_TOO_LONG},
		{"dynamic upload", engine.JobSpec{Name: "up", Type: engine.Upload,
			Settings: []engine.Props{{Priority: ptr(engine.High)}, {Dynamic: ptr(true)}}},
			engine.StepSettings, 1, hresult.BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY},
		{"relative local name", engine.JobSpec{Name: "rel", Type: engine.Download,
			Files: []engine.FileSpec{{Remote: "http://127.0.0.1:9/x", Local: "x"}}},
			engine.StepFiles, 0, hresult.E_INVALIDARG},
	} {
		_, err := m.Submit(ctx, tc.spec)
		var se *engine.SubmitError
		if !errors.As(err, &se) || se.Step != tc.step || se.Setting != tc.setting || !hresult.Is(err, tc.code) {
			t.Errorf("%s: %#v, want step %d setting %d code 0x%08X", tc.name, se, tc.step, tc.setting, uint32(tc.code))
		}
		if n := countJobs(t, m); n != 0 {
			t.Errorf("%s: %d jobs left", tc.name, n)
		}
	}
	if _, err := m.Submit(ctx, engine.JobSpec{Name: "one", Type: engine.Download}); err != nil {
		t.Fatal(err)
	}
	_, err := m.Submit(ctx, engine.JobSpec{Name: "two", Type: engine.Download})
	var se *engine.SubmitError
	if !errors.As(err, &se) || se.Step != engine.StepCreate || !hresult.Is(err, hresult.BG_E_TOO_MANY_JOBS_PER_USER) {
		t.Errorf("a job past MaxJobsPerUser: %v", err)
	}
}

// A reader in another connection, polling while jobs are submitted, sees
// each job whole or not at all, and never one that was refused.
func TestSubmittedJobIsNeverSeenHalfMade(t *testing.T) {
	dir := t.TempDir()
	home := t.TempDir()
	m := openIdle(t, home, engine.Options{})
	reader := openIdle(t, home, engine.Options{})
	ctx := context.Background()
	const files, submissions = 20, 30

	done := make(chan struct{})
	var wg sync.WaitGroup
	var looks int
	var bad []string
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			jobs, err := reader.List(ctx)
			if err != nil {
				bad = append(bad, err.Error())
				return
			}
			looks++
			for _, j := range jobs {
				if j.DisplayName == "refused" {
					bad = append(bad, "a refused job")
				} else if len(j.Files) != files || j.Description != "all set" {
					bad = append(bad, fmt.Sprintf("a job with %d files and description %q", len(j.Files), j.Description))
				}
			}
		}
	})
	for i := range submissions {
		spec := engine.JobSpec{Name: "good", Type: engine.Download,
			Settings: []engine.Props{{Description: ptr("all set")}}, Files: goodFiles(dir, files)}
		refused := i%2 == 1
		if refused {
			spec.Name = "refused"
			spec.Files = append(spec.Files, engine.FileSpec{Remote: "http://127.0.0.1:9/x", Local: filepath.Join(dir, "no", "x")})
		}
		if _, err := m.Submit(ctx, spec); (err != nil) != refused {
			t.Fatalf("submission %d: %v", i, err)
		}
	}
	close(done)
	wg.Wait()
	if len(bad) > 0 {
		t.Fatalf("in %d looks the reader saw %d half-made jobs; first: %s", looks, len(bad), bad[0])
	}
	if n := countJobs(t, reader); n != submissions/2 {
		t.Errorf("%d jobs, want %d", n, submissions/2)
	}
}

// A local name that is a folder, or a link to one, is refused wherever it
// comes among a job's files: alone, after other names of its folder (which
// then is listed once), and in a folder too large to list.
func TestLocalNameThatIsAFolder(t *testing.T) {
	m := openIdle(t, t.TempDir(), engine.Options{})
	ctx := context.Background()
	small, large := t.TempDir(), t.TempDir()
	for i := range 300 {
		if err := os.WriteFile(filepath.Join(large, fmt.Sprint("f", i)), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range []string{small, large} {
		for _, name := range []string{"sub", "sub2"} {
			if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "file"), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		for link, to := range map[string]string{"tosub": "sub", "tofile": "file", "dangling": "nowhere"} {
			if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
				t.Fatal(err)
			}
		}
	}
	spec := func(names ...string) engine.JobSpec {
		s := engine.JobSpec{Name: "folders"}
		for _, n := range names {
			s.Files = append(s.Files, engine.FileSpec{Remote: "http://127.0.0.1:9/x", Local: n})
		}
		return s
	}
	for _, dir := range []string{small, large} {
		in := func(name string) string { return filepath.Join(dir, name) }
		for _, names := range [][]string{
			{in("sub")}, {in("a"), in("sub")}, {in("a"), in("b"), in("sub2")},
			{in("a"), in("tosub")}, {in("tosub")}, {in("a"), in("sub") + "/"},
		} {
			if _, err := m.Submit(ctx, spec(names...)); !hresult.Is(err, hresult.E_INVALIDARG) || !strings.Contains(err.Error(), "is a folder") {
				t.Errorf("%v: %v, want a refusal of a folder", names, err)
			}
		}
		for _, names := range [][]string{{in("a"), in("file")}, {in("a"), in("tofile"), in("dangling")}, {in("new")}} {
			if _, err := m.Submit(ctx, spec(names...)); err != nil {
				t.Errorf("%v: %v", names, err)
			}
		}
	}
}
