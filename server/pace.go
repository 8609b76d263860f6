package server

import (
	"context"
	"math/bits"
	"net/http"
	"time"
)

// A pacer is a token bucket, kept as the instant up to which the bytes
// reserved so far are paid for: rate bytes earn one second, and at most
// burst bytes of credit build up while nothing is sent, so a stalled
// client cannot later receive a long run at full speed. It is pure: the
// caller passes the time in and does the waiting.
type pacer struct {
	rate  int64         // bytes per second, > 0
	burst time.Duration // most credit that builds up
	paid  time.Time     // zero: nothing reserved yet
}

func newPacer(rate, burst int64) *pacer {
	return &pacer{rate: rate, burst: byteTime(burst, rate)}
}

// reserve accounts n bytes to be sent at now and returns how long to wait
// before sending them.
func (p *pacer) reserve(now time.Time, n int64) time.Duration {
	if earliest := now.Add(-p.burst); p.paid.Before(earliest) {
		p.paid = earliest
	}
	p.paid = p.paid.Add(byteTime(n, p.rate))
	return max(p.paid.Sub(now), 0)
}

// byteTime is how long n bytes take at rate bytes per second, without
// overflowing where n*1e9 would (past 9 GB).
func byteTime(n, rate int64) time.Duration {
	sec, rem := n/rate, n%rate
	hi, lo := bits.Mul64(uint64(rem), uint64(time.Second))
	frac, _ := bits.Div64(hi, lo, uint64(rate)) // hi < rate since rem < rate
	return time.Duration(sec)*time.Second + time.Duration(frac)
}

// A pacedWriter sends a response body at a fixed rate, in pieces small
// enough that the stream stays smooth (each takes at most a tenth of a
// second). It deliberately hides the ResponseWriter's ReadFrom, which
// would send the file in one go.
type pacedWriter struct {
	http.ResponseWriter
	ctx   context.Context // the request's: a client that leaves stops the wait
	p     *pacer
	piece int
	now   func() time.Time
	wait  func(context.Context, time.Duration) error
}

func newPacedWriter(ctx context.Context, w http.ResponseWriter, rate int64) *pacedWriter {
	piece := min(max(rate/10, 1), 32<<10)
	return &pacedWriter{ResponseWriter: w, ctx: ctx, p: newPacer(rate, int64(piece)), piece: int(piece), now: time.Now, wait: sleep}
}

func (w *pacedWriter) Write(b []byte) (int, error) {
	var n int
	for len(b) > 0 {
		k := min(len(b), w.piece)
		if err := w.wait(w.ctx, w.p.reserve(w.now(), int64(k))); err != nil {
			return n, err
		}
		m, err := w.ResponseWriter.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		b = b[k:]
	}
	return n, nil
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *pacedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
