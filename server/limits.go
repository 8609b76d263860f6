package server

import (
	"bits/hresult"
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Create-Session past a limit is answered 503 with Retry-After, which BITS
// clients take as a transient error and retry. IIS documents no refusal:
// its cleanup task deletes sessions past BITSNumberOfSessionsLimit, which
// can drop an upload under way; refusing the new one loses nothing.
const (
	// limitRetryAfter is the wait asked for at a limit on open sessions:
	// when a place frees is unknown, so a minute, shorter than a BITS
	// job's default retry delay (10 minutes).
	limitRetryAfter = time.Minute
)

// sessionLimits counts the open sessions, in all and per client, and
// paces each client's new sessions with a token bucket. It lives in
// memory: the sweep at start fills it from the records on disk, and every
// sweep brings it back in line with them.
type sessionLimits struct {
	maxTotal     int           // 0: no limit
	maxPerClient int           // 0: no limit
	interval     time.Duration // earns a client one new session; 0: no rate limit
	burst        int           // most new sessions of a client at once
	timeout      time.Duration // sessions idle this long have expired

	mu        sync.Mutex
	open      map[string]*countedSession // by session key
	perClient map[string]int
	// paid is, per client, the instant up to which its sessions so far
	// are paid for at one interval each; as in pacer, credit builds up
	// to burst intervals. A client missing has its full burst.
	paid    map[string]time.Time
	pruneAt int    // look for clients with their full burst to drop when paid has this many
	gen     uint64 // sweeps begun
}

// A countedSession is a live session as the limits see it.
type countedSession struct {
	client  string
	updated time.Time // its last progress
	gen     uint64    // the sweep that last found it, or that was under way when it changed
}

// minPaidClients is how many clients paid holds before it is pruned.
const minPaidClients = 1024

func newSessionLimits(cfg *Config) *sessionLimits {
	l := &sessionLimits{
		maxTotal:     cfg.MaxSessions,
		maxPerClient: cfg.MaxSessionsPerClient,
		burst:        cfg.SessionBurst,
		timeout:      cfg.SessionTimeout,
		open:         map[string]*countedSession{},
		perClient:    map[string]int{},
		paid:         map[string]time.Time{},
		pruneAt:      minPaidClients,
	}
	if cfg.SessionRate > 0 {
		l.interval = time.Duration(math.Round(float64(time.Second) / cfg.SessionRate))
	}
	return l
}

// clientOf names whom a request counts against: its user, or without
// authentication its IP address. An IPv6 host usually holds a whole /64,
// so the /64 is one client.
func clientOf(r *http.Request, user string) string {
	if user != "" {
		return "user " + user
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return "address " + host
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return "ip " + p.String()
	}
	return "ip " + ip.String()
}

// admit counts a new session of client, or refuses it when the client
// creates sessions too fast or a limit on open sessions is reached.
// Refused by a limit, it has still spent a token: a client that keeps
// asking at its limit is slowed down too.
func (l *sessionLimits) admit(key, client string, now time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if wait, ok := l.take(client, now); !ok {
		return busy(wait, "creating sessions too fast")
	}
	if l.full(client) {
		// Expired sessions not yet swept away do not count.
		l.forget(func(o *countedSession) bool { return now.Sub(o.updated) > l.timeout })
		if l.full(client) {
			return busy(limitRetryAfter, "too many open sessions")
		}
	}
	l.add(key, &countedSession{client: client, updated: now, gen: l.gen})
	return nil
}

// atLimit reports whether client's next session would be refused for the
// open sessions (not for the rate).
func (l *sessionLimits) atLimit(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.full(client)
}

func (l *sessionLimits) full(client string) bool {
	return l.maxTotal > 0 && len(l.open) >= l.maxTotal ||
		l.maxPerClient > 0 && l.perClient[client] >= l.maxPerClient
}

// touch records a session's progress. Its record is on disk by then, so a
// sweep under way counts it as found.
func (l *sessionLimits) touch(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if o := l.open[key]; o != nil {
		o.updated, o.gen = now, l.gen
	}
}

// release stops counting a session: it is finished, expired or gone.
func (l *sessionLimits) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.remove(key)
}

// beginSweep starts a sweep and returns its number, for found and
// endSweep.
func (l *sessionLimits) beginSweep() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gen++
	return l.gen
}

// found counts a live session the sweep found on disk, from its record.
func (l *sessionLimits) found(key, client string, updated time.Time, gen uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if o := l.open[key]; o != nil {
		o.updated, o.gen = updated, max(o.gen, gen) // a later sweep may have found it first
		return
	}
	l.add(key, &countedSession{client: client, updated: updated, gen: gen})
}

// endSweep stops counting the sessions that the sweep gen did not find
// and that did not change while it ran: someone deleted them.
func (l *sessionLimits) endSweep(gen uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forget(func(o *countedSession) bool { return o.gen < gen })
}

// counts returns how many sessions are counted, in all and for client.
func (l *sessionLimits) counts(client string) (total, ofClient int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.open), l.perClient[client]
}

func (l *sessionLimits) add(key string, o *countedSession) {
	l.open[key] = o
	l.perClient[o.client]++
}

func (l *sessionLimits) remove(key string) {
	o := l.open[key]
	if o == nil {
		return
	}
	delete(l.open, key)
	if l.perClient[o.client]--; l.perClient[o.client] <= 0 {
		delete(l.perClient, o.client)
	}
}

func (l *sessionLimits) forget(drop func(*countedSession) bool) {
	for key, o := range l.open {
		if drop(o) {
			l.remove(key)
		}
	}
}

// take spends one of client's tokens, or says how long until it has one.
// Clients back to their full burst are dropped, so that the map holds
// only those seen lately, however many addresses come and go.
func (l *sessionLimits) take(client string, now time.Time) (time.Duration, bool) {
	if l.interval == 0 {
		return 0, true
	}
	earliest := now.Add(-time.Duration(l.burst) * l.interval)
	if len(l.paid) >= l.pruneAt {
		for c, paid := range l.paid {
			if !paid.After(earliest) {
				delete(l.paid, c)
			}
		}
		l.pruneAt = max(2*len(l.paid), minPaidClients)
	}
	paid := l.paid[client]
	if paid.Before(earliest) {
		paid = earliest
	}
	if next := paid.Add(l.interval); next.After(now) {
		return next.Sub(now), false
	}
	l.paid[client] = paid.Add(l.interval)
	return 0, true
}

// busy is the refusal of a Create-Session past a limit.
func busy(wait time.Duration, why string) *refusal {
	e := refuse(http.StatusServiceUnavailable, hresult.HTTP(http.StatusServiceUnavailable), why)
	e.retryAfter = wait
	return e
}
