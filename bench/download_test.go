// Package bench measures the built programs end to end: a download of 1 GiB
// over loopback from bitsserver, with bitsadmin /transfer against curl, in the
// same run and alternating, so both see the same machine. Run it with
// `make bench`; docs/benchmarks.md holds the figures.
//
// TestTransferSmoke runs the same harness on a small file with every `make
// test`, so the benchmark cannot rot unnoticed.
package bench

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"bits/engine/spawn"
	"bits/internal/testenv"
)

const (
	benchSize = 1 << 30 // bytes downloaded per transfer
	rounds    = 3       // each tool runs this many times, alternating
	block     = 4 << 20 // the source repeats one random block of this size
)

func BenchmarkDownload(b *testing.B) {
	curl := needTool(b, "curl")
	bin := buildPrograms(b)
	www, dest := b.TempDir(), b.TempDir()
	src := filepath.Join(www, "1GiB.bin")
	sum := writeSource(b, src, benchSize)
	url := startServer(b, bin, "-root", www) + "/1GiB.bin"
	home := b.TempDir()
	w := startWorker(b, bin, home)

	var curlRate, durableRate, bitsRate, ratio, durableRatio, curlCPU, bitsCPU []float64
	for i := range rounds {
		out := filepath.Join(dest, "curl.bin")
		c := runCurl(b, curl, url, out)
		if i == 0 {
			checkSum(b, out, sum)
		}
		os.Remove(out)

		// What bits promises, a file on disk when it says so, costs curl
		// a sync of the file after it: the peer that does the same work.
		out = filepath.Join(dest, "curl-sync.bin")
		d := runCurl(b, curl, url, out, "sync")
		os.Remove(out)

		out = filepath.Join(dest, "bits.bin")
		t := runTransfer(b, bin, home, w, url, out)
		if i == 0 {
			checkSum(b, out, sum)
		}
		os.Remove(out)

		b.Logf("round %d: curl %.0f MB/s, %.3f CPU s; curl && sync %.0f MB/s; bitsadmin /transfer %.0f MB/s, %.3f CPU s (worker %.3f)",
			i+1, c.mbps(benchSize), c.cpu.Seconds(), d.mbps(benchSize), t.mbps(benchSize), t.cpu.Seconds(), t.workerCPU.Seconds())
		curlRate = append(curlRate, c.mbps(benchSize))
		durableRate = append(durableRate, d.mbps(benchSize))
		bitsRate = append(bitsRate, t.mbps(benchSize))
		ratio = append(ratio, t.mbps(benchSize)/c.mbps(benchSize))
		durableRatio = append(durableRatio, t.mbps(benchSize)/d.mbps(benchSize))
		curlCPU = append(curlCPU, c.cpuPerGiB(benchSize))
		bitsCPU = append(bitsCPU, t.cpuPerGiB(benchSize))
	}
	b.ReportMetric(0, "ns/op") // one long run: the metrics below say it all
	b.ReportMetric(median(curlRate), "curl-MB/s")
	b.ReportMetric(median(bitsRate), "bits-MB/s")
	b.ReportMetric(median(durableRate), "curl-sync-MB/s")
	b.ReportMetric(median(ratio), "bits/curl")
	b.ReportMetric(median(durableRatio), "bits/curl-sync")
	b.ReportMetric(median(curlCPU), "curl-CPU-s/GiB")
	b.ReportMetric(median(bitsCPU), "bits-CPU-s/GiB")
}

// TestTransferSmoke runs one small transfer through the benchmark's
// harness: the programs build, the worker we start is the one that moves
// the bytes, its CPU time can be read, and the file arrives intact.
func TestTransferSmoke(t *testing.T) {
	bin := buildPrograms(t)
	www := t.TempDir()
	src := filepath.Join(www, "small.bin")
	sum := writeSource(t, src, 3*block+12345)
	url := startServer(t, bin, "-root", www) + "/small.bin"
	home := t.TempDir()
	w := startWorker(t, bin, home)

	out := filepath.Join(t.TempDir(), "small.bin")
	r := runTransfer(t, bin, home, w, url, out)
	checkSum(t, out, sum)
	if r.wall <= 0 || r.workerCPU < 0 || r.cpu < r.workerCPU {
		t.Errorf("implausible measurement %+v", r)
	}
	if pid, err := spawn.PID(home); err != nil || pid != w.cmd.Process.Pid {
		t.Errorf("the worker of %s is %d (%v), want the one the harness started, %d", home, pid, err, w.cmd.Process.Pid)
	}
}

