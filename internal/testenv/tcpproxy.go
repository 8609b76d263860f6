package testenv

// This file is a TCP proxy for faults below HTTP: it cuts connections at
// chosen points of the client's byte stream, and holds that stream at a
// limit until the test raises it, so a test can act (kill a process,
// suspend a job) while a transfer is known to be in the middle.

import (
	"io"
	"net"
	"slices"
	"sync"
	"testing"
)

// A TCPProxy forwards connections from a loopback port to a target
// address. Bytes from clients to the target are counted across all
// connections; Hold and CutAt act on that count. The test's cleanup stops
// it and closes every connection.
type TCPProxy struct {
	ln     net.Listener
	target string

	mu        sync.Mutex
	cond      *sync.Cond
	forwarded int64   // client bytes written to the target, all connections
	limit     int64   // < 0: none; else forwarded stops here until raised
	waiting   int     // connections waiting at limit
	cuts      []int64 // counts at which the connection carrying them is cut
	cut       int     // connections cut so far
	closed    bool
	conns     map[net.Conn]bool
}

// NewTCPProxy starts a proxy to target (host:port).
func NewTCPProxy(tb testing.TB, target string) *TCPProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &TCPProxy{ln: ln, target: target, limit: -1, conns: map[net.Conn]bool{}}
	p.cond = sync.NewCond(&p.mu)
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *TCPProxy) Addr() string { return p.ln.Addr().String() }

// Hold lets client bytes through until limit bytes have been forwarded in
// all; further bytes wait until a later Hold raises the limit. A negative
// limit lets everything through.
func (p *TCPProxy) Hold(limit int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.limit = limit
	p.cond.Broadcast()
}

// Holding reports whether a connection waits at the limit.
func (p *TCPProxy) Holding() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting > 0
}

// CutAt makes the proxy close the connection that carries the client's
// stream to each of these counts (of forwarded bytes, all connections
// together), both ways, right after forwarding the byte before it.
func (p *TCPProxy) CutAt(counts ...int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cuts = append(p.cuts, counts...)
	slices.Sort(p.cuts)
}

// Forwarded is how many client bytes reached the target so far.
func (p *TCPProxy) Forwarded() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.forwarded
}

// Cuts is how many connections CutAt has cut so far.
func (p *TCPProxy) Cuts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

func (p *TCPProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *TCPProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

// track remembers an open connection; false when the proxy is closed.
func (p *TCPProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = true
	return true
}

func (p *TCPProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *TCPProxy) serve(client net.Conn) {
	if !p.track(client) {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		p.untrack(client) // as a dead server would: the client sees the connection end
		return
	}
	if !p.track(server) {
		p.untrack(client)
		return
	}
	go func() {
		io.Copy(client, server)
		p.untrack(client, server)
	}()
	p.forward(client, server)
	p.untrack(client, server)
}

// forward copies the client's bytes to the server under the hold and the
// cuts, and returns when either side ends or a cut falls.
func (p *TCPProxy) forward(client, server net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		for b := buf[:n]; len(b) > 0; {
			k, cut, ok := p.take(int64(len(b)))
			if !ok {
				return
			}
			if _, err := server.Write(b[:k]); err != nil {
				return
			}
			if cut {
				return
			}
			b = b[k:]
		}
		if err != nil {
			return
		}
	}
}

// take waits until some of n bytes may be forwarded and counts them: how
// many, whether a cut falls right after them, and false when the proxy
// closed.
func (p *TCPProxy) take(n int64) (int64, bool, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.limit >= 0 && p.forwarded >= p.limit && !p.closed {
		p.waiting++
		p.cond.Wait()
		p.waiting--
	}
	if p.closed {
		return 0, false, false
	}
	if p.limit >= 0 {
		n = min(n, p.limit-p.forwarded)
	}
	cut := false
	if len(p.cuts) > 0 && p.forwarded+n >= p.cuts[0] {
		n, cut = p.cuts[0]-p.forwarded, true
		p.cuts = p.cuts[1:]
		p.cut++
	}
	p.forwarded += n
	return n, cut, true
}
