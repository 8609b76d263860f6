package netpolicy

import (
	"math"
	"time"
)

// A Sample is what one tick of the monitor saw in one direction of the
// link (downloads or uploads).
type Sample struct {
	Elapsed time.Duration
	// Ours is the bytes background transfers moved in the tick, as their
	// connections count them.
	Ours int64
	// Link is the bytes that crossed the interfaces they use, the same
	// way, from anyone; -1 when the system does not say.
	Link int64
	// Delay is the queueing delay on the path of our busiest connection:
	// its round-trip time now less the smallest seen on that path; -1 when
	// there is no sample.
	Delay time.Duration
	// NewConn: one of our connections was first seen in this tick, so
	// what it moved is in Link but not in Ours.
	NewConn bool
}

// Controller decides how fast background transfers may go in one
// direction so that they use only what other traffic leaves idle. It
// listens to two signals:
//
//   - Other traffic on our interfaces (the link's throughput less ours).
//     While there is some, our ceiling is what the link carries less what
//     others use less some headroom; and while the link is full we also
//     back off by a factor every tick, so elastic flows (which grow into
//     whatever they are given) get the link within about a second.
//   - Queueing delay, as LEDBAT measures it: above the target our rate
//     shrinks in proportion. This catches a bottleneck further away,
//     whose other users our interfaces do not see.
//
// Until the first of these signals the controller sets no cap at all
// (slow start): TCP's own slow start finds an idle path's capacity, at any
// speed, within a few round trips, and the shaper samples every 25 ms then,
// so the first queue or the first other flow is seen early. This is what
// LEDBAT (RFC 6817) does too. After the first signal, with neither it
// grows quickly: straight back to most of the link's known capacity when
// others leave, then 15% a tick. A controller with no background transfer
// for forgetAfter starts again from slow start.
type Controller struct {
	// Target is the queueing delay we may add.
	Target time.Duration

	rate       float64 // bytes per second we may use now; 0 until the first sample
	ours       float64 // smoothed throughputs, bytes per second
	link       float64
	capacity   windowMax // the link's throughput when it was full
	yielded    bool      // the rate is low because others used the link
	linkKnown  bool
	probing    bool          // past slow start: the first sign of anyone else ends it
	othersPrev float64       // others' smoothed throughput at the last tick
	othersFor  time.Duration // how long others have been seen without a break
	oursNow    float64       // ours in the last tick alone
	last       time.Time
}

const (
	// smoothing is the time constant of the throughput averages: long
	// enough to even out bursts, short enough to react within a second.
	smoothing = 150 * time.Millisecond
	// headroom is the share of the link left free for others to grow into.
	headroom = 0.15
	// backoff is the factor per 100 ms by which we shrink while others
	// use the link and it is full: from the whole link to a trickle in
	// about half a second.
	backoff = 0.5
	// growth is the factor per 100 ms by which we grow with no sign of
	// anyone else, once slow start is over.
	growth = 1.15
	// trickle is the share of the link we keep using under load, as BITS
	// does, so the connection stays alive and the rate is measured.
	trickle = 0.01
	// drainTime is how soon a queue beyond the target should drain once
	// we slow down for it.
	drainTime = 250 * time.Millisecond
	// minQueue is the least queue, in bytes, a window-based flow keeps
	// at a bottleneck: a few full packets.
	minQueue = 4 * 1500.0
	// minRate is the smallest rate, whatever the link: 16 Kbit/s.
	minRate = 2000.0
	// forgetAfter is how long without background transfers makes the
	// controller forget the link: its capacity window's length.
	forgetAfter = 30 * time.Second
)

// SlowStart reports whether the controller is still looking for the
// link's capacity: it has seen neither a queue nor anyone else.
func (c *Controller) SlowStart() bool { return !c.probing }

// Seen is the throughput background transfers reached lately, in bytes
// per second: the larger of the last tick's and the smoothed one.
func (c *Controller) Seen() float64 { return max(c.ours, c.oursNow) }

// Rate returns the rate decided by the last Update, in bytes per second;
// +Inf in slow start.
func (c *Controller) Rate() float64 {
	if !c.probing {
		return math.Inf(1)
	}
	return c.rate
}