// A measurement: wall time and the CPU time of every process involved.
type measurement struct {
	wall      time.Duration
	cpu       time.Duration // total
	workerCPU time.Duration // part of cpu spent by the bits worker
}

func (m measurement) mbps(n int64) float64 { return float64(n) / 1e6 / m.wall.Seconds() }
func (m measurement) cpuPerGiB(n int64) float64 {
	return m.cpu.Seconds() / (float64(n) / (1 << 30))
}

// runCurl downloads url to out with curl, then, when then names a
// program, runs it on out (sync: the file on disk, as bits leaves it).
func runCurl(tb testing.TB, curl, url, out string, then ...string) measurement {
	tb.Helper()
	// --noproxy: a proxy from the environment must not sit in the path.
	cmd := exec.Command(curl, "-s", "-S", "-f", "--noproxy", "*", "-o", out, url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		tb.Fatalf("curl %s: %v: %s", url, err, stderr.String())
	}
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	for _, prog := range then {
		after := exec.Command(prog, out)
		if msg, err := after.CombinedOutput(); err != nil {
			tb.Fatalf("%s %s: %v: %s", prog, out, err, msg)
		}
		cpu += after.ProcessState.UserTime() + after.ProcessState.SystemTime()
	}
	return measurement{wall: time.Since(start), cpu: cpu}
}

// runTransfer runs bitsadmin /transfer with stdout not a terminal, as a
// script would. CPU time is the worker's (read before and after, as it
// outlives the transfer) plus bitsadmin's own polling.
func runTransfer(tb testing.TB, bin, home string, w *process, url, out string, flags ...string) measurement {
	tb.Helper()
	before := w.cpuTime(tb)
	args := append(append([]string{"/transfer", "bench"}, flags...), "/priority", "FOREGROUND", url, out)
	cmd := exec.Command(filepath.Join(bin, "bitsadmin"), args...)
	cmd.Env = append(os.Environ(), "BITS_HOME="+home)
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil || !strings.Contains(output.String(), "Transfer complete.") {
		tb.Fatalf("bitsadmin /transfer: %v\n%s\nworker log:\n%s", err, output.String(), w.logTail())
	}
	worker := w.cpuTime(tb) - before
	return measurement{
		wall:      wall,
		cpu:       worker + cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		workerCPU: worker,
	}
}

