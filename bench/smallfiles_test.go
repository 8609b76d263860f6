package bench

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	smallFiles = 1000      // files in the job
	smallSize  = 100 << 10 // bytes each
)

// BenchmarkSmallFiles downloads one job of 1,000 files of 100 KB from
// bitsserver over loopback, with bitsadmin /transfer and bitsjob transfer
// (both FOREGROUND), against wget -i, curl -K (alone, then followed by a
// sync of its files: the peer that leaves them on disk, as bits does) and
// aria2c -i, on the same files from the same server, in the same run and
// alternating. Goal: bits within 1.5x wget -i.
func BenchmarkSmallFiles(b *testing.B) {
	tools := map[string]string{}
	for _, t := range []string{"wget", "curl", "aria2c", "sync"} {
		tools[t] = needTool(b, t)
	}
	bin := buildPrograms(b)
	www := b.TempDir()
	want := make([][]byte, smallFiles)
	for i := range want {
		want[i] = make([]byte, smallSize)
		rand.Read(want[i])
		if err := os.WriteFile(filepath.Join(www, fmt.Sprintf("f%04d.bin", i)), want[i], 0o644); err != nil {
			b.Fatal(err)
		}
	}
	base := startServer(b, bin, "-root", www)
	home := b.TempDir()
	policy := filepath.Join(home, "policy.conf")
	if err := os.WriteFile(policy, []byte(fmt.Sprintf("MaxFilesPerJob = %d\n", smallFiles)), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Setenv("BITS_POLICY", policy) // for the worker and the front ends
	env := append(os.Environ(), "BITS_HOME="+home)
	w := startWorker(b, bin, home)

	urls := make([]string, smallFiles)
	for i := range urls {
		urls[i] = fmt.Sprintf("%s/f%04d.bin", base, i)
	}
	// pairs returns REMOTE LOCAL arguments for every file into dir.
	pairs := func(dir string) []string {
		var args []string
		for i, u := range urls {
			args = append(args, u, filepath.Join(dir, fmt.Sprintf("f%04d.bin", i)))
		}
		return args
	}
	list := filepath.Join(b.TempDir(), "urls.txt")
	if err := os.WriteFile(list, []byte(strings.Join(urls, "\n")+"\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	run := func(dir string, name string, args ...string) time.Duration {
		cmd := exec.Command(name, args...)
		cmd.Env, cmd.Dir = env, dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s: %v\n%s\nworker log:\n%s", name, err, out.String(), w.logTail())
		}
		return time.Since(start)
	}
	peers := []struct {
		name string
		run  func(dir string) time.Duration
	}{
		{"wget", func(dir string) time.Duration {
			return run(dir, tools["wget"], "-q", "--no-proxy", "-i", list, "-P", dir)
		}},
		{"curl", func(dir string) time.Duration {
			return run(dir, tools["curl"], "-s", "-S", "-f", "--noproxy", "*", "-K", curlConfig(b, urls, dir))
		}},
		{"curl+sync", func(dir string) time.Duration {
			d := run(dir, tools["curl"], "-s", "-S", "-f", "--noproxy", "*", "-K", curlConfig(b, urls, dir))
			start := time.Now()
			names, _ := filepath.Glob(filepath.Join(dir, "*.bin"))
			run(dir, tools["sync"], names...) // sync FILE... fsyncs each
			return d + time.Since(start)
		}},
		{"aria2c", func(dir string) time.Duration {
			return run(dir, tools["aria2c"], "-q", "--no-conf", "--all-proxy=", "--file-allocation=none", "-i", list, "-d", dir)
		}},
		{"bitsadmin", func(dir string) time.Duration {
			return run(dir, filepath.Join(bin, "bitsadmin"), append([]string{"/transfer", "small", "/priority", "FOREGROUND"}, pairs(dir)...)...)
		}},
		{"bitsjob", func(dir string) time.Duration {
			return run(dir, filepath.Join(bin, "bitsjob"), append([]string{"transfer", "--priority", "foreground"}, pairs(dir)...)...)
		}},
	}
	secs := map[string][]float64{}
	for round := range rounds {
		var line []string
		for k := range peers {
			// Each round starts with another tool, so that none always
			// follows the same one.
			p := peers[(k+round)%len(peers)]
			dir := b.TempDir()
			// What the tool before left unwritten is written now, not
			// while this one runs; and files are removed only at the end:
			// on ext4 without a journal a new file skips every inode freed
			// in the last minutes (recently_deleted), so removing 1,000
			// files makes the next 1,000 creations slower.
			syscall.Sync()
			d := p.run(dir)
			if round == 0 {
				checkSmallFiles(b, dir, want, p.name)
			}
			secs[p.name] = append(secs[p.name], d.Seconds())
			line = append(line, fmt.Sprintf("%s %.2f s", p.name, d.Seconds()))
		}
		b.Logf("round %d: %s", round+1, strings.Join(line, ", "))
	}
	b.ReportMetric(0, "ns/op")
	for _, p := range peers {
		b.ReportMetric(median(secs[p.name]), p.name+"-s")
	}
	for _, name := range []string{"bitsadmin", "bitsjob", "curl", "curl+sync", "aria2c"} {
		var r []float64
		for i := range secs[name] {
			r = append(r, secs[name][i]/secs["wget"][i])
		}
		b.ReportMetric(median(r), name+"/wget")
	}
	// Against the peer that also leaves every file on disk.
	for _, name := range []string{"bitsadmin", "bitsjob"} {
		var r []float64
		for i := range secs[name] {
			r = append(r, secs[name][i]/secs["curl+sync"][i])
		}
		b.ReportMetric(median(r), name+"/curl+sync")
	}
}

// curlConfig writes a curl -K file that fetches every URL into dir.
func curlConfig(tb testing.TB, urls []string, dir string) string {
	tb.Helper()
	var s strings.Builder
	for i, u := range urls {
		fmt.Fprintf(&s, "url = %q\noutput = %q\n", u, filepath.Join(dir, fmt.Sprintf("f%04d.bin", i)))
	}
	name := filepath.Join(tb.TempDir(), "curl.conf")
	if err := os.WriteFile(name, []byte(s.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	return name
}

// checkSmallFiles checks that dir holds every file, intact.
func checkSmallFiles(tb testing.TB, dir string, want [][]byte, tool string) {
	tb.Helper()
	for i, w := range want {
		got, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("f%04d.bin", i)))
		if err != nil || !bytes.Equal(got, w) {
			tb.Fatalf("%s: file %d is not the source's (%v)", tool, i, err)
		}
	}
}