// Update takes one tick's sample and returns the rate to use until the
// next, in bytes per second.
func (c *Controller) Update(s Sample, now time.Time) float64 {
	dt := s.Elapsed.Seconds()
	if dt <= 0 {
		return c.Rate()
	}
	if !c.last.IsZero() && now.Sub(c.last) > forgetAfter {
		*c = Controller{Target: c.Target}
	}
	c.last = now
	ticks := s.Elapsed.Seconds() / 0.1 // factors are per 100 ms
	alpha := 1 - math.Exp(-s.Elapsed.Seconds()/smoothing.Seconds())
	ours := float64(s.Ours) / dt
	c.oursNow = ours
	if s.Link >= 0 {
		link := float64(s.Link) / dt
		if !c.linkKnown {
			// Both averages start from ours: one that had run longer
			// would show others where there are none, and a first
			// sample's difference (a handshake, a connection not yet
			// watched) would stay in the average for several ticks.
			// Others show within a few ticks.
			c.link, c.ours, c.linkKnown = ours, ours, true
		}
		c.link += alpha * (link - c.link)
	} else {
		c.linkKnown = false
	}
	c.ours += alpha * (ours - c.ours)
	// The capacity comes from full ticks only: the short ones of slow
	// start see bursts (a tbf bucket, a window opening) that would make a
	// full link look as if it had room.
	switch {
	case s.Elapsed < tick*3/4:
	case c.linkKnown:
		c.capacity.add(now, c.link)
	default:
		c.capacity.add(now, c.ours)
	}
	capacity := c.capacity.max(now)
	if capacity == 0 {
		capacity = max(c.link, c.ours) // no full tick yet
	}
	floor := max(minRate, trickle*capacity)

	// Others: what crosses the link that is not ours, beyond the few
	// percent that headers and timing differences leave.
	others := 0.0
	if c.linkKnown {
		others = max(0, c.link-1.05*c.ours)
	}
	threshold := max(0.05*capacity, 12500)
	othersActive := others > threshold
	// The queue we may add: the target, or a few packets where the link
	// is so slow that they take longer (a TCP flow cannot do with less).
	target := c.Target
	if capacity > 0 {
		target = max(target, time.Duration(minQueue/capacity*float64(time.Second)))
	}
	congested := s.Delay >= 0 && s.Delay > target
	queueing := s.Delay >= 0 && s.Delay > target/2

	// Slow start ends for others seen in this tick's own counters as well
	// as on average, for a whole tick: a few packets more on the link than
	// in ours (a handshake, headers, a tbf burst) are a large rate in a
	// short tick, and the average remembers them. A connection's first
	// tick is on the link's counters but not in ours: it says nothing of
	// others.
	if s.Link >= 0 && othersActive && float64(s.Link)-1.05*float64(s.Ours) > threshold*dt && !s.NewConn {
		c.othersFor += s.Elapsed
	} else {
		c.othersFor = 0
	}
	if !c.probing {
		if c.othersFor < tick && !queueing {
			c.othersPrev = others
			return c.Rate()
		}
		// A queue forms, or someone else is here: the link's capacity is
		// near. Go on from what we moved lately.
		c.probing = true
		c.rate = max(c.Seen(), floor)
	}
	switch {
	case othersActive:
		c.yielded = true
		grew := others > 1.1*c.othersPrev
		// A full link means others may want more than they get: make
		// room, down to what they leave less some headroom, and further,
		// by halves, while they keep growing into it (an elastic flow
		// does) or a queue builds. Traffic that wants only what it has (a
		// stream at a fixed rate) stops growing, and the room it leaves is
		// idle: take it back, slowly. A queue forming says the link is
		// full even when bursty counters make its capacity look larger.
		switch {
		case congested || queueing || c.link >= 0.9*capacity:
			c.rate = min(c.rate, capacity*(1-headroom)-others)
			if grew || congested || c.link >= 0.97*capacity {
				c.rate *= math.Pow(backoff, ticks)
			}
		case !grew && c.ours >= 0.7*c.rate:
			c.rate *= math.Pow(growth, ticks)
		}
	case congested:
		// The queue grows beyond the target: someone we cannot see, or
		// we ourselves, fill a bottleneck. Go below what we move by what
		// drains the excess in drainTime, as LEDBAT shrinks in proportion
		// to it: a few packets too many on a slow link cost a few
		// percent, a queue that someone else keeps full takes us down
		// to a trickle within a second.
		excess := float64(s.Delay-target) / float64(drainTime)
		c.rate = min(c.rate, c.Seen()) * math.Pow(max(0.5, 1-excess), ticks)
		c.yielded = true
	default:
		if c.yielded && capacity > 0 {
			c.rate = max(c.rate, (1-headroom)*capacity) // others left: take the link back
		}
		c.yielded = false
		// Grow only while we use what we have, so an idle allowance does
		// not pile up into a burst; and the less, the nearer the queue is
		// to the target, as LEDBAT does, so the rate settles where the
		// link is full rather than swinging across it.
		if c.ours >= 0.7*c.rate {
			room := 1.0
			if s.Delay >= 0 {
				room = 1 - float64(s.Delay)/float64(target)
			}
			c.rate *= math.Pow(growth, ticks*room)
		}
		if capacity > 0 {
			c.rate = min(c.rate, 1.25*capacity)
		}
	}
	c.othersPrev = others
	c.rate = max(c.rate, floor)
	return c.rate
}

// windowMax keeps the largest value seen in the last window, in buckets
// of a second, so an old peak is forgotten when the link gets slower.
type windowMax struct {
	buckets [30]struct {
		at  int64 // Unix second
		max float64
	}
}

func (w *windowMax) add(now time.Time, v float64) {
	sec := now.Unix()
	b := &w.buckets[sec%int64(len(w.buckets))]
	if b.at != sec {
		b.at, b.max = sec, 0
	}
	b.max = max(b.max, v)
}

func (w *windowMax) max(now time.Time) float64 {
	sec := now.Unix()
	m := 0.0
	for _, b := range w.buckets {
		if sec-b.at < int64(len(w.buckets)) {
			m = max(m, b.max)
		}
	}
	return m
}