// buildPrograms builds the three programs: the benchmark measures the real
// binaries, not a test build.
func buildPrograms(tb testing.TB) string {
	tb.Helper()
	needTool(tb, "go")
	dir := tb.TempDir()
	if err := testenv.BuildPrograms(dir, "bitsadmin", "bitsjob", "bitsserver"); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// writeSource writes size bytes made of one random block repeated (quick
// to make, and really on disk: not sparse) and returns their SHA-256.
func writeSource(tb testing.TB, path string, size int64) [sha256.Size]byte {
	tb.Helper()
	buf := make([]byte, block)
	rand.Read(buf)
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	w := io.MultiWriter(f, h)
	for left := size; left > 0; left -= int64(len(buf)) {
		if _, err := w.Write(buf[:min(left, int64(len(buf)))]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return [sha256.Size]byte(h.Sum(nil))
}

func checkSum(tb testing.TB, path string, want [sha256.Size]byte) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		tb.Fatal(err)
	}
	if got := [sha256.Size]byte(h.Sum(nil)); got != want {
		tb.Fatalf("%s: SHA-256 %x, want %x", path, got, want)
	}
}

// startServer runs bitsserver with args on a free loopback port for the
// duration of the test and returns its base URL.
func startServer(tb testing.TB, bin string, args ...string) string {
	tb.Helper()
	return startServerEnv(tb, bin, nil, args...)
}

// startServerEnv is startServer with these variables added to the
// server's environment.
func startServerEnv(tb testing.TB, bin string, env []string, args ...string) string {
	tb.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(filepath.Join(bin, "bitsserver"), append([]string{"-listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	p := start(tb, "bitsserver", w, cmd)
	w.Close() // the child has its own copy
	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(r)
		s.Scan()
		lines <- s.Text()
	}()
	select {
	case line := <-lines:
		url, ok := strings.CutPrefix(line, "listening on ")
		if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
			tb.Fatalf("bitsserver's first line is %q\n%s", line, p.logTail())
		}
		return url
	case <-p.done:
		tb.Fatalf("bitsserver exited at start:\n%s", p.logTail())
	case <-time.After(30 * time.Second):
		tb.Fatalf("bitsserver printed no address in 30 s:\n%s", p.logTail())
	}
	return ""
}

// startWorker runs `bitsjob worker` for home as our child, so that its CPU
// time can be read, and waits until it holds the worker lock: bitsadmin then
// uses it instead of starting its own.
func startWorker(tb testing.TB, bin, home string) *process {
	tb.Helper()
	cmd := exec.Command(filepath.Join(bin, "bitsjob"), "worker", "--idle-timeout", "10m")
	cmd.Env = append(os.Environ(), "BITS_HOME="+home)
	p := start(tb, "worker", nil, cmd)
	if runtime.GOOS != "linux" {
		skipOrFail(tb, "reading a running worker's CPU time needs /proc (Linux)")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The worker writes its pid into the lock file once it holds the lock.
		if pid, err := spawn.PID(home); err == nil && pid == cmd.Process.Pid {
			return p
		}
		select {
		case <-p.done:
			tb.Fatalf("the worker exited at start:\n%s", p.logTail())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the worker did not take the lock of %s in 30 s:\n%s", home, p.logTail())
		}
	}
}

// A process is a child started for a test, stopped with SIGTERM at cleanup.
type process struct {
	cmd  *exec.Cmd
	log  string // its stderr (and stdout, unless taken)
	done chan struct{}
}

func start(tb testing.TB, name string, stdout *os.File, cmd *exec.Cmd) *process {
	tb.Helper()
	p := &process{cmd: cmd, log: filepath.Join(tb.TempDir(), name+".log"), done: make(chan struct{})}
	log, err := os.Create(p.log)
	if err != nil {
		tb.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-p.done
			tb.Errorf("%s ignored SIGTERM for 15 s", name)
		}
	})
	return p
}

func (p *process) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// cpuTime is the user plus system time the process has used so far, from
// /proc/<pid>/stat (all its threads; in clock ticks of 1/100 s, the USER_HZ
// of every Linux architecture Go supports).
func (p *process) cpuTime(tb testing.TB) time.Duration {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		tb.Fatalf("reading the worker's CPU time: %v\n%s", err, p.logTail())
	}
	d, err := parseStatCPU(string(b))
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func parseStatCPU(stat string) (time.Duration, error) {
	// The command name, field 2, is in parentheses and may hold anything;
	// fields 14 (utime) and 15 (stime) count from the state after it.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc stat line %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc stat line %q", stat)
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected /proc stat line %q: %v", stat, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100), nil
}

func TestParseStatCPU(t *testing.T) {
	// A name with spaces and a parenthesis, 150 + 25 ticks.
	line := "4242 (bits job) x)) S 1 4242 4242 0 -1 4194560 900 0 0 0 150 25 0 0 20 0 9 0 12345 1000000 500"
	if got, err := parseStatCPU(line); err != nil || got != 1750*time.Millisecond {
		t.Errorf("parseStatCPU = %v, %v; want 1.75s", got, err)
	}
	if _, err := parseStatCPU("garbage"); err == nil {
		t.Error("parseStatCPU(garbage) succeeded")
	}
}

// needTool finds a program on PATH. A missing one skips the benchmark on a
// developer's machine and fails it in CI.
func needTool(tb testing.TB, name string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(tb, name+" is not installed (make bench installs it)")
	}
	return p
}

func skipOrFail(tb testing.TB, why string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatal(why + " (CI is set: a missing tool is a failure)")
	}
	tb.Skip(why + " (CI is unset)")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
