package progress

import (
	"math"
	"testing"
	"time"
)

func TestLine(t *testing.T) {
	for _, c := range []struct {
		file        string
		done, total int64
		rate        float64
		want        string
	}{
		{"big.iso", 32 << 20, 64 << 20, 16 << 20, "big.iso  32.0 MiB / 64.0 MiB (50%)  16.0 MiB/s  2s left"},
		{"big.iso", 0, -1, 0, "big.iso  0 B"},
		{"a", 1000, -1, 500, "a  1000 B  500 B/s"},
		{"", 10 << 30, 10 << 30, 1 << 20, "10.0 GiB / 10.0 GiB (100%)  1.0 MiB/s"},
		{"slow", 0, 1 << 30, 1024, "slow  0 B / 1.0 GiB (0%)  1.0 KiB/s  12d03h left"},
	} {
		if got := Line(c.file, c.done, c.total, c.rate); got != c.want {
			t.Errorf("Line(%q, %d, %d, %v) = %q, want %q", c.file, c.done, c.total, c.rate, got, c.want)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 45 * time.Second: "45s", 125 * time.Second: "2m05s", 3720 * time.Second: "1h02m",
		(3*24 + 4) * time.Hour: "3d04h", 1499 * time.Millisecond: "1s",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestMeter: the rate is over the last few seconds of readings; a count
// that goes back starts the reckoning again.
func TestMeter(t *testing.T) {
	var m Meter
	t0 := time.Unix(1000, 0)
	if r := m.Rate(0, t0); r != 0 {
		t.Errorf("one reading: rate %v, want 0", r)
	}
	if r := m.Rate(10<<20, t0.Add(time.Second)); r != 10<<20 {
		t.Errorf("10 MiB in 1 s: rate %v", r)
	}
	// Ten seconds at 1 MiB/s: the window forgets the fast start.
	for s := 2; s <= 11; s++ {
		m.Rate(10<<20+int64(s-1)<<20, t0.Add(time.Duration(s)*time.Second))
	}
	if r := m.Rate(20<<20, t0.Add(11*time.Second)); r < 0.9*(1<<20) || r > 1.1*(1<<20) {
		t.Errorf("after ten seconds at 1 MiB/s: rate %v", r)
	}
	if r := m.Rate(1<<20, t0.Add(12*time.Second)); r != 0 {
		t.Errorf("after the count went back: rate %v, want 0", r)
	}
}

func TestPercent(t *testing.T) {
	tests := []struct {
		done, total int64
		want        int
	}{
		{0, 0, 0}, {0, 10, 0}, {1, 3, 33}, {2, 3, 66}, {10, 10, 100},
		{math.MaxInt64 - 1, math.MaxInt64, 99}, // done*100 overflows an int64
		{math.MaxInt64 / 2, math.MaxInt64, 49},
	}
	for _, tt := range tests {
		if got := Percent(tt.done, tt.total); got != tt.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", tt.done, tt.total, got, tt.want)
		}
	}
}
