package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bits/internal/testenv"
)

// BenchmarkRamp measures how fast a background (NORMAL) download alone
// finds the capacity of an idle link, from 1 Mbit/s to 1 Gbit/s (a tbf
// bottleneck with a 100 ms FIFO between two network namespaces), against
// curl on the same link in the same run. For each, from its first byte on
// disk:
//
//   - ramp: the time until a half-second window first moves 85% of the
//     link's rate (goal for bits: about a second; curl's is what TCP's own
//     slow start takes);
//   - share: what it moves from then to the end of the window, as a share
//     of the link (goal for bits: 85% or more).
func BenchmarkRamp(b *testing.B) {
	curl := needTool(b, "curl")
	bin := buildPrograms(b)
	for _, mbit := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("%dMbit", mbit), func(b *testing.B) {
			link := testenv.NewLink(b, testenv.LinkOptions{Mbit: mbit, Queue: 100 * time.Millisecond, Congestion: "cubic"})
			linkRate := float64(mbit) * 1e6 / 8
			root := b.TempDir()
			f, err := os.Create(filepath.Join(root, "big.bin"))
			if err != nil {
				b.Fatal(err)
			}
			f.Truncate(64 << 30) // sparse: the server's disk is not what is measured
			f.Close()
			base := startServerIn(b, link, bin, root)
			window := 8 * time.Second
			if mbit == 1 {
				window = 15 * time.Second // a packet is 12 ms here: slow start itself takes seconds
			}
			results := map[string][]float64{}
			for round := range rounds {
				for _, who := range []string{"curl", "bits"} {
					dir := b.TempDir()
					var stop func()
					if who == "curl" {
						stop = startIn(b, link, curl, "-s", "--noproxy", "*", "-o", filepath.Join(dir, "big.bin"), base+"/big.bin")
					} else {
						stop = startBitsJob(b, link, bin, base+"/big.bin", dir)
					}
					ramp, share := rampOf(b, dir, linkRate, window)
					stop()
					results[who+"-ramp-s"] = append(results[who+"-ramp-s"], ramp.Seconds())
					results[who+"-share"] = append(results[who+"-share"], share)
					b.Logf("round %d: %s reached 85%% of %d Mbit/s in %.2f s, then took %.0f%% of the link",
						round+1, who, mbit, ramp.Seconds(), 100*share)
				}
			}
			b.ReportMetric(0, "ns/op")
			for _, k := range []string{"bits-ramp-s", "curl-ramp-s", "bits-share", "curl-share"} {
				b.ReportMetric(median(results[k]), k)
			}
		})
	}
}

// rampOf samples the download into dir every 50 ms for window from its
// first byte, and returns when a half-second window first moved 85% of
// linkRate (the whole window when none did) and the share of the link
// moved from then to the end.
func rampOf(tb testing.TB, dir string, linkRate float64, window time.Duration) (time.Duration, float64) {
	tb.Helper()
	const step, span = 50 * time.Millisecond, 500 * time.Millisecond
	waitGrowing(tb, dir)
	start := time.Now()
	bytes := []int64{dirBytes(dir)} // bytes[i]: on disk at start + i*step
	t := time.NewTicker(step)
	defer t.Stop()
	for range t.C {
		bytes = append(bytes, dirBytes(dir))
		if time.Since(start) >= window {
			break
		}
	}
	k := int(span / step)
	for i := 0; i+k < len(bytes); i++ {
		if float64(bytes[i+k]-bytes[i]) >= 0.85*linkRate*span.Seconds() {
			last := len(bytes) - 1
			if last == i {
				return time.Duration(i) * step, 0
			}
			moved := float64(bytes[last] - bytes[i])
			return time.Duration(i) * step, moved / (linkRate * (time.Duration(last-i) * step).Seconds())
		}
	}
	return window, 0
}
