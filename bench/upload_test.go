package bench

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkUpload uploads 1 GiB over loopback with bitsadmin /transfer
// /upload to bitsserver (the BITS upload protocol, in fragments, each
// confirmed) and with curl -T to a plain PUT endpoint, alternating, in the
// same run. Both servers write the file to disk and sync it.
func BenchmarkUpload(b *testing.B) {
	curl := needTool(b, "curl")
	bin := buildPrograms(b)
	src := filepath.Join(b.TempDir(), "1GiB.bin")
	sum := writeSource(b, src, benchSize)
	bitsDir, putDir := b.TempDir(), b.TempDir()
	bitsURL := startServer(b, bin, "-upload", "/up="+bitsDir)
	putURL := startPutServer(b, putDir)
	home := b.TempDir()
	w := startWorker(b, bin, home)

	var curlRate, bitsRate, ratio, curlCPU, bitsCPU []float64
	for i := range rounds {
		name := fmt.Sprintf("round%d.bin", i)
		c := runCurlUpload(b, curl, putURL+"/"+name, src)
		if i == 0 {
			checkSum(b, filepath.Join(putDir, name), sum)
		}
		os.Remove(filepath.Join(putDir, name))

		t := runTransfer(b, bin, home, w, bitsURL+"/up/"+name, src, "/upload")
		if i == 0 {
			checkSum(b, filepath.Join(bitsDir, name), sum)
		}
		os.Remove(filepath.Join(bitsDir, name))

		b.Logf("round %d: curl -T %.0f MB/s, %.3f CPU s; bitsadmin /transfer /upload %.0f MB/s, %.3f CPU s (worker %.3f)",
			i+1, c.mbps(benchSize), c.cpu.Seconds(), t.mbps(benchSize), t.cpu.Seconds(), t.workerCPU.Seconds())
		curlRate = append(curlRate, c.mbps(benchSize))
		bitsRate = append(bitsRate, t.mbps(benchSize))
		ratio = append(ratio, t.mbps(benchSize)/c.mbps(benchSize))
		curlCPU = append(curlCPU, c.cpuPerGiB(benchSize))
		bitsCPU = append(bitsCPU, t.cpuPerGiB(benchSize))
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(curlRate), "curl-MB/s")
	b.ReportMetric(median(bitsRate), "bits-MB/s")
	b.ReportMetric(median(ratio), "bits/curl")
	b.ReportMetric(median(curlCPU), "curl-CPU-s/GiB")
	b.ReportMetric(median(bitsCPU), "bits-CPU-s/GiB")
}

// TestUploadSmoke runs one small upload through the benchmark's harness.
func TestUploadSmoke(t *testing.T) {
	bin := buildPrograms(t)
	src := filepath.Join(t.TempDir(), "small.bin")
	sum := writeSource(t, src, 3*block+12345)
	dir := t.TempDir()
	url := startServer(t, bin, "-upload", "/up="+dir)
	home := t.TempDir()
	w := startWorker(t, bin, home)
	r := runTransfer(t, bin, home, w, url+"/up/small.bin", src, "/upload")
	checkSum(t, filepath.Join(dir, "small.bin"), sum)
	if r.wall <= 0 || r.cpu < r.workerCPU {
		t.Errorf("implausible measurement %+v", r)
	}
}

// startPutServer is curl's peer: a plain endpoint that writes each PUT
// body to a file in dir and syncs it, as bitsserver does.
func startPutServer(tb testing.TB, dir string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			http.Error(w, "PUT only", http.StatusMethodNotAllowed)
			return
		}
		f, err := os.Create(filepath.Join(dir, filepath.Base(r.URL.Path)))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		if _, err := io.Copy(f, r.Body); err != nil || f.Sync() != nil {
			http.Error(w, "write failed", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	tb.Cleanup(srv.Close)
	return srv.URL
}

func runCurlUpload(tb testing.TB, curl, url, src string) measurement {
	tb.Helper()
	cmd := exec.Command(curl, "-s", "-S", "-f", "--noproxy", "*", "-T", src, "-o", "/dev/null", url)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		tb.Fatalf("curl -T %s: %v: %s", url, err, stderr.String())
	}
	return measurement{wall: time.Since(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
}
