package netpolicy

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"
	"time"
)

// TestShaperConcurrentUse runs streams, policy changes and samples at the
// same time (for the race detector), and checks every stream gets its
// bytes and gives its place back.
func TestShaperConcurrentUse(t *testing.T) {
	s := NewShaper(25 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			l := Limits{Total: Unlimited, Class: ClassLimits{Unlimited, Kbps(100000 + i), Unlimited, Unlimited}}
			s.SetPolicy(l, i%2 == 0, 25*time.Millisecond)
			s.sample()
		}
	}()
	const each = 1 << 20
	var streams sync.WaitGroup
	for i, c := range []Class{Foreground, High, Normal, Low} {
		streams.Add(1)
		go func() {
			defer streams.Done()
			st := s.Open(Direction(i%2), c, Unlimited, c != Low) // LOW: a local copy
			defer st.Close()
			if err := st.Wait(ctx, each); err != nil {
				t.Error(err)
			}
		}()
	}
	streams.Wait()
	cancel()
	wg.Wait()
	if s.streams != [2]int{} {
		t.Errorf("streams still open after Close: %v", s.streams)
	}
}

// TestStreamWaitEndsWithItsContext: a wait longer than the context's life
// returns the context's error when it ends, rather than sleeping it out.
func TestStreamWaitEndsWithItsContext(t *testing.T) {
	s := NewShaper(25 * time.Millisecond)
	st := s.Open(Down, Normal, 2, true) // 2 Kbps: 16 KiB takes a minute
	defer st.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Wait(ctx, chunk) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Wait returned %v, want context.Canceled", err)
	}
}

// TestUnlimitedStreamWritesWhole: with no limit anywhere, and with the
// controller not capping (slow start, or yielding off), a background
// stream passes each write on whole: cut into bursts, a fast link's bytes
// would cost a system call each 16 KiB.
func TestUnlimitedStreamWritesWhole(t *testing.T) {
	s := NewShaper(25 * time.Millisecond)
	s.SetPolicy(Limits{Total: Unlimited, Class: ClassLimits{Unlimited, Unlimited, Unlimited, Unlimited}}, true, 25*time.Millisecond)
	st := s.Open(Down, Normal, Unlimited, true)
	defer st.Close()
	var w countWrites
	const n = 8 << 20
	if _, err := st.Writer(context.Background(), &w).Write(make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	if w.calls != 1 {
		t.Errorf("an unlimited %d-byte write reached the file in %d writes, want 1", n, w.calls)
	}
}

type countWrites struct{ calls int }

func (c *countWrites) Write(p []byte) (int, error) { c.calls++; return len(p), nil }

// TestStreamWaitSeesARateRise: a transfer held back at a trickle goes on
// within a tick or two once the rate rises (others left the link), rather
// than sleeping out the wait the trickle asked for.
func TestStreamWaitSeesARateRise(t *testing.T) {
	s := NewShaper(25 * time.Millisecond)
	trickle := Limits{Total: 2, Class: ClassLimits{Unlimited, Unlimited, Unlimited, Unlimited}} // 2 Kbps: 16 KiB takes a minute
	s.SetPolicy(trickle, false, 25*time.Millisecond)
	st := s.Open(Down, Normal, Unlimited, true)
	defer st.Close()
	heldThenFreed(t, st, 2*chunk, func() { // the bucket holds one chunk
		s.SetPolicy(Limits{Total: Unlimited, Class: trickle.Class}, false, 25*time.Millisecond)
	})
}

// TestStreamLimitLiftedWhileWaiting: a transfer held back by its job's own
// limit goes on within a tick or two once the user lifts it.
func TestStreamLimitLiftedWhileWaiting(t *testing.T) {
	s := NewShaper(25 * time.Millisecond)
	st := s.Open(Down, Foreground, 2, true) // 2 Kbps: 16 KiB takes a minute
	defer st.Close()
	heldThenFreed(t, st, chunk, func() { st.SetLimit(Unlimited) })
	if r := st.Rate(); !math.IsInf(r, 1) {
		t.Errorf("Rate = %.0f after the limit was lifted, want +Inf", r)
	}
}

// heldThenFreed waits for n bytes of st, checks that the wait holds, runs
// free, and checks that the wait then ends within 5 s (not the minute the
// limit asked for).
func heldThenFreed(t *testing.T, st *Stream, n int, free func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- st.Wait(context.Background(), n) }()
	select {
	case err := <-done:
		t.Fatalf("Wait for %d bytes at 2 Kbps returned at once: %v", n, err)
	case <-time.After(300 * time.Millisecond):
	}
	free()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait still held the transfer 5 s after the limit was lifted")
	}
}
