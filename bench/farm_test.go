package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bits/internal/testenv"
)

// farmJobs uploads of farmSize bytes each run at once in every round.
const (
	farmJobs = 6
	farmSize = 48 << 20
)

// BenchmarkFarmUpload measures the aggregate upload rate of farmJobs
// concurrent bitsadmin upload jobs, in the same run, to: one bitsserver on
// local disk; one bitsserver over an S3 store (SeaweedFS on loopback); and
// three bitsservers over that store behind a round-robin balancer. All of
// it shares this machine's cores with the S3 server, so the figures say
// what the store costs per byte, not how a farm of machines scales.
func BenchmarkFarmUpload(b *testing.B) {
	bin := buildPrograms(b)
	s3 := testenv.StartS3(b)
	src := filepath.Join(b.TempDir(), "src.bin")
	writeSource(b, src, farmSize)
	local := startServer(b, bin, "-upload", "/up="+b.TempDir())
	store := func(prefix string) []string {
		return []string{"-store", "s3://" + s3.Bucket() + "/" + prefix, "-upload", "/up=files",
			"-max-sessions-per-client", "0", "-session-rate", "0"}
	}
	one := startServerEnv(b, bin, s3.Env(), store("one/")...)
	var three []string
	for range 3 {
		three = append(three, startServerEnv(b, bin, s3.Env(), store("three/")...))
	}
	balancer := "http://" + testenv.NewBalancer(b, three...).Addr()
	home := b.TempDir()
	w := startWorker(b, bin, home)

	rates := map[string][]float64{}
	targets := []struct{ name, url string }{{"local", local}, {"s3-1", one}, {"s3-3", balancer}}
	for round := range rounds {
		var line []string
		for _, t := range targets {
			d := uploadAll(b, bin, home, w, fmt.Sprintf("%s/up/r%d-", t.url, round), src)
			rate := float64(farmJobs*farmSize) / 1e6 / d.Seconds()
			rates[t.name] = append(rates[t.name], rate)
			line = append(line, fmt.Sprintf("%s %.0f MB/s", t.name, rate))
		}
		b.Logf("round %d: %s", round+1, strings.Join(line, ", "))
	}
	b.ReportMetric(0, "ns/op")
	for _, t := range targets {
		b.ReportMetric(median(rates[t.name]), t.name+"-MB/s")
	}
	var r1, r3 []float64
	for i := range rates["local"] {
		r1 = append(r1, rates["s3-1"][i]/rates["local"][i])
		r3 = append(r3, rates["s3-3"][i]/rates["s3-1"][i])
	}
	b.ReportMetric(median(r1), "s3-1/local")
	b.ReportMetric(median(r3), "s3-3/s3-1")
}

// uploadAll uploads src farmJobs times at once, to prefix + "<n>.bin", and
// returns the time until every job is TRANSFERRED.
func uploadAll(tb testing.TB, bin, home string, w *process, prefix, src string) time.Duration {
	tb.Helper()
	admin := func(args ...string) string {
		cmd := exec.Command(filepath.Join(bin, "bitsadmin"), args...)
		cmd.Env = append(os.Environ(), "BITS_HOME="+home)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			tb.Fatalf("bitsadmin %v: %v\n%s\nworker log:\n%s", args, err, out.String(), w.logTail())
		}
		return strings.TrimSpace(out.String())
	}
	var jobs []string
	for i := range farmJobs {
		job := fmt.Sprintf("farm%d", i)
		admin("/create", "/upload", job)
		admin("/addfile", job, fmt.Sprintf("%s%d.bin", prefix, i), src)
		admin("/setpriority", job, "FOREGROUND")
		jobs = append(jobs, job)
	}
	start := time.Now()
	for _, job := range jobs {
		admin("/resume", job)
	}
	deadline := start.Add(10 * time.Minute)
	for _, job := range jobs {
		for {
			st := admin("/rawreturn", "/getstate", job)
			if st == "TRANSFERRED" {
				break
			}
			if st == "ERROR" || time.Now().After(deadline) {
				tb.Fatalf("%s: %s\n%s\nworker log:\n%s", job, st, admin("/geterror", job), w.logTail())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	d := time.Since(start)
	for _, job := range jobs {
		admin("/complete", job)
	}
	return d
}
