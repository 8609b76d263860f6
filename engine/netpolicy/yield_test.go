package netpolicy

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readSeries reads a recording of the worker's samples (worker --debug,
// one row per tick: ms since start, our bytes, link bytes, delay in ns).
func readSeries(t *testing.T, path string) (at []time.Duration, samples []Sample) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var last time.Duration
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			continue
		}
		var v [4]int64
		for i, field := range strings.Split(sc.Text(), ",") {
			if v[i], err = strconv.ParseInt(field, 10, 64); err != nil {
				t.Fatalf("%s: %q: %v", path, sc.Text(), err)
			}
		}
		now := time.Duration(v[0]) * time.Millisecond
		at = append(at, now)
		samples = append(samples, Sample{Elapsed: now - last, Ours: v[1], Link: v[2], Delay: time.Duration(v[3])})
		last = now
	}
	return at, samples
}

// TestControllerOnRecordedSeries replays what a background download saw
// on a 20 Mbit/s tbf bottleneck in network namespaces: alone, then beside
// curl from 7.5 s to 15 s, then alone again. The controller must give the
// link up within a second of curl starting, keep off it while curl runs,
// and take it back within a second of curl leaving.
func TestControllerOnRecordedSeries(t *testing.T) {
	at, samples := readSeries(t, "testdata/fg-appears-and-leaves.csv")
	const (
		capacity = 2.5e6 // bytes per second: 20 Mbit/s
		appear   = 7499 * time.Millisecond
		leave    = 15099 * time.Millisecond
	)
	c := &Controller{Target: 25 * time.Millisecond}
	start := time.Unix(1e9, 0)
	rates := map[time.Duration]float64{}
	for i, s := range samples {
		rates[at[i]] = c.Update(s, start.Add(at[i]))
	}
	mean := func(from, to time.Duration) float64 {
		sum, n := 0.0, 0
		for _, now := range at {
			if now >= from && now < to {
				sum += rates[now]
				n++
			}
		}
		return sum / float64(n)
	}
	peak := func(from, to time.Duration) float64 {
		m := 0.0
		for _, now := range at {
			if now >= from && now < to {
				m = max(m, rates[now])
			}
		}
		return m
	}
	end := at[len(at)-1]
	if r := mean(3*time.Second, appear-time.Second/2); r < 0.8*capacity {
		t.Errorf("alone, the rate averaged %.0f B/s: below 80%% of the link", r)
	}
	if r := peak(appear+time.Second, leave); r > 0.1*capacity {
		t.Errorf("beside curl, from a second after it started, the rate reached %.0f B/s: above 10%% of the link", r)
	}
	if r := peak(leave, leave+time.Second); r < 0.8*capacity {
		t.Errorf("within a second of curl leaving, the rate reached only %.0f B/s: below 80%% of the link", r)
	}
	if r := mean(leave+time.Second, end); r < 0.8*capacity {
		t.Errorf("alone again, the rate averaged %.0f B/s: below 80%% of the link", r)
	}
}

func TestControllerYieldsToAnElasticFlow(t *testing.T) {
	const capacity = 2.5e6
	c := &Controller{Target: 25 * time.Millisecond}
	curl := func(now time.Duration) float64 {
		if now >= 5*time.Second {
			return math.Inf(1)
		}
		return 0
	}
	ours := simulate(c, capacity, curl, 10*time.Second)
	if alone := ours[45]; alone < 0.8*capacity {
		t.Errorf("alone for 5 s we use %.0f%% of the link", 100*alone/capacity)
	}
	for i, o := range ours[60:] { // from 1 s after the flow started
		if o > 0.1*capacity {
			t.Errorf("%.1f s after an elastic flow started we still use %.0f%% of the link", 1+float64(i)/10, 100*o/capacity)
			break
		}
	}
}

// simulate runs a controller against a link of the given capacity shared
// with others who want others(t): a crude model of TCP sharing, but
// closed-loop.
func simulate(c *Controller, capacity float64, others func(t time.Duration) float64, d time.Duration) (ours []float64) {
	start := time.Unix(1e9, 0)
	const tick = 100 * time.Millisecond
	for now := tick; now <= d; now += tick {
		// Others get what they want if we leave it, and at least a fair
		// half of the link if they want that much; we get the rest, up to
		// our rate.
		o := min(others(now), max(capacity-c.Rate(), capacity/2))
		us := min(c.Rate(), capacity-o)
		c.Update(Sample{Elapsed: tick, Ours: int64(us * tick.Seconds()), Link: int64((us + o) * tick.Seconds()), Delay: -1}, start.Add(now))
		ours = append(ours, us)
	}
	return ours
}

