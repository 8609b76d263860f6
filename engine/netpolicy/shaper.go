package netpolicy

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/time/rate"
)

// Direction is the way bytes move: Down for downloads, Up for uploads.
type Direction int

const (
	Down Direction = iota
	Up
)

// tick is how often the shaper samples the link and adjusts the rate of
// background transfers.
const tick = 100 * time.Millisecond

// A Stream lets bytes through in steps of what its tightest limit allows
// in burstTime, within [chunk, maxChunk]: small enough that a change of
// rate takes effect quickly, large enough that a fast rate is not spent
// waking up (each step is a timer's sleep, and at 16 KiB a step the sleeps
// held a 500 MB/s link to a fraction of its rate).
const (
	chunk     = 16 << 10
	maxChunk  = 4 << 20
	burstTime = 5 * time.Millisecond
)

// setRate sets a limiter's rate, in bytes per second (+Inf: none), and the
// burst that goes with it.
func setRate(l *rate.Limiter, bps float64) {
	if math.IsInf(bps, 1) {
		// rate.Inf is the largest float, not +Inf: a limiter set to +Inf
		// would not count as unlimited, and would cut every write into
		// bursts.
		l.SetLimit(rate.Inf)
		return
	}
	l.SetLimit(rate.Limit(bps))
	l.SetBurst(int(min(max(bps*burstTime.Seconds(), chunk), maxChunk)))
}

// Shaper shares bandwidth among transfers. Every transfer gets a Stream
// that paces its bytes through up to three token buckets: its job's own
// limit, its priority's limit and the limit of all background transfers
// together (the policy's, tightened by the yield controller). FOREGROUND
// transfers and local copies pass only their job's own limit. Pacing the
// bytes a transfer reads from a connection paces the connection: its
// receive window closes and the sender slows down.
type Shaper struct {
	mu      sync.Mutex
	limits  Limits
	yield   bool
	class   [2][numClasses]*rate.Limiter
	total   [2]*rate.Limiter
	ctrl    [2]*Controller
	streams [2]int        // background network streams open, by direction
	opened  chan struct{} // a background stream opened: Run wakes up
	ours    [2]atomic.Int64
	conns   map[*net.TCPConn]*watched
	base    map[pathKey]*windowMin // smallest RTT by peer and direction
	links   map[int][2]uint64      // last interface counters, by index
	now     func() time.Time
	sampled time.Time // when the last sample read the counters

	// Trace, when set, is told of every sample and the rate it led to.
	Trace func(d Direction, s Sample, rate float64)
}

// NewShaper returns a shaper with no limits that yields to other traffic
// with the given target delay.
func NewShaper(target time.Duration) *Shaper {
	s := &Shaper{conns: map[*net.TCPConn]*watched{}, base: map[pathKey]*windowMin{}, now: time.Now, yield: true,
		opened: make(chan struct{}, 1)}
	for d := range 2 {
		s.total[d] = rate.NewLimiter(rate.Inf, chunk)
		for c := range numClasses {
			s.class[d][c] = rate.NewLimiter(rate.Inf, chunk)
		}
		s.ctrl[d] = &Controller{Target: target}
	}
	s.limits = Limits{Total: Unlimited, Class: ClassLimits{Unlimited, Unlimited, Unlimited, Unlimited}}
	return s
}

// SetPolicy puts limits in force, and turns yielding on or off with its
// target delay.
func (s *Shaper) SetPolicy(l Limits, yield bool, target time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits, s.yield = l, yield
	for d := range 2 {
		s.ctrl[d].Target = target
		for c := High; c < numClasses; c++ {
			setLimit(s.class[d][c], l.Class[c])
		}
		s.applyTotal(Direction(d))
	}
}

// applyTotal sets the background bucket of one direction: the policy's
// total, tightened by the controller while yielding.
func (s *Shaper) applyTotal(d Direction) {
	bps := math.Inf(1)
	if s.limits.Total >= 0 {
		bps = s.limits.Total.BytesPerSecond()
	}
	if s.yield && s.streams[d] > 0 {
		bps = min(bps, s.ctrl[d].Rate())
	}
	setRate(s.total[d], bps)
}

func setLimit(l *rate.Limiter, k Kbps) {
	if k < 0 {
		setRate(l, math.Inf(1))
		return
	}
	setRate(l, k.BytesPerSecond())
}

// Open starts a stream for one transfer of a job of priority c, limited
// to jobLimit of its own. Only network transfers of background jobs
// share the background budgets and are watched for yielding.
func (s *Shaper) Open(dir Direction, c Class, jobLimit Kbps, network bool) *Stream {
	st := &Stream{s: s, dir: dir, background: network && c != Foreground, own: rate.NewLimiter(rate.Inf, chunk)}
	st.SetLimit(jobLimit)
	if st.background {
		st.class, st.total = s.class[dir][c], s.total[dir]
		s.mu.Lock()
		s.streams[dir]++
		select {
		case s.opened <- struct{}{}:
		default:
		}
		s.applyTotal(dir)
		s.mu.Unlock()
	}
	return st
}

