package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"bits/internal/testenv"
)

// BenchmarkYield measures what a background download does to the traffic
// it shares a link with. Two network namespaces are joined through a
// 20 Mbit/s tbf bottleneck with a deep FIFO (500 ms); bitsserver serves on
// one side, the clients run on the other. In the same run, alternating:
//
//   - fg-alone: curl downloads for 10 s on an idle link;
//   - bg-alone: the background download alone (bits: a NORMAL job; curl;
//     aria2c capped at half the link), measured over 10 s after 3 s;
//   - fg-beside: the 10 s curl download beside each background download
//     started 3 s before it.
//
// Reported: the foreground's throughput beside each background download as
// a share of its throughput alone (goal for bits: 90% or more), the
// background's share of the link when alone (goal: 85% or more), and the
// queueing delay in the bottleneck (bytes waiting, sampled every 100 ms,
// over the link's rate), alone and beside the foreground (goal: bits adds
// at most 60 ms).
func BenchmarkYield(b *testing.B) {
	curl := needTool(b, "curl")
	aria2c := needTool(b, "aria2c")
	bin := buildPrograms(b)
	const mbit = 20
	link := testenv.NewLink(b, testenv.LinkOptions{Mbit: mbit, Queue: 500 * time.Millisecond, Congestion: "cubic"})
	linkRate := float64(mbit) * 1e6 / 8
	root := b.TempDir()
	for _, name := range []string{"fg.bin", "bg.bin"} {
		f, err := os.Create(filepath.Join(root, name))
		if err != nil {
			b.Fatal(err)
		}
		f.Truncate(8 << 30) // sparse: the disk is not what is measured
		f.Close()
	}
	base := startServerIn(b, link, bin, root)

	backgrounds := []struct {
		name  string
		start func(dir string) (stop func())
	}{
		{"bits", func(dir string) func() { return startBitsJob(b, link, bin, base+"/bg.bin", dir) }},
		{"curl", func(dir string) func() {
			return startIn(b, link, curl, "-s", "--noproxy", "*", "-o", filepath.Join(dir, "bg.bin"), base+"/bg.bin")
		}},
		{"aria2c", func(dir string) func() {
			return startIn(b, link, aria2c, "-q", "--max-download-limit="+strconv.Itoa(int(linkRate/2)),
				"--file-allocation=none", "--allow-overwrite=true", "-d", dir, "-o", "bg.bin", base+"/bg.bin")
		}},
	}
	results := map[string][]float64{}
	add := func(k string, v float64) { results[k] = append(results[k], v) }
	for round := range rounds {
		fg, fgDelay := foreground(b, link, curl, base+"/fg.bin")
		add("fg-alone-Mbit/s", fg*8/1e6)
		add("fg-alone-delay-ms", fgDelay)
		b.Logf("round %d: curl alone %.2f Mbit/s, queueing delay %.0f ms", round+1, fg*8/1e6, fgDelay)
		for _, bg := range backgrounds {
			dir := b.TempDir()
			stop := bg.start(dir)
			waitGrowing(b, dir)
			time.Sleep(3 * time.Second) // the background settles: part of the measurement, not a wait for an event
			share, delay := growth(b, link, dir, 10*time.Second)
			beside, besideDelay := foreground(b, link, curl, base+"/fg.bin")
			stop()
			add(bg.name+"-alone-share", share/linkRate)
			add(bg.name+"-alone-delay-ms", delay)
			add("fg-kept-beside-"+bg.name, beside/fg)
			add("delay-ms-beside-"+bg.name, besideDelay)
			b.Logf("round %d: %s alone %.0f%% of the link, queueing delay %.0f ms; curl beside it kept %.0f%% of its rate, queueing delay %.0f ms",
				round+1, bg.name, 100*share/linkRate, delay, 100*beside/fg, besideDelay)
		}
	}
	b.ReportMetric(0, "ns/op")
	for _, k := range []string{"fg-alone-Mbit/s", "fg-alone-delay-ms",
		"bits-alone-share", "bits-alone-delay-ms", "fg-kept-beside-bits", "delay-ms-beside-bits",
		"curl-alone-share", "fg-kept-beside-curl", "delay-ms-beside-curl",
		"aria2c-alone-share", "fg-kept-beside-aria2c", "delay-ms-beside-aria2c"} {
		b.ReportMetric(median(results[k]), k)
	}
}