func TestControllerKeepsWhatAFixedRateStreamLeaves(t *testing.T) {
	const capacity = 2.5e6
	c := &Controller{Target: 25 * time.Millisecond}
	stream := func(time.Duration) float64 { return 0.1 * capacity } // a 2 Mbit/s video stream
	ours := simulate(c, capacity, stream, 20*time.Second)
	mean := 0.0
	for _, o := range ours[len(ours)-50:] {
		mean += o / 50
	}
	if mean < 0.65*capacity {
		t.Errorf("beside a stream using 10%% of the link we use %.0f%%; want at least 65%%", 100*mean/capacity)
	}
}

func TestControllerGrowsFromNothing(t *testing.T) {
	const capacity = 12.5e6 // 100 Mbit/s
	c := &Controller{Target: 25 * time.Millisecond}
	ours := simulate(c, capacity, func(time.Duration) float64 { return 0 }, 3*time.Second)
	if last := ours[len(ours)-1]; last < 0.9*capacity {
		t.Errorf("alone on the link for 3 s we use %.0f%% of it", 100*last/capacity)
	}
}

// TestControllerDelayOnly covers a bottleneck beyond our interfaces: no
// counters, only the queueing delay.
func TestControllerDelayOnly(t *testing.T) {
	c := &Controller{Target: 25 * time.Millisecond}
	start := time.Unix(1e9, 0)
	tick := 100 * time.Millisecond
	now := start
	const capacity = 2.5e6
	step := func(delay time.Duration) float64 {
		now = now.Add(tick)
		ours := min(c.Rate(), capacity)
		return c.Update(Sample{Elapsed: tick, Ours: int64(ours * tick.Seconds()), Link: -1, Delay: delay}, now)
	}
	for range 20 {
		step(5 * time.Millisecond)
	}
	high := c.Rate()
	for range 10 {
		step(100 * time.Millisecond) // someone filled the queue
	}
	if low := c.Rate(); low > 0.05*high {
		t.Errorf("a second at 4x the target delay left the rate at %.0f of %.0f", low, high)
	}
	for range 30 {
		step(5 * time.Millisecond)
	}
	if again := c.Rate(); again < 0.8*min(high, capacity) {
		t.Errorf("3 s after the queue emptied the rate is %.0f, was %.0f", again, high)
	}
}

// TestControllerSlowStartOutlivesAFirstBurst: the first tick that sees the
// link's counters may count more than ours (a handshake, a connection not
// yet watched); that is not another flow, and slow start goes on.
func TestControllerSlowStartOutlivesAFirstBurst(t *testing.T) {
	c := &Controller{Target: 25 * time.Millisecond}
	now := time.Unix(1e9, 0)
	const fast = 25 * time.Millisecond
	c.Update(Sample{Elapsed: fast, Ours: 512, Link: 4220, Delay: -1}, now.Add(fast))
	for i := 2; i <= 20; i++ {
		n := int64(3000 * i) // TCP's own slow start, and nobody else
		c.Update(Sample{Elapsed: fast, Ours: n, Link: n + n/100, Delay: -1}, now.Add(time.Duration(i)*fast))
	}
	if !c.SlowStart() {
		t.Errorf("a first tick's burst on the link ended slow start: the rate is %.0f B/s", c.Rate())
	}
}

// TestControllerSlowLinkKeepsItsShare: on a 1 Mbit/s link a packet takes
// 12 ms, so the few a TCP flow keeps queued are more than the 25 ms
// target; that is no reason to leave the link.
func TestControllerSlowLinkKeepsItsShare(t *testing.T) {
	const capacity = 125e3 // bytes per second: 1 Mbit/s
	c := &Controller{Target: 25 * time.Millisecond}
	now := time.Unix(1e9, 0)
	var ours []float64
	for range 50 {
		now = now.Add(tick)
		us := min(c.Rate(), capacity)
		c.Update(Sample{Elapsed: tick, Ours: int64(us * tick.Seconds()), Link: int64(us * tick.Seconds()), Delay: 40 * time.Millisecond}, now)
		ours = append(ours, us)
	}
	mean := 0.0
	for _, o := range ours[20:] {
		mean += o / 30
	}
	if mean < 0.85*capacity {
		t.Errorf("with three packets queued on a 1 Mbit/s link we use %.0f%% of it; want 85%% or more", 100*mean/capacity)
	}
}