// A Stream paces one transfer's bytes and watches its connections.
type Stream struct {
	s                 *Shaper
	dir               Direction
	background        bool
	own, class, total *rate.Limiter
	closed            sync.Once

	mu    sync.Mutex
	peers []net.IP
}

// SetLimit puts the job's own limit in force, at once: the user may set,
// change or lift it while the transfer runs.
func (st *Stream) SetLimit(k Kbps) {
	unlimited := st.own.Limit() == rate.Inf
	setLimit(st.own, k)
	if unlimited && k >= 0 {
		st.own.AllowN(time.Now(), st.own.Burst()) // start with an empty bucket: no burst above the cap
	}
}

// step is how many bytes the stream lets through at once: the smallest
// burst of its limits, or anything when none applies.
func (st *Stream) step() int {
	k := math.MaxInt
	for _, l := range []*rate.Limiter{st.own, st.class, st.total} {
		if l != nil && l.Limit() != rate.Inf {
			k = min(k, l.Burst())
		}
	}
	return max(k, 1)
}

// Wait blocks until n more bytes may move, or ctx ends.
func (st *Stream) Wait(ctx context.Context, n int) error {
	for n > 0 {
		k := min(n, st.step())
		for _, l := range []*rate.Limiter{st.own, st.class, st.total} {
			if l == nil || l.Limit() == rate.Inf {
				continue
			}
			if err := take(ctx, l, k); err != nil {
				return err
			}
		}
		if st.background {
			st.s.ours[st.dir].Add(int64(k))
		}
		n -= k
	}
	return nil
}

// Rate is how many bytes per second the stream may move now: the
// tightest of its limits, +Inf when none limits it.
func (st *Stream) Rate() float64 {
	r := math.Inf(1)
	for _, l := range []*rate.Limiter{st.own, st.class, st.total} {
		if l != nil && l.Limit() != rate.Inf {
			r = min(r, float64(l.Limit()))
		}
	}
	return r
}

// take waits for k tokens of l. Unlike rate.Limiter.WaitN it waits for a
// wait longer than ctx's deadline too, and returns ctx's error when ctx
// ends first, as any blocked read would.
func take(ctx context.Context, l *rate.Limiter, k int) error {
	for b := l.Burst(); k > b && b > 0; k -= b {
		// The burst shrank since the step was chosen: a reservation
		// larger than it would never be granted.
		if err := take(ctx, l, b); err != nil {
			return err
		}
	}
	for {
		r := l.ReserveN(time.Now(), k)
		d := r.Delay()
		if d <= 0 {
			return nil
		}
		// A wait longer than a tick gives the tokens back and asks again
		// after one: the controller may raise the rate meanwhile, and a
		// reservation made at a trickle would hold the transfer for
		// seconds after the link came free.
		long := d > tick
		if long {
			r.Cancel()
			d = tick
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
			if !long {
				return nil
			}
		case <-ctx.Done():
			t.Stop()
			if !long {
				r.Cancel()
			}
			return ctx.Err()
		}
	}
}

// Writer paces the bytes written to w.
func (st *Stream) Writer(ctx context.Context, w io.Writer) io.Writer {
	return &pacedWriter{ctx: ctx, st: st, w: w}
}

type pacedWriter struct {
	ctx context.Context
	st  *Stream
	w   io.Writer
}

