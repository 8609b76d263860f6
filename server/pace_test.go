package server

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"
	"time"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func TestByteTime(t *testing.T) {
	for _, c := range []struct {
		n, rate int64
		want    time.Duration
	}{
		{0, 1000, 0},
		{1000, 1000, time.Second},
		{1, 3, 333333333},
		{1500, 1000, 1500 * time.Millisecond},
		{10 << 30, 1 << 30, 10 * time.Second},                  // n*1e9 overflows int64 here
		{3, 7_000_000_000, 0},                                  // under a nanosecond
		{1 << 40, 1 << 20, time.Duration(1<<20) * time.Second}, // a TiB at a MiB/s
	} {
		if got := byteTime(c.n, c.rate); got != c.want {
			t.Errorf("byteTime(%d, %d) = %v, want %v", c.n, c.rate, got, c.want)
		}
	}
}

func TestPacerReserve(t *testing.T) {
	p := newPacer(1000, 100) // 1000 B/s, 100 B (0.1 s) of credit
	steps := []struct {
		at   time.Duration // since t0
		n    int64
		wait time.Duration
	}{
		{0, 100, 0},                      // the first burst goes at once
		{0, 100, 100 * time.Millisecond}, // then each byte is earned
		{0, 300, 400 * time.Millisecond}, // reservations queue up
		{400 * time.Millisecond, 100, 100 * time.Millisecond},
		{10 * time.Second, 100, 0},                    // idle: credit is capped at the burst...
		{10 * time.Second, 50, 50 * time.Millisecond}, // ...so this one waits
		{10*time.Second + 20*time.Millisecond, 10, 40 * time.Millisecond},
	}
	for i, s := range steps {
		if got := p.reserve(t0.Add(s.at), s.n); got != s.wait {
			t.Fatalf("step %d: reserve(t0+%v, %d) = %v, want %v", i, s.at, s.n, got, s.wait)
		}
	}
}

// TestPacedWriterPace writes through a pacedWriter with a clock that
// advances only by the waits it asks for: the body must arrive whole, in
// pieces of at most a tenth of a second, and take exactly (size-burst)/rate.
func TestPacedWriterPace(t *testing.T) {
	const rate = 50_000 // piece and burst: 5000 B
	rec := httptest.NewRecorder()
	w := newPacedWriter(context.Background(), rec, rate)
	now := t0
	var waits []time.Duration
	w.now = func() time.Time { return now }
	w.wait = func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		now = now.Add(d)
		return nil
	}
	body := bytes.Repeat([]byte("0123456789"), 10_000) // 100 000 B
	for _, chunk := range [][]byte{body[:32<<10], body[32<<10 : 33<<10], body[33<<10:]} {
		if n, err := w.Write(chunk); n != len(chunk) || err != nil {
			t.Fatalf("Write(%d bytes) = %d, %v", len(chunk), n, err)
		}
	}
	if !bytes.Equal(rec.Body.Bytes(), body) {
		t.Fatalf("body differs: got %d bytes, want %d", rec.Body.Len(), len(body))
	}
	if got, want := now.Sub(t0), byteTime(int64(len(body))-5000, rate); got != want {
		t.Errorf("sending %d B at %d B/s took %v, want %v", len(body), rate, got, want)
	}
	for i, d := range waits {
		if d > 100*time.Millisecond {
			t.Errorf("wait %d is %v: pieces must take at most 100ms", i, d)
		}
	}
	if len(waits) < len(body)/5000 {
		t.Errorf("%d waits for %d B: pieces larger than 5000 B", len(waits), len(body))
	}
}

func TestPacedWriterStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := newPacedWriter(ctx, httptest.NewRecorder(), 10) // 1 B pieces, 0.1 s each
	n, err := w.Write([]byte("abcdef"))
	if err == nil || n >= 6 {
		t.Fatalf("Write after the client left = %d, %v; want a short write and an error", n, err)
	}
}
