package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bits/internal/testenv"
)

// BenchmarkFastLink measures a background (NORMAL) download on fast
// links: two network namespaces joined through a router with no shaping
// (veth, several Gbit/s), then through a 1 Gbit/s tbf bottleneck. In the
// same run, alternating:
//
//   - alone: 1 GiB from bitsserver with curl, with bitsadmin /transfer as a
//     FOREGROUND job and as a NORMAL one, where yielding must cost nothing
//     (goal: NORMAL at 0.85 or more of FOREGROUND);
//   - beside curl: curl downloads for 10 s alone, then for 10 s beside a
//     NORMAL job started a second before (goal, as at 20 Mbit/s in
//     BenchmarkYield: curl keeps 90% or more).
func BenchmarkFastLink(b *testing.B) {
	curl := needTool(b, "curl")
	bin := buildPrograms(b)
	for _, mbit := range []int{0, 1000} {
		name := "veth"
		if mbit > 0 {
			name = fmt.Sprintf("%dMbit", mbit)
		}
		b.Run(name, func(b *testing.B) {
			link := testenv.NewLink(b, testenv.LinkOptions{Mbit: mbit, Queue: 50 * time.Millisecond, Congestion: "cubic"})
			root := b.TempDir()
			for name, size := range map[string]int64{"1GiB.bin": benchSize, "fg.bin": 64 << 30, "bg.bin": 64 << 30} {
				f, err := os.Create(filepath.Join(root, name))
				if err != nil {
					b.Fatal(err)
				}
				f.Truncate(size) // sparse: the server's disk is not what is measured
				f.Close()
			}
			base := startServerIn(b, link, bin, root)
			url := base + "/1GiB.bin"
			results := map[string][]float64{}
			for round := range rounds {
				dir := b.TempDir()
				start := time.Now()
				cmd := link.Command(link.Client, curl, "-s", "-S", "-f", "--noproxy", "*", "-o", filepath.Join(dir, "curl.bin"), url)
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("curl: %v\n%s", err, out)
				}
				results["curl"] = append(results["curl"], benchSize/time.Since(start).Seconds())
				os.Remove(filepath.Join(dir, "curl.bin"))
				for _, prio := range []string{"FOREGROUND", "NORMAL"} {
					results[prio] = append(results[prio], transferIn(b, link, bin, url, filepath.Join(dir, prio+".bin"), prio))
					os.Remove(filepath.Join(dir, prio+".bin"))
				}
				results["NORMAL/FOREGROUND"] = append(results["NORMAL/FOREGROUND"], results["NORMAL"][round]/results["FOREGROUND"][round])

				alone, _ := foreground(b, link, curl, base+"/fg.bin")
				bgDir := b.TempDir()
				stop := startBitsJob(b, link, bin, base+"/bg.bin", bgDir)
				waitGrowing(b, bgDir)
				time.Sleep(time.Second) // the background settles: part of the measurement, not a wait for an event
				beside, _ := foreground(b, link, curl, base+"/fg.bin")
				stop()
				results["curl-kept-beside-NORMAL"] = append(results["curl-kept-beside-NORMAL"], beside/alone)
				b.Logf("round %d: curl %.0f MB/s, FOREGROUND %.0f MB/s, NORMAL %.0f MB/s; curl for 10 s %.0f MB/s alone, %.0f MB/s beside NORMAL",
					round+1, results["curl"][round]/1e6, results["FOREGROUND"][round]/1e6, results["NORMAL"][round]/1e6, alone/1e6, beside/1e6)
			}
			b.ReportMetric(0, "ns/op")
			for _, k := range []string{"curl", "FOREGROUND", "NORMAL"} {
				b.ReportMetric(median(results[k])/1e6, k+"-MB/s")
			}
			b.ReportMetric(median(results["NORMAL/FOREGROUND"]), "NORMAL/FOREGROUND")
			b.ReportMetric(median(results["curl-kept-beside-NORMAL"]), "curl-kept-beside-NORMAL")
		})
	}
}

// transferIn runs bitsadmin /transfer on the link's client side, with a
// state folder of its own and no policy file, and returns its throughput.
func transferIn(tb testing.TB, l *testenv.Link, bin, url, dest, priority string) float64 {
	tb.Helper()
	home := tb.TempDir()
	cmd := l.Command(l.Client, filepath.Join(bin, "bitsadmin"), "/transfer", "fast", "/priority", priority, url, dest)
	pol := filepath.Join(home, "none.conf")
	if p := os.Getenv("BITS_BENCH_POLICY"); p != "" {
		pol = p
	}
	cmd.Env = append(os.Environ(), "BITS_HOME="+home, "BITS_POLICY="+pol, "BITS_WORKER_IDLE=5s",
		"BITS_WORKER_DEBUG=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if err != nil || !strings.Contains(string(out), "Transfer complete.") {
		tb.Fatalf("bitsadmin /transfer /priority %s: %v\n%s", priority, err, out)
	}
	if os.Getenv("BITS_BENCH_LOG") != "" {
		log, _ := os.ReadFile(filepath.Join(home, "worker.log"))
		os.WriteFile(os.Getenv("BITS_BENCH_LOG")+"."+priority, log, 0o644)
	}
	return benchSize / took.Seconds()
}
