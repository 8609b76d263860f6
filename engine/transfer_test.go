package engine_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	nethttp "net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"bits/engine"
	"bits/engine/spawn"
	"bits/hresult"
	"bits/internal/testenv"
)

// jobWith creates a download job with settings p, adds the URLs and resumes.
func (h *harness) jobWith(p engine.Props, urls ...string) *engine.Job {
	h.t.Helper()
	ctx := context.Background()
	j, err := h.m.Create(ctx, "test", engine.Download)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.m.Set(ctx, j.ID, p); err != nil {
		h.t.Fatal(err)
	}
	for i, u := range urls {
		if err := h.m.AddFile(ctx, j.ID, u, filepath.Join(h.dir, fmt.Sprintf("%s-%d.bin", j.ID[:8], i))); err != nil {
			h.t.Fatal(err)
		}
	}
	if err := h.m.Resume(ctx, j.ID); err != nil {
		h.t.Fatal(err)
	}
	spawn.Nudge(h.m.Home())
	return j
}

// completeAndRead completes a transferred job and returns its first file.
func (h *harness) completeAndRead(j *engine.Job) []byte {
	h.t.Helper()
	if _, err := h.m.Complete(context.Background(), j.ID); err != nil {
		h.t.Fatal(err)
	}
	b, err := os.ReadFile(j.Files[0].LocalName)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

func TestDynamicContentStreamsWithoutSize(t *testing.T) {
	h := start(t)
	content := testenv.RandomContent(300_000, 11)
	o := testenv.NewOrigin(t, content, testenv.NoContentLength(), testenv.NoRanges())
	j := h.waitState(h.jobWith(engine.Props{Dynamic: ptr(true)}, o.URL("/file")).ID, engine.Transferred)
	if f := j.Files[0]; f.BytesTotal != int64(len(content)) || f.BytesTransferred != f.BytesTotal {
		t.Errorf("progress %d of %d, want %d of %d", f.BytesTransferred, f.BytesTotal, len(content), len(content))
	}
	for _, r := range o.Requests() {
		if r.Method != "GET" || r.Range != "" {
			t.Errorf("dynamic content sent %s with Range %q; want one plain GET", r.Method, r.Range)
		}
	}
	if got := h.completeAndRead(j); !bytes.Equal(got, content) {
		t.Fatalf("content differs: %d bytes, want %d", len(got), len(content))
	}
}

func TestWithoutDynamicContentAMissingSizeIsFatal(t *testing.T) {
	h := start(t)
	o := testenv.NewOrigin(t, []byte("abc"), testenv.NoContentLength(), testenv.NoRanges())
	j := h.waitState(h.job(o.URL("/file")).ID, engine.Error)
	if j.Err.Code != hresult.BG_E_MISSING_FILE_SIZE {
		t.Fatalf("error %+v, want BG_E_MISSING_FILE_SIZE", j.Err)
	}
}

func TestCustomMethodSendsOneRequestAndFailsFatally(t *testing.T) {
	h := start(t)
	content := testenv.RandomContent(50_000, 12)
	var mu sync.Mutex
	var seen []string // method and Range of each request
	o := testenv.NewOrigin(t, nil)
	o.Handle("/report", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.Header.Get("Range"))
		mu.Unlock()
		w.Write(content)
	}))
	j := h.waitState(h.jobWith(engine.Props{HTTPMethod: ptr("POST")}, o.URL("/report")).ID, engine.Transferred)
	mu.Lock()
	if len(seen) != 1 || seen[0] != "POST " {
		t.Errorf("requests %q, want one POST without Range", seen)
	}
	mu.Unlock()
	if got := h.completeAndRead(j); !bytes.Equal(got, content) {
		t.Fatal("content differs")
	}

	// A failure that would be retried for GET is final with a custom method.
	o.Handle("/busy", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.WriteHeader(nethttp.StatusServiceUnavailable)
	}))
	j = h.waitState(h.jobWith(engine.Props{HTTPMethod: ptr("POST")}, o.URL("/busy")).ID, engine.Error)
	if j.Err.Code != hresult.HTTP(503) {
		t.Errorf("error %+v, want HTTP 503 as a fatal error", j.Err)
	}
}

// digestOrigin serves content with a Repr-Digest that is right or wrong.
func digestOrigin(t *testing.T, content []byte, sum []byte) string {
	o := testenv.NewOrigin(t, nil)
	o.Handle("/digest", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum)+":")
		w.Header().Set("ETag", `"fixed"`)
		nethttp.ServeContent(w, r, "f", time.Time{}, bytes.NewReader(content))
	}))
	return o.URL("/digest")
}

func TestServerDigestIsVerified(t *testing.T) {
	h := start(t)
	content := testenv.RandomContent(200_000, 13)
	good := sha256.Sum256(content)
	j := h.waitState(h.job(digestOrigin(t, content, good[:])).ID, engine.Transferred)
	if j.Files[0].Verified != "sha-256" {
		t.Errorf("verified = %q, want sha-256", j.Files[0].Verified)
	}

	bad := sha256.Sum256([]byte("something else"))
	j = h.waitState(h.job(digestOrigin(t, content, bad[:])).ID, engine.Error)
	if j.Err.Code != hresult.CRYPT_E_HASH_VALUE || j.Files[0].Verified != "" {
		t.Errorf("error %+v verified %q, want CRYPT_E_HASH_VALUE and nothing verified", j.Err, j.Files[0].Verified)
	}
}

func TestMaxDownloadTimeEndsTheJob(t *testing.T) {
	h := start(t)
	o := testenv.NewOrigin(t, testenv.RandomContent(1<<20, 14), testenv.RateLimit(64<<10))
	j := h.waitState(h.jobWith(engine.Props{MaxDownloadTime: ptr(time.Second)}, o.URL("/file")).ID, engine.Error)
	if j.Err.Code != hresult.BG_E_MAXDOWNLOAD_TIMEOUT {
		t.Fatalf("error %+v, want BG_E_MAXDOWNLOAD_TIMEOUT", j.Err)
	}
	if j.TransferTime < time.Second {
		t.Errorf("transfer time %s, want at least the 1s maximum", j.TransferTime)
	}
	if _, n, _, _ := j.Progress(); n == 0 || n >= 1<<20 {
		t.Errorf("%d bytes moved; want some, not all", n)
	}
}