func (p *pacedWriter) Write(b []byte) (int, error) {
	done := 0
	for done < len(b) {
		k := min(len(b)-done, p.st.step())
		if err := p.st.Wait(p.ctx, k); err != nil {
			return done, err
		}
		n, err := p.w.Write(b[done : done+k])
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// Observe is told of each connection the transfer uses. It remembers the
// peer (the worker checks that a route to it remains) and, for background
// transfers, watches the connection's round-trip time.
func (st *Stream) Observe(c net.Conn) {
	for {
		u, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		c = u.NetConn()
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	remote, _ := tc.RemoteAddr().(*net.TCPAddr)
	local, _ := tc.LocalAddr().(*net.TCPAddr)
	if remote == nil || local == nil {
		return
	}
	st.mu.Lock()
	known := false
	for _, p := range st.peers {
		known = known || p.Equal(remote.IP)
	}
	if !known {
		st.peers = append(st.peers, remote.IP)
	}
	st.mu.Unlock()
	if !canWatch {
		return
	}
	st.s.mu.Lock()
	defer st.s.mu.Unlock()
	if !st.background {
		// A pooled connection serves whichever request comes next: once a
		// FOREGROUND transfer uses it, its bytes are other traffic.
		if w := st.s.conns[tc]; w != nil {
			w.undo()
			delete(st.s.conns, tc)
		}
		return
	}
	if st.s.conns[tc] != nil {
		return
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return
	}
	w := &watched{rc: rc, dir: st.dir, path: pathKey{remote.IP.String(), st.dir},
		iface: interfaceOf(local.IP), undo: tuneBackground(rc, st.dir)}
	if st.dir == Down {
		w.rcvbuf = minWindow
	}
	st.s.conns[tc] = w
}

// Peers returns the addresses the transfer has connected to.
func (st *Stream) Peers() []net.IP {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]net.IP(nil), st.peers...)
}

// Close ends the stream.
func (st *Stream) Close() {
	st.closed.Do(func() {
		if !st.background {
			return
		}
		s := st.s
		s.mu.Lock()
		s.streams[st.dir]--
		s.applyTotal(st.dir)
		s.mu.Unlock()
	})
}

// watched is a background connection under watch.
type watched struct {
	rc    syscall.RawConn
	dir   Direction
	path  pathKey
	iface int    // interface index; 0 when not found
	undo  func() // takes the background tuning off

	// Kept by the sampler alone.
	seen   bool   // bytes holds a reading
	bytes  uint64 // bytes the connection had moved at the last tick
	rcvbuf int    // the receive buffer set; 0: the kernel's own
}

// pathKey names a path: the peer, and the way the bytes go.
type pathKey struct {
	peer string
	dir  Direction
}

// errUnsupported says the system cannot tell what was asked.
var errUnsupported = errors.New("not supported on this system")

// interfaceOf returns the index of the interface that holds ip.
func interfaceOf(ip net.IP) int {
	ifs, err := net.Interfaces()
	if err != nil {
		return 0
	}
	for _, ifc := range ifs {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(ip) {
				return ifc.Index
			}
		}
	}
	return 0
}

// Run samples the link every tick while background transfers run, and
// sets their shared rate, until ctx ends. With none running it sleeps
// until one opens: an idle worker reads no counters.
func (s *Shaper) Run(ctx context.Context) {
	t := time.NewTicker(fastTick)
	defer t.Stop()
	s.sampled = s.now()
	for n := 1; ; n++ {
		if !s.running() {
			t.Stop()
			select {
			case <-ctx.Done():
				return
			case <-s.opened:
			}
			// Counters read before the sleep would make its traffic
			// look like one tick's.
			s.mu.Lock()
			s.links = nil
			s.mu.Unlock()
			s.sampled = s.now()
			t.Reset(fastTick)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n%int(tick/fastTick) == 0 || s.slowStarting() {
			s.sample()
		}
	}
}

// running reports whether background network streams are open.
func (s *Shaper) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streams != [2]int{}
}

// fastTick is how often the shaper samples while a controller is in slow
// start: it grows fast then, and must see the first queue early.
const fastTick = 25 * time.Millisecond

// slowStarting reports whether background transfers run in a direction
// whose controller is still looking for the link's capacity.
func (s *Shaper) slowStarting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for d := range 2 {
		if s.streams[d] > 0 && s.yield && s.ctrl[d].SlowStart() {
			return true
		}
	}
	return false
}

