package testenv

// This file is a load balancer for tests of a farm of servers.

import (
	"context"
	"io"
	"net"
	nethttp "net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// A Balancer sends each request to the next live server, round robin. It
// balances requests, not connections: a BITS client keeps its connection
// open, so a TCP balancer would send every fragment of a job to one
// server. A server the test kills is taken out of rotation (MarkDead), as
// a balancer's health check would. The test's cleanup stops it.
type Balancer struct {
	mu      sync.Mutex
	targets []*url.URL
	dead    []bool
	next    int
	seen    []atomic.Int64 // fragments forwarded to each target

	inFlight, maxInFlight atomic.Int64 // requests under way
	srv                   *nethttp.Server
	addr                  string

	// trap, when set, is called with a fragment's target before it is
	// forwarded; it returns a wrapper for the body, or nil.
	trap atomic.Pointer[func(target int, r *nethttp.Request) io.ReadCloser]
}

type targetKey struct{}

// NewBalancer starts a balancer on a loopback port in front of urls.
func NewBalancer(tb testing.TB, urls ...string) *Balancer {
	tb.Helper()
	rr := &Balancer{dead: make([]bool, len(urls)), seen: make([]atomic.Int64, len(urls))}
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil {
			tb.Fatal(err)
		}
		rr.targets = append(rr.targets, pu)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			i := pr.In.Context().Value(targetKey{}).(int)
			pr.SetURL(rr.targets[i])
			pr.Out.Host = pr.In.Host
		},
		ErrorHandler: func(w nethttp.ResponseWriter, r *nethttp.Request, err error) {
			nethttp.Error(w, err.Error(), nethttp.StatusBadGateway)
		},
	}
	h := nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		defer rr.inFlight.Add(-1)
		n := rr.inFlight.Add(1)
		for m := rr.maxInFlight.Load(); n > m && !rr.maxInFlight.CompareAndSwap(m, n); m = rr.maxInFlight.Load() {
		}
		i := rr.pick()
		if strings.EqualFold(r.Header.Get("BITS-Packet-Type"), "Fragment") {
			rr.seen[i].Add(1)
			if trap := rr.trap.Load(); trap != nil {
				if body := (*trap)(i, r); body != nil {
					r.Body = body
				}
			}
		}
		proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), targetKey{}, i)))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	rr.srv = &nethttp.Server{Handler: h}
	rr.addr = ln.Addr().String()
	go rr.srv.Serve(ln)
	tb.Cleanup(func() { rr.srv.Close() })
	return rr
}

// Addr is the balancer's host:port.
func (rr *Balancer) Addr() string { return rr.addr }

func (rr *Balancer) pick() int {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for {
		i := rr.next % len(rr.targets)
		rr.next++
		if !rr.dead[i] {
			return i
		}
	}
}

// MarkDead takes target i out of rotation.
func (rr *Balancer) MarkDead(i int) {
	rr.mu.Lock()
	rr.dead[i] = true
	rr.mu.Unlock()
}

// Fragments is how many BITS fragments went to target i.
func (rr *Balancer) Fragments(i int) int64 { return rr.seen[i].Load() }

// Targets is how many servers the balancer is in front of.
func (rr *Balancer) Targets() int { return len(rr.targets) }

// MaxInFlight is the most requests under way at once since the last
// ResetMaxInFlight.
func (rr *Balancer) MaxInFlight() int64 { return rr.maxInFlight.Load() }

// ResetMaxInFlight starts counting MaxInFlight again.
func (rr *Balancer) ResetMaxInFlight() { rr.maxInFlight.Store(rr.inFlight.Load()) }

// TrapFragments calls trap with each fragment's target before it is
// forwarded; trap returns a wrapper for its body, or nil. nil removes it.
func (rr *Balancer) TrapFragments(trap func(target int, r *nethttp.Request) io.ReadCloser) {
	if trap == nil {
		rr.trap.Store(nil)
		return
	}
	rr.trap.Store(&trap)
}
