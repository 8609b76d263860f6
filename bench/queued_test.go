package bench

import (
	"net"
	"sync"
	"testing"
)

// holdConnections listens on loopback, accepts every connection and
// answers nothing until the benchmark ends: a proxy that keeps the jobs
// sent through it CONNECTING, so that the jobs behind them stay QUEUED.
func holdConnections(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().String()
}