// sample takes one tick's measurements and feeds the controllers. The
// tick's length is measured from the last reading of the counters to this
// one, not from the ticker: a reading that comes late then counts the
// longer time it covers, not a burst.
func (s *Shaper) sample() {
	s.mu.Lock()
	conns := make(map[*net.TCPConn]*watched, len(s.conns))
	for tc, w := range s.conns {
		conns[tc] = w
	}
	active := s.streams
	s.mu.Unlock()

	// What our connections moved, their queueing delay, and the
	// interfaces they use, by direction.
	var wire [2]int64
	var fresh [2]bool
	delay := [2]time.Duration{-1, -1}
	ifaces := [2]map[int]bool{{}, {}}
	var dead []*net.TCPConn
	for tc, w := range conns {
		rtt, bytes, err := tcpStats(w.rc, w.dir)
		if err != nil {
			if err != errUnsupported {
				dead = append(dead, tc) // closed
			}
			continue
		}
		moved := int64(bytes - w.bytes)
		if !w.seen {
			moved = 0
			fresh[w.dir] = true
		}
		wire[w.dir] += moved
		w.bytes, w.seen = bytes, true
		if w.iface != 0 {
			ifaces[w.dir][w.iface] = true
		}
		// The kernel's estimate only moves while data flows: an idle
		// connection's would be stale.
		if rtt <= 0 || moved == 0 {
			continue
		}
		s.mu.Lock()
		b := s.base[w.path]
		if b == nil {
			b = &windowMin{}
			s.base[w.path] = b
		}
		s.mu.Unlock()
		b.add(s.sampled, rtt) // minute buckets: the last reading's time will do
		delay[w.dir] = max(delay[w.dir], rtt-b.min(s.sampled))
	}

	counters, err := linkCounters()
	now := s.now()
	elapsed := now.Sub(s.sampled)
	s.sampled = now
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tc := range dead {
		delete(s.conns, tc)
	}
	for d := range 2 {
		// Ours is what reached our sockets, which runs ahead of what the
		// transfers took while the kernel buffers fill.
		ours := max(wire[d], s.ours[d].Swap(0))
		if active[d] == 0 {
			continue
		}
		link := int64(-1)
		if err == nil && len(ifaces[d]) > 0 {
			link = 0
			for i := range ifaces[d] {
				if prev, ok := s.links[i]; ok {
					link += int64(counters[i][d] - prev[d])
				} else {
					link = -1 // a first reading: nothing to compare yet
					break
				}
			}
		}
		smp := Sample{Elapsed: elapsed, Ours: ours, Link: link, Delay: delay[d], NewConn: fresh[d]}
		r := s.ctrl[d].Update(smp, now)
		s.applyTotal(Direction(d))
		if s.Trace != nil {
			s.Trace(Direction(d), smp, r)
		}
	}
	if err == nil {
		s.links = counters
	}
	s.sizeWindows(conns, now)
	for p, b := range s.base {
		if b.min(now) == 0 {
			delete(s.base, p) // no sample in ten minutes: a path no longer used
		}
	}
}

// slowWindowGain is how far ahead of the throughput seen a background
// download's window grows in slow start.
const slowWindowGain = 2

// minWindow and maxWindow bound the receive buffer a background download
// gets; a FOREGROUND transfer that takes over its pooled connection gets
// maxWindow (the kernel caps both at net.core.rmem_max). minWindow is a
// few packets: 64 KiB, half a second at 1 Mbit/s, let the sender fill a
// slow bottleneck's queue whatever the rate; 8 KiB kept the queue short
// but made a yielding download's trickle add to a foreground flow's queue
// (measured: BenchmarkRamp, BenchmarkYield).
const (
	minWindow = 16 << 10
	maxWindow = 16 << 20
)

// sizeWindows gives each background download connection a receive buffer
// for the rate background downloads may use over the path's base round
// trip plus the target delay. Left to the kernel, the buffer grows
// with the round trip, queue included: a sender that fills queues (cubic)
// then keeps a queue as deep as the window, and the window grows with the
// queue. Sized from the base round trip, the queue we cause stays near the
// target. The buffer only grows: shrinking it below what the server may
// already have in flight would drop packets.
func (s *Shaper) sizeWindows(conns map[*net.TCPConn]*watched, now time.Time) {
	bps := float64(s.total[Down].Limit())
	if s.ctrl[Down].SlowStart() {
		// No queue seen yet, so no rate to size for: the window grows
		// ahead of what arrives, by slowWindowGain each tick, as the
		// kernel's autotuning would, and stays the shaper's to size
		// once a queue forms. (Left to autotuning, it would have grown
		// with the queue, past what the shaper could take back.)
		bps = slowWindowGain * s.ctrl[Down].Seen()
	}
	for _, w := range conns {
		b := s.base[w.path]
		if w.dir != Down || !w.seen || b == nil {
			continue
		}
		want := maxWindow
		if !math.IsInf(bps, 1) {
			want = int(min(bps*(b.min(now)+s.ctrl[Down].Target).Seconds(), maxWindow))
		}
		want = max(want, minWindow)
		if want > w.rcvbuf*11/10 {
			setReceiveBuffer(w.rc, want)
			w.rcvbuf = want
		}
	}
}

// windowMin keeps the smallest round-trip time seen on a path in the last
// ten minutes, in buckets of a minute, as LEDBAT keeps its base delay: a
// route that changes is learnt within ten minutes.
type windowMin struct {
	buckets [10]struct {
		at  int64 // Unix minute
		min time.Duration
	}
}

func (w *windowMin) add(now time.Time, v time.Duration) {
	m := now.Unix() / 60
	b := &w.buckets[m%int64(len(w.buckets))]
	if b.at != m || b.min == 0 {
		b.at, b.min = m, v
	}
	b.min = min(b.min, v)
}

func (w *windowMin) min(now time.Time) time.Duration {
	m := now.Unix() / 60
	var out time.Duration
	for _, b := range w.buckets {
		if b.min > 0 && m-b.at < int64(len(w.buckets)) && (out == 0 || b.min < out) {
			out = b.min
		}
	}
	return out
}
