package e2e

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

// These tests put the real binaries in network namespaces joined by a veth
// pair with a tbf bottleneck: bitsserver on the server side, bitsadmin,
// bitsjob, their worker and curl on the client side. They need root.

const linkMbit = 20

// linkBytes is the bottleneck's rate in bytes per second.
const linkBytes = linkMbit * 1e6 / 8

// netSetup is a link with a bitsserver on its server side serving root,
// and a user on its client side.
type netSetup struct {
	link *testenv.Link
	root string // the server's files
	up   string // where its uploads under /up land
	base string // http://server:port
	u    *user
	dl   string // where the user's downloads land
}

func newNetSetup(t *testing.T, o testenv.LinkOptions) *netSetup {
	t.Helper()
	l := testenv.NewLink(t, o)
	s := &netSetup{link: l, root: t.TempDir(), up: t.TempDir(), dl: t.TempDir()}
	addr := l.ServerIP + ":8080"
	srv := l.Command(l.Server, filepath.Join(binDir, "bitsserver"), "-root", s.root, "-upload", "/up="+s.up, "-listen", addr)
	out, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on") {
		t.Fatalf("bitsserver printed %q (%v)", line, err)
	}
	go io.Copy(io.Discard, out)
	s.base = "http://" + addr
	s.u = newUser(t)
	s.u.ns = l.Client
	// The worker logs the yield controller's every decision: printed when
	// a test fails.
	s.u.env = append(s.u.env, "BITS_POLICY="+filepath.Join(t.TempDir(), "policy.conf"), "BITS_WORKER_DEBUG=1")
	return s
}

// serve puts a file of n bytes (a sparse one: zeros) on the server.
func (s *netSetup) serve(t *testing.T, name string, n int64) string {
	t.Helper()
	f, err := os.Create(filepath.Join(s.root, name))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(n); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return s.base + "/" + name
}

// download creates a resumed download job of url with the given priority.
func (s *netSetup) download(t *testing.T, url, priority string) string {
	t.Helper()
	job := strings.TrimSpace(s.u.ok("/rawreturn", "/create", "job"))
	s.u.ok("/addfile", job, url, filepath.Join(s.dl, filepath.Base(url)))
	s.u.ok("/setpriority", job, priority)
	s.u.ok("/setminretrydelay", job, "3600") // a retry on the timer would hide what the test looks for
	s.u.ok("/resume", job)
	return job
}

// received is the size of the one temporary file in the download folder.
func (s *netSetup) received(t *testing.T) int64 {
	t.Helper()
	files := testenv.TempFiles(t, s.dl)
	if len(files) != 1 {
		return 0
	}
	fi, err := os.Stat(files[0])
	if err != nil {
		return 0
	}
	return fi.Size()
}

// rate measures how fast the download's temporary file grows over d, in
// bytes per second.
func (s *netSetup) rate(t *testing.T, d time.Duration) float64 {
	t.Helper()
	from, start := s.received(t), time.Now()
	time.Sleep(d) // a measurement window, not a wait for an event
	return float64(s.received(t)-from) / time.Since(start).Seconds()
}

