package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"bits/engine"
)

// BenchmarkScale measures the front ends and the idle worker with 1,000,
// 10,000 and 100,000 jobs of 10 files each in one store, all SUSPENDED,
// against `curl --version` (the cost of starting a process here) in the
// same run:
//
//   - bitsadmin /getstate, /info (one job, by GUID) and /create, and bitsjob
//     get --json of one job: the median of 10 runs, as a ratio to curl's
//     (goal: 1.2 or less at any size);
//   - bitsadmin /list and bitsjob list --json: time to the last line, and
//     the largest resident set (goal: 1 s and 2 s, 50 MB);
//   - the worker, started on the store and idle: its share of a core over
//     10 s (goal: under 0.5 %); then with 1,000 of the jobs resumed, which
//     fail at once (nothing listens at their URL) and wait to retry (goal:
//     under 3 %);
//   - the rate at which `bitsjob import` creates the jobs from JSON Lines
//     as `bitsjob get --json` prints them (goal: 10,000 jobs/s): over all
//     of them, and for the last tenth, imported into the store that holds
//     the rest.
func BenchmarkScale(b *testing.B) {
	curl := needTool(b, "curl")
	bin := buildPrograms(b)
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("%djobs", n), func(b *testing.B) {
			home := b.TempDir()
			policy := filepath.Join(home, "policy.conf")
			if err := os.WriteFile(policy, []byte("MaxJobsPerUser = 1000000\n"), 0o644); err != nil {
				b.Fatal(err)
			}
			env := append(os.Environ(), "BITS_HOME="+home, "BITS_POLICY="+policy, "BITS_WORKER_IDLE=0")
			all, intoFull, last := fillStore(b, bin, env, home, n)
			b.ReportMetric(all, "import-jobs/s")
			b.ReportMetric(intoFull, "import-into-full-jobs/s")

			ref := medianRun(b, env, curl, "--version")
			b.ReportMetric(ref.Seconds()*1000, "curl-version-ms")
			admin, job := filepath.Join(bin, "bitsadmin"), filepath.Join(bin, "bitsjob")
			for _, c := range []struct {
				name string
				args []string
			}{
				{"getstate", []string{admin, "/getstate", "{" + last + "}"}},
				{"info", []string{admin, "/info", "{" + last + "}"}},
				{"create", []string{admin, "/create", "scale"}},
				{"get-json", []string{job, "get", "--json", last}},
			} {
				d := medianRun(b, env, c.args[0], c.args[1:]...)
				b.ReportMetric(float64(d)/float64(ref), c.name+"/curl")
			}
			for _, c := range []struct {
				name string
				args []string
			}{
				{"list", []string{admin, "/list"}},
				{"list-json", []string{job, "list", "--json"}},
			} {
				d, rss, lines := runCounted(b, env, c.args[0], c.args[1:]...)
				if lines < n {
					b.Fatalf("%s printed %d lines for %d jobs", c.name, lines, n)
				}
				b.ReportMetric(d.Seconds(), c.name+"-s")
				b.ReportMetric(float64(rss)/1e6, c.name+"-MB")
			}
			b.ReportMetric(idleWorker(b, bin, home, nil, nil), "worker-idle-%")
			// 1,000 jobs waiting to retry among the rest: each tried once,
			// its server refused it, and it waits out its retry delay.
			b.ReportMetric(idleWorker(b, bin, home, func() { resumeFirst(b, home, 1000, engine.Props{}) },
				map[engine.State]int{engine.TransientError: 1000}), "worker-1000-waiting-%")
			// 1,000 QUEUED among the rest: the first ones take the
			// background slots and wait on a server that never answers.
			queued := engine.Props{Proxy: &engine.ProxySettings{Usage: engine.ProxyOverride, List: holdConnections(b)}}
			b.ReportMetric(idleWorker(b, bin, home, func() { resumeFirst(b, home, 1000, queued) },
				map[engine.State]int{engine.Connecting: 2, engine.Queued: 998}), "worker-1000-queued-%")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// fillStore creates n SUSPENDED jobs of 10 files in the store at home with
// `bitsjob import`, from JSON Lines in the shape `bitsjob get --json` prints,
// in two runs: nine tenths into the empty store, then the last tenth into
// the store that holds them. It returns the rate over all the jobs and the
// rate of the second run, and the last job's GUID.
func fillStore(tb testing.TB, bin string, env []string, home string, n int) (all, intoFull float64, last string) {
	tb.Helper()
	out := filepath.Join(home, "out")
	if err := os.Mkdir(out, 0o700); err != nil {
		tb.Fatal(err)
	}
	job := filepath.Join(bin, "bitsjob")
	// A real job's line is the template: every field, as printed.
	scratch := exec.Command(job, "create", "--json", "--name", "template", "http://127.0.0.1:9/t", filepath.Join(out, "t"))
	scratch.Env = append(slices.Clone(env), "BITS_HOME="+tb.TempDir())
	line, err := scratch.Output()
	if err != nil {
		tb.Fatalf("bitsjob create: %v", err)
	}
	var tmpl map[string]any
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber() // BytesTotal's 2^64-1 stays as printed
	if err := dec.Decode(&tmpl); err != nil {
		tb.Fatal(err)
	}
	file := tmpl["FileList"].([]any)[0].(map[string]any)
	first := n - n/10
	write := func(name string, from, to int) string {
		path := filepath.Join(tb.TempDir(), name)
		f, err := os.Create(path)
		if err != nil {
			tb.Fatal(err)
		}
		w := bufio.NewWriter(f)
		enc := json.NewEncoder(w)
		for i := from; i < to; i++ {
			files := make([]any, 10)
			for k := range files {
				fj := maps.Clone(file)
				fj["RemoteName"] = fmt.Sprintf("http://127.0.0.1:9/%d/%d.bin", i, k)
				fj["LocalName"] = filepath.Join(out, fmt.Sprintf("%d-%d.bin", i, k))
				files[k] = fj
			}
			last = fmt.Sprintf("%08X-%04X-4%03X-8%03X-%012X", rand.Uint32(), rand.Uint32()&0xffff, rand.Uint32()&0xfff, rand.Uint32()&0xfff, i)
			tmpl["JobId"], tmpl["DisplayName"], tmpl["FilesTotal"], tmpl["FileList"] = strings.ToLower(last), fmt.Sprintf("job-%d", i), 10, files
			if err := enc.Encode(tmpl); err != nil {
				tb.Fatal(err)
			}
		}
		if err := errors.Join(w.Flush(), f.Close()); err != nil {
			tb.Fatal(err)
		}
		return path
	}
	run := func(path string, jobs int) time.Duration {
		cmd := exec.Command(job, "import", path)
		cmd.Env = env
		start := time.Now()
		got, err := cmd.CombinedOutput()
		d := time.Since(start)
		if want := fmt.Sprintf("%d jobs created, 0 refused\n", jobs); err != nil || string(got) != want {
			tb.Fatalf("bitsjob import: %v\n%s", err, got)
		}
		return d
	}
	most, rest := write("most.ndjson", 0, first), write("rest.ndjson", first, n)
	d1 := run(most, first)
	d2 := run(rest, n-first)
	return float64(n) / (d1 + d2).Seconds(), float64(n-first) / d2.Seconds(), last
}

// resumeFirst gives the n oldest jobs of the store at home the settings p
// and resumes them.
func resumeFirst(tb testing.TB, home string, n int, p engine.Props) {
	tb.Helper()
	m, err := engine.Open(engine.Options{Home: home, StartWorker: func(string) error { return nil }})
	if err != nil {
		tb.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	var ids []string
	err = m.EachSummary(ctx, func(s engine.Summary) error {
		if len(ids) < n {
			ids = append(ids, s.ID)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	for _, id := range ids {
		if err := m.Set(ctx, id, p); err != nil {
			tb.Fatal(err)
		}
		if err := m.Resume(ctx, id); err != nil {
			tb.Fatal(err)
		}
	}
}

// medianRun runs a command 10 times and returns the median wall time.
func medianRun(tb testing.TB, env []string, name string, args ...string) time.Duration {
	tb.Helper()
	var ds []time.Duration
	for range 10 {
		cmd := exec.Command(name, args...)
		cmd.Env = env
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		ds = append(ds, time.Since(start))
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// runCounted runs a command once under GNU time and returns its wall
// time, its largest resident set in bytes and how many lines it printed.
// (The rusage Go reports for a child counts, in its largest resident set,
// the parent's memory before the exec: the benchmark's own, swollen by the
// store it filled.)
func runCounted(tb testing.TB, env []string, name string, args ...string) (time.Duration, int64, int) {
	tb.Helper()
	rss := filepath.Join(tb.TempDir(), "rss")
	cmd := exec.Command(needTool(tb, "/usr/bin/time"), append([]string{"-f", "%M", "-o", rss, name}, args...)...)
	cmd.Env = env
	// The lines are counted as they come, as a pipe into wc -l would: a
	// buffer of the whole output would cost this process more than the
	// command takes to print it.
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	lines, buf := 0, make([]byte, 1<<20)
	for {
		n, err := out.Read(buf)
		lines += bytes.Count(buf[:n], []byte{'\n'})
		if err != nil {
			break
		}
	}
	err = cmd.Wait()
	d := time.Since(start)
	if err != nil {
		tb.Fatalf("%s %v: %v", name, args, err)
	}
	b, err := os.ReadFile(rss)
	if err != nil {
		tb.Fatal(err)
	}
	var kb int64
	if _, err := fmt.Sscan(string(b), &kb); err != nil {
		tb.Fatalf("GNU time wrote %q: %v", b, err)
	}
	return d, kb * 1024, lines
}

// idleWorker starts a worker on the store at home, runs then (if any),
// waits until the store holds the jobs in the states it names, lets the
// worker settle, and returns the share of a core it used over the next 10 s.
func idleWorker(tb testing.TB, bin, home string, then func(), settled map[engine.State]int) float64 {
	tb.Helper()
	w := startWorker(tb, bin, home)
	if then != nil {
		then()
	}
	waitStates(tb, home, settled)
	time.Sleep(5 * time.Second) // startup (recovery, the first reads) is not idling
	before, at := w.cpuTime(tb), time.Now()
	time.Sleep(10 * time.Second) // the measurement window
	share := 100 * (w.cpuTime(tb) - before).Seconds() / time.Since(at).Seconds()
	w.cmd.Process.Signal(syscall.SIGTERM) // the next measurement starts a worker of its own
	<-w.done
	return share
}

// waitStates waits, for up to two minutes, until the store at home holds
// at least the given number of jobs in each state.
func waitStates(tb testing.TB, home string, want map[engine.State]int) {
	tb.Helper()
	if len(want) == 0 {
		return
	}
	m, err := engine.Open(engine.Options{Home: home, StartWorker: func(string) error { return nil }})
	if err != nil {
		tb.Fatal(err)
	}
	defer m.Close()
	var have map[engine.State]int
	for range 240 {
		have = map[engine.State]int{}
		err := m.EachSummary(context.Background(), func(s engine.Summary) error {
			have[s.State]++
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		if !slices.ContainsFunc(slices.Collect(maps.Keys(want)), func(s engine.State) bool { return have[s] < want[s] }) {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	tb.Fatalf("the jobs never settled: %v, want at least %v", have, want)
}
