package engine

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestWorkerReadsOnlyWhatChanged: a worker whose jobs wait (suspended, or
// out of a retry delay) reads nothing from the store turn after turn; a
// change by another process makes it read again; and a retry time that
// comes acts from what it holds in memory. Reads are counted, not timed.
func TestWorkerReadsOnlyWhatChanged(t *testing.T) {
	t.Setenv("BITS_POLICY", filepath.Join(t.TempDir(), "none"))
	home := t.TempDir()
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	open := func() *Manager {
		m, err := Open(Options{Home: home, Now: clock, StartWorker: func(string) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	// The worker's Manager and another one, as another process would be.
	worker, other := open(), open()
	ctx := context.Background()

	// A port that refuses connections: the job fails and waits to retry.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/f"
	ln.Close()

	dir := t.TempDir()
	var suspended []string
	for i := range 50 {
		j, err := other.Create(ctx, fmt.Sprint("idle ", i), Download)
		if err != nil {
			t.Fatal(err)
		}
		if err := other.AddFiles(ctx, j.ID, []FileSpec{{Remote: refused, Local: filepath.Join(dir, fmt.Sprint(i))}}); err != nil {
			t.Fatal(err)
		}
		suspended = append(suspended, j.ID)
	}
	failing := suspended[0]
	if err := other.Resume(ctx, failing); err != nil {
		t.Fatal(err)
	}

	tick := make(chan time.Time)
	turned := make(chan int)
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- RunWorker(wctx, worker, WorkerOptions{IdleTimeout: NeverIdle, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			tick: tick, turned: func(running int) { turned <- running }})
	}()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	// turn makes the worker take one more turn, waits for it to end and
	// says how many jobs are still running.
	turn := func() (running int) {
		t.Helper()
		select {
		case tick <- time.Now():
		case err := <-done:
			t.Fatalf("worker ended: %v", err)
		}
		return <-turned
	}
	// waitErrors turns until the failing job has failed n times and its
	// runner has ended: a runner that ends makes the worker read again.
	waitErrors := func(n int) {
		t.Helper()
		for range 200 {
			running := turn()
			j, err := other.Get(ctx, failing)
			if err != nil {
				t.Fatal(err)
			}
			if j.State == TransientError && j.ErrorCount == n && running == 0 {
				return
			}
		}
		t.Fatalf("the job never failed %d times", n)
	}
	waitErrors(1)
	turn() // the one that reads what the failure wrote

	quiet := worker.store.Transactions()
	for range 5 {
		turn()
	}
	if n := worker.store.Transactions() - quiet; n != 0 {
		t.Fatalf("the worker ran %d store transactions in 5 turns with nothing changed; want 0", n)
	}

	desc := "changed"
	if err := other.Set(ctx, suspended[1], Props{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	turn()
	if worker.store.Transactions() == quiet {
		t.Fatal("the worker read nothing after another process changed a job")
	}

	// The retry delay runs out: the worker retries from memory, and the
	// job fails a second time.
	mu.Lock()
	now = now.Add(DefaultMinRetryDelay + time.Second)
	mu.Unlock()
	waitErrors(2)
}