// TestBackgroundYieldsToForegroundTraffic: a NORMAL download takes the
// link while it is alone, gives it up within about a second when curl
// starts beside it, and takes it back within about a second when curl ends.
func TestBackgroundYieldsToForegroundTraffic(t *testing.T) {
	s := newNetSetup(t, testenv.LinkOptions{Mbit: linkMbit, Queue: 200 * time.Millisecond})
	url := s.serve(t, "background.bin", 4<<30)
	fg := s.serve(t, "foreground.bin", 4<<30)
	job := s.download(t, url, "NORMAL")
	testenv.Eventually(t, "the first bytes", func() bool { return s.received(t) > 1<<20 })

	alone := s.rate(t, 2*time.Second)
	if alone < 0.6*linkBytes {
		t.Errorf("alone, the background job took %.0f%% of the link; want at least 60%%", 100*alone/linkBytes)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	curl := s.link.CommandContext(ctx, s.link.Client, "curl", "-s", "-o", "/dev/null", "--max-time", "8",
		"-w", "%{size_download} %{time_total}", fg)
	var curlOut strings.Builder
	curl.Stdout = &curlOut
	if err := curl.Start(); err != nil {
		testenv.Missing(t, "curl: "+err.Error())
	}
	time.Sleep(1500 * time.Millisecond) // the back-off allowance the issue gives, and some
	during := s.rate(t, 4*time.Second)
	curl.Wait()
	var n, secs float64
	if _, err := fmt.Sscan(curlOut.String(), &n, &secs); err != nil || secs == 0 {
		t.Fatalf("curl printed %q", curlOut.String())
	}
	if during > 0.15*linkBytes {
		t.Errorf("beside curl the background job kept %.0f%% of the link; want at most 15%%", 100*during/linkBytes)
	}
	fgRate := n / secs
	if fgRate < 0.75*linkBytes {
		t.Errorf("curl beside the background job got %.0f%% of the link; want at least 75%%", 100*fgRate/linkBytes)
	}

	// Taken back: some one-second window in the first three after curl.
	var after []float64
	for range 3 {
		r := s.rate(t, time.Second)
		after = append(after, r)
		if r >= 0.6*linkBytes {
			break
		}
	}
	if last := after[len(after)-1]; last < 0.6*linkBytes {
		t.Errorf("after curl ended the background job took %v B/s in one-second windows; want 60%% of the link within 3 s", after)
	}
	t.Logf("share of the link: background alone %.0f%%, beside curl %.0f%%; curl %.0f%%; background after curl, by second: %v",
		100*alone/linkBytes, 100*during/linkBytes, 100*fgRate/linkBytes, percents(after))
	if t.Failed() {
		log, _ := os.ReadFile(filepath.Join(s.u.home, "worker.log"))
		t.Logf("worker log:\n%s", log)
	}
	s.u.ok("/cancel", job)
}

// TestBackgroundTakesAnIdleFastLink: on a link with no bottleneck but the
// machine itself (veth, several Gbit/s), a NORMAL job alone is not held
// back by yielding: it moves a file at least half as fast as a FOREGROUND
// job does in the same test (the benchmark, BenchmarkFastLink, holds the
// real goal, 0.85). Before the controller's slow start it crawled at a
// twentieth.
func TestBackgroundTakesAnIdleFastLink(t *testing.T) {
	s := newNetSetup(t, testenv.LinkOptions{})
	url := s.serve(t, "fast.bin", 512<<20)
	took := map[string]time.Duration{}
	for _, priority := range []string{"FOREGROUND", "NORMAL", "FOREGROUND", "NORMAL"} {
		dest := filepath.Join(s.dl, "fast-"+strings.ToLower(priority)+".bin")
		start := time.Now()
		s.u.ok("/transfer", "fast", "/priority", priority, url, dest)
		d := time.Since(start)
		if best, ok := took[priority]; !ok || d < best {
			took[priority] = d // the better of two: a disk's hiccup is not the controller's
		}
		if fi, err := os.Stat(dest); err != nil || fi.Size() != 512<<20 {
			t.Fatalf("%s: %v", dest, err)
		}
		os.Remove(dest)
	}
	ratio := took["FOREGROUND"].Seconds() / took["NORMAL"].Seconds()
	t.Logf("512 MiB: FOREGROUND %v, NORMAL %v: NORMAL at %.2f of FOREGROUND's rate", took["FOREGROUND"], took["NORMAL"], ratio)
	if ratio < 0.5 {
		t.Errorf("alone on an idle fast link, a NORMAL job moved at %.2f of a FOREGROUND job's rate; want at least 0.5", ratio)
		log, _ := os.ReadFile(filepath.Join(s.u.home, "worker.log"))
		t.Logf("worker log:\n%s", log)
	}
}

func percents(rates []float64) []string {
	var out []string
	for _, r := range rates {
		out = append(out, fmt.Sprintf("%.0f%%", 100*r/linkBytes))
	}
	return out
}

// TestBackgroundUploadYieldsToForegroundUpload: on a link shaped both
// ways, a FOREGROUND upload beside a NORMAL one takes about as long as
// alone: the background upload gives the link up. The FOREGROUND job's
// connections are other traffic to the yield controller like any other
// program's. (With YieldToOtherTraffic off, the same upload takes more
// than twice as long; yielding, 5-10 % longer on a quiet machine, up to
// two thirds with the whole test suite running beside it, so the line is
// drawn at 80 %, well short of what no yielding costs.)
func TestBackgroundUploadYieldsToForegroundUpload(t *testing.T) {
	s := newNetSetup(t, testenv.LinkOptions{Mbit: linkMbit, Queue: 200 * time.Millisecond, Upload: true})
	src := filepath.Join(t.TempDir(), "fg.bin")
	if err := os.WriteFile(src, testenv.RandomContent(12<<20, 3), 0o644); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(t.TempDir(), "bg.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Truncate(4 << 30)
	f.Close()
	upload := func(name, local, priority string) string {
		job := strings.TrimSpace(s.u.ok("/rawreturn", "/create", "/upload", name))
		s.u.ok("/addfile", job, s.base+"/up/"+name, local)
		s.u.ok("/setpriority", job, priority)
		s.u.ok("/resume", job)
		return job
	}
	timed := func(name string) time.Duration {
		start := time.Now()
		job := upload(name, src, "FOREGROUND")
		s.u.waitState(job, "TRANSFERRED")
		d := time.Since(start)
		s.u.ok("/complete", job)
		return d
	}
	alone := timed("alone.bin")

	bg := upload("bg.bin", big, "NORMAL")
	testenv.Eventually(t, "the background upload to move", func() bool { return s.u.bytesDone(bg) > 0 })
	beside := timed("beside.bin")
	s.u.ok("/cancel", bg)

	t.Logf("a 12 MiB FOREGROUND upload took %v alone and %v beside a NORMAL upload", alone.Round(time.Millisecond), beside.Round(time.Millisecond))
	if beside > alone*18/10 {
		t.Errorf("beside a background upload the foreground one took %v, %.0f%% longer than alone (%v); want at most 80%%",
			beside, 100*(beside.Seconds()/alone.Seconds()-1), alone)
	}
	if got := fileSum(t, filepath.Join(s.up, "beside.bin")); got != sum(testenv.RandomContent(12<<20, 3)) {
		t.Error("the foreground upload arrived damaged")
	}
	if t.Failed() {
		log, _ := os.ReadFile(filepath.Join(s.u.home, "worker.log"))
		t.Logf("worker log:\n%s", log)
	}
}

// TestCappedJobKeepsToItsCap: a job limited to 4 Mbit/s on a 20 Mbit/s
// link moves within 5% of that over 10 s, and no one-second window goes
// above 1.5 times it.
func TestCappedJobKeepsToItsCap(t *testing.T) {
	s := newNetSetup(t, testenv.LinkOptions{Mbit: linkMbit, Queue: 50 * time.Millisecond})
	url := s.serve(t, "capped.bin", 1<<30)
	const capKbps = 4000
	const capBytes = capKbps * 1000 / 8
	job := s.foregroundJob(t, "capped", url)
	s.setCap(t, job, capKbps)
	s.u.ok("/resume", job)
	testenv.Eventually(t, "the first bytes", func() bool { return s.received(t) > 0 })

	var sizes []int64
	start := time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for range 100 {
		<-tick.C
		sizes = append(sizes, s.received(t))
	}
	elapsed := time.Since(start).Seconds()
	total := float64(sizes[len(sizes)-1]-sizes[0]) / (elapsed - 0.1)
	if total < 0.95*capBytes || total > 1.05*capBytes {
		t.Errorf("over 10 s the capped job moved %.0f B/s; want %d ±5%%", total, capBytes)
	}
	for i := 10; i < len(sizes); i++ {
		if r := float64(sizes[i] - sizes[i-10]); r > 1.5*capBytes {
			t.Errorf("the second ending at %.1f s moved %.0f bytes: above 1.5 times the cap", float64(i)/10, r)
		}
	}
	s.u.ok("/cancel", job)
}

// foregroundJob creates a suspended FOREGROUND job that downloads url into
// the download folder as name.bin: nothing but its own cap slows it.
func (s *netSetup) foregroundJob(t *testing.T, name, url string) string {
	t.Helper()
	job := strings.TrimSpace(s.u.ok("/rawreturn", "/create", name))
	s.u.ok("/addfile", job, url, filepath.Join(s.dl, name+".bin"))
	s.u.ok("/setpriority", job, "FOREGROUND")
	return job
}

// setCap sets a job's own bandwidth limit; 0 lifts it.
func (s *netSetup) setCap(t *testing.T, job string, kbps int) {
	t.Helper()
	if out, err := s.u.command("bitsjob", "set", job, "--max-bandwidth", strconv.Itoa(kbps)).CombinedOutput(); err != nil {
		t.Fatalf("bitsjob set --max-bandwidth %d: %v\n%s", kbps, err, out)
	}
}

// TestCapChangesWhileRunning: a job's own limit, lifted and set again while
// the job runs, takes effect within a second or two each time: lifted, the
// job moves more than five times the cap; capped again, it comes back to
// the cap.
func TestCapChangesWhileRunning(t *testing.T) {
	s := newNetSetup(t, testenv.LinkOptions{Mbit: linkMbit, Queue: 50 * time.Millisecond})
	url := s.serve(t, "recapped.bin", 1<<30)
	const capKbps = 800
	const capBytes = capKbps * 1000 / 8
	job := s.foregroundJob(t, "recapped", url)
	setCap := func(kbps int) { s.setCap(t, job, kbps) }
	// rate is what the job moves over 2 s, from 2 s after now: the change
	// has that long to take effect.
	rate := func() float64 {
		time.Sleep(2 * time.Second) // the time a change may take: part of what is measured
		from, start := s.received(t), time.Now()
		time.Sleep(2 * time.Second) // the measurement window
		return float64(s.received(t)-from) / time.Since(start).Seconds()
	}
	setCap(capKbps)
	s.u.ok("/resume", job)
	testenv.Eventually(t, "the first bytes", func() bool { return s.received(t) > 0 })
	if r := rate(); r > 1.5*capBytes {
		t.Fatalf("capped at %d Kbps the job moved %.0f B/s", capKbps, r)
	}
	setCap(0)
	if r := rate(); r < 5*capBytes {
		t.Errorf("2 s after its cap of %d B/s was lifted the job moved %.0f B/s; want more than five times the cap", capBytes, r)
	}
	setCap(capKbps)
	if r := rate(); r > 1.5*capBytes {
		t.Errorf("2 s after its cap was set again the job moved %.0f B/s; want the cap, %d B/s", r, capBytes)
	}
	s.u.ok("/cancel", job)
}

// TestNetworkLossAndReturn: the client's link goes down mid-transfer; the
// job goes to TRANSIENT_ERROR with BG_E_NETWORK_DISCONNECTED, and when the
// link comes back it resumes at once (its retry delay is an hour) and
// finishes with the right content.
func TestNetworkLossAndReturn(t *testing.T) {
	s := newNetSetup(t, testenv.LinkOptions{Mbit: linkMbit, Queue: 50 * time.Millisecond})
	content := testenv.RandomContent(24<<20, 7)
	if err := os.WriteFile(filepath.Join(s.root, "lost.bin"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	job := s.download(t, s.base+"/lost.bin", "NORMAL")
	testenv.Eventually(t, "the first megabytes", func() bool { return s.received(t) > 4<<20 })

	s.link.SetClientLink(t, false)
	s.u.waitState(job, "TRANSIENT_ERROR")
	if out := s.u.ok("/geterror", job); !strings.Contains(out, "0x80200010") {
		t.Errorf("/geterror while the link is down:\n%s", out)
	}
	before := s.u.bytesDone(job)

	s.link.SetClientLink(t, true)
	testenv.Eventually(t, "the job to resume", func() bool {
		st := s.u.raw("/getstate", job)
		return st == "TRANSFERRING" || st == "TRANSFERRED"
	})
	s.u.waitState(job, "TRANSFERRED")
	if after := s.u.bytesDone(job); after != int64(len(content)) || before == 0 {
		t.Errorf("bytes: %d before the loss, %d at the end of %d", before, after, len(content))
	}
	s.u.ok("/complete", job)
	if got := fileSum(t, filepath.Join(s.dl, "lost.bin")); got != sum(content) {
		t.Error("the downloaded file differs from the server's")
	}
}