// startServerIn runs bitsserver on the link's server side.
func startServerIn(tb testing.TB, l *testenv.Link, bin, root string) string {
	tb.Helper()
	addr := l.ServerIP + ":8080"
	cmd := l.Command(l.Server, filepath.Join(bin, "bitsserver"), "-root", root, "-listen", addr)
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || !strings.HasPrefix(line, "listening on") {
		tb.Fatalf("bitsserver printed %q (%v)", line, err)
	}
	go io.Copy(io.Discard, out)
	return "http://" + addr
}

// startIn starts a program on the link's client side and returns what
// stops it.
func startIn(tb testing.TB, l *testenv.Link, name string, args ...string) func() {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := l.CommandContext(ctx, l.Client, name, args...)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	return func() { cancel(); cmd.Wait() }
}

// startBitsJob starts a NORMAL download job with bitsadmin on the link's
// client side (its worker runs there too) and returns what cancels it.
func startBitsJob(tb testing.TB, l *testenv.Link, bin, url, dir string) func() {
	tb.Helper()
	home := tb.TempDir()
	env := append(os.Environ(), "BITS_HOME="+home, "BITS_POLICY="+filepath.Join(home, "none.conf"), "BITS_WORKER_IDLE=5s",
		"BITS_WORKER_DEBUG=1")
	run := func(args ...string) string {
		cmd := l.Command(l.Client, filepath.Join(bin, "bitsadmin"), args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			tb.Fatalf("bitsadmin %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	job := run("/rawreturn", "/create", "background")
	run("/addfile", job, url, filepath.Join(dir, "bg.bin"))
	run("/resume", job)
	return func() {
		run("/cancel", job)
		if os.Getenv("BITS_BENCH_LOG") != "" {
			log, _ := os.ReadFile(filepath.Join(home, "worker.log"))
			os.WriteFile(os.Getenv("BITS_BENCH_LOG"), log, 0o644)
		}
	}
}

// foreground runs curl for 10 s and returns its throughput in bytes per
// second and the mean queueing delay meanwhile.
func foreground(tb testing.TB, l *testenv.Link, curl, url string) (rate, delayMS float64) {
	tb.Helper()
	cmd := l.Command(l.Client, curl, "-s", "--noproxy", "*", "-o", "/dev/null", "--max-time", "10",
		"-w", "%{size_download} %{time_total}", url)
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	delays := make(chan float64, 1)
	go func() { delays <- meanDelay(l, done) }()
	cmd.Wait() // curl ends itself after 10 s: --max-time
	close(done)
	var n, secs float64
	if _, err := fmt.Sscan(out.String(), &n, &secs); err != nil || secs <= 0 {
		tb.Fatalf("curl printed %q: %v", out.String(), err)
	}
	return n / secs, <-delays
}

// growth measures how fast the one file in dir grows over d, and the mean
// queueing delay meanwhile.
func growth(tb testing.TB, l *testenv.Link, dir string, d time.Duration) (rate, delayMS float64) {
	tb.Helper()
	done := make(chan struct{})
	delays := make(chan float64, 1)
	go func() { delays <- meanDelay(l, done) }()
	from, start := dirBytes(dir), time.Now()
	time.Sleep(d) // the measurement window
	rate = float64(dirBytes(dir)-from) / time.Since(start).Seconds()
	close(done)
	return rate, <-delays
}

// waitGrowing waits, at most a minute, until a download has written to dir.
func waitGrowing(tb testing.TB, dir string) {
	tb.Helper()
	testenv.Eventually(tb, "the background download's first bytes", func() bool { return dirBytes(dir) > 0 })
}

// dirBytes is the size of the files in dir (a download's temporary file
// or its output).
func dirBytes(dir string) int64 {
	entries, _ := os.ReadDir(dir)
	var n int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// meanDelay samples the bottleneck's backlog every 100 ms until done and
// returns the mean time a byte arriving then waits: backlog over the
// link's rate.
func meanDelay(l *testenv.Link, done <-chan struct{}) float64 {
	rate := float64(l.Mbit) * 1e6 / 8
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	sum, n := 0.0, 0
	for {
		select {
		case <-done:
			if n == 0 {
				return 0
			}
			return sum / float64(n)
		case <-t.C:
			if backlog, err := l.Backlog(); err == nil {
				sum += float64(backlog) / rate * 1000
				n++
			}
		}
	}
}
