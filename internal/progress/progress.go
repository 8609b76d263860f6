// Package progress makes the progress line that the front ends draw on a
// terminal: the file that moves, bytes, percent, rate and time left.
package progress

import (
	"fmt"
	"math/bits"
	"time"
)

// window is how far back a Meter's rate looks: long enough to smooth a
// checkpoint's jumps, short enough to follow a change of pace.
const window = 5 * time.Second

// A Meter works out a transfer's rate from readings of its bytes.
type Meter struct {
	samples []sample
}

type sample struct {
	at   time.Time
	done int64
}

// Rate records that done bytes had moved at now and returns the rate in
// bytes a second over the last few seconds: 0 until readings span some
// time, or when the count went back (a file started again).
func (m *Meter) Rate(done int64, now time.Time) float64 {
	if n := len(m.samples); n > 0 && done < m.samples[n-1].done {
		m.samples = m.samples[:0]
	}
	m.samples = append(m.samples, sample{now, done})
	for len(m.samples) > 2 && now.Sub(m.samples[1].at) >= window {
		m.samples = m.samples[1:]
	}
	first := m.samples[0]
	span := now.Sub(first.at).Seconds()
	if span <= 0 {
		return 0
	}
	return float64(done-first.done) / span
}

// Line is the progress line, as
// "big.iso  31.7 MiB / 64.0 MiB (49%)  12.3 MiB/s  3s left": total < 0 is
// a size not known yet, and a rate of 0 leaves rate and time out.
func Line(file string, done, total int64, rate float64) string {
	s := Bytes(done)
	if total >= 0 {
		s += " / " + Bytes(total) + fmt.Sprintf(" (%d%%)", Percent(done, total))
	}
	if file != "" {
		s = file + "  " + s
	}
	if p := Pace(done, total, rate); p != "" {
		s += "  " + p
	}
	return s
}

// Pace is the rate and, with a known total, the time left, as
// "12.3 MiB/s  3s left"; "" at a rate of 0.
func Pace(done, total int64, rate float64) string {
	if rate <= 0 {
		return ""
	}
	s := Bytes(int64(rate)) + "/s"
	if total >= 0 && done < total {
		s += "  " + Duration(time.Duration(float64(total-done)/rate*float64(time.Second))) + " left"
	}
	return s
}

// Percent is floor(done*100/total), 0 to 100; 0 for an empty total. The
// product is taken in 128 bits: done*100 overflows an int64 past 92 PB.
func Percent(done, total int64) int {
	switch {
	case total <= 0 || done <= 0:
		return 0
	case done >= total:
		return 100
	}
	hi, lo := bits.Mul64(uint64(done), 100)
	q, _ := bits.Div64(hi, lo, uint64(total)) // hi < total since done < total
	return int(q)
}

// Bytes is n in binary units: 512 B, 4.2 KiB, 31.7 MiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Duration is a time left as people read it: 45s, 2m05s, 1h02m, 3d04h.
func Duration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	case s < 86400:
		return fmt.Sprintf("%dh%02dm", s/3600, s%3600/60)
	}
	return fmt.Sprintf("%dd%02dh", s/86400, s%86400/3600)
}
