package engine_test

import (
	"bytes"
	"context"
	"fmt"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"bits/engine"
	"bits/engine/spawn"
	"bits/hresult"
	"bits/internal/testenv"
)

// gets returns the GET requests among reqs.
func gets(reqs []testenv.Request) []testenv.Request {
	var out []testenv.Request
	for _, r := range reqs {
		if r.Method == nethttp.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

// ranges returns the Range header of each request, for messages.
func ranges(reqs []testenv.Request) []string {
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i] = r.Range
	}
	return out
}

// A server that ignores Range cuts the first download in the middle; the
// retry asks for the rest, gets the whole file with 200, and the worker
// drops the partial file and fetches it again from byte 0, never splicing.
func TestServerWithoutRangesRestartsFromZeroAfterACut(t *testing.T) {
	h := start(t)
	content := testenv.RandomContent(2<<20+333, 21)
	const cut = 1 << 20
	o := testenv.NewOrigin(t, content, testenv.NoRanges(), testenv.CutAfter(cut, 1))
	delay := 5 * time.Second
	id := h.jobWith(engine.Props{MinRetryDelay: &delay}, o.URL("/file")).ID

	j := h.waitState(id, engine.TransientError)
	kept := j.Files[0].BytesTransferred
	if kept <= 0 || kept >= int64(len(content)) {
		t.Fatalf("checkpoint after the cut at %d bytes, want some of the %d bytes", kept, len(content))
	}
	if j.Err == nil || j.Err.Code != hresult.WINHTTP_CONNECTION_ERROR {
		t.Fatalf("error after the cut %+v, want WINHTTP_CONNECTION_ERROR", j.Err)
	}
	before := len(o.Requests())

	h.clock.Add(delay)
	spawn.Nudge(h.m.Home())
	j = h.waitState(id, engine.Transferred)
	if j.ErrorCount != 1 {
		t.Errorf("error count %d, want 1 (the cut only)", j.ErrorCount)
	}

	retry := gets(o.Requests()[before:])
	if len(retry) != 2 {
		t.Fatalf("the retry sent GETs with ranges %q, want 2 (the ranged one the server ignored, then one from byte 0)", ranges(retry))
	}
	if want := fmt.Sprintf("bytes=%d-", kept); retry[0].Range != want || retry[0].IfRange == "" {
		t.Errorf("first GET of the retry has Range %q If-Range %q, want %q with a validator", retry[0].Range, retry[0].IfRange, want)
	}
	if retry[1].Range != "" {
		t.Errorf("second GET of the retry has Range %q, want none: the file starts again from byte 0", retry[1].Range)
	}
	if !strings.Contains(h.log(), "starting file again from byte 0") {
		t.Errorf("the worker did not log the restart:\n%s", h.log())
	}
	if got := h.completeAndRead(j); !bytes.Equal(got, content) {
		t.Fatalf("content differs: %d bytes, want the %d of the file", len(got), len(content))
	}
	if left := testenv.TempFiles(t, h.dir); len(left) != 0 {
		t.Errorf("temporary files left after Complete: %v", left)
	}
}

// Byte ranges cannot be served by a server that ignores Range: the job
// fails at once, fatally, and never falls back to the whole file.
func TestByteRangesFromServerWithoutRangesAreFatal(t *testing.T) {
	h := start(t)
	o := testenv.NewOrigin(t, testenv.RandomContent(100_000, 22), testenv.NoRanges())
	ctx := context.Background()
	j, err := h.m.Create(ctx, "ranges", engine.Download)
	if err != nil {
		t.Fatal(err)
	}
	byteRanges := []engine.Range{{Offset: 100, Length: 1000}, {Offset: 50_000, Length: engine.ToEOF}}
	if err := h.m.AddFileWithRanges(ctx, j.ID, o.URL("/file"), filepath.Join(h.dir, "ranges.bin"), byteRanges); err != nil {
		t.Fatal(err)
	}
	if err := h.m.Resume(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	spawn.Nudge(h.m.Home())

	j = h.waitState(j.ID, engine.Error)
	if j.Err == nil || j.Err.Code != hresult.BG_E_INSUFFICIENT_RANGE_SUPPORT ||
		j.Err.Context != hresult.ContextRemoteFile || j.Err.FileIndex != 0 {
		t.Fatalf("error %+v, want BG_E_INSUFFICIENT_RANGE_SUPPORT in the remote file context, file 0", j.Err)
	}
	if j.ErrorCount != 1 {
		t.Errorf("error count %d, want 1", j.ErrorCount)
	}
	for _, r := range gets(o.Requests()) {
		if r.Range != "bytes=100-1099" {
			t.Errorf("GET with Range %q, want only the first range's bytes=100-1099", r.Range)
		}
	}
	if f := j.Files[0]; f.BytesTransferred != 0 || f.Complete {
		t.Errorf("file holds %d bytes (complete %v), want none", f.BytesTransferred, f.Complete)
	}
}

// A file that changes at every request restarts three times in one attempt;
// the fourth change ends the attempt with a transient error.
func TestFileThatKeepsChangingEndsTheAttempt(t *testing.T) {
	h := start(t)
	content := testenv.RandomContent(10_000, 23)
	var version atomic.Int64
	o := testenv.NewOrigin(t, nil)
	o.Handle("/moving", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		w.Header().Set("ETag", strconv.Quote(fmt.Sprint(version.Add(1))))
		if r.Method == nethttp.MethodGet {
			// No length on GET: the file's size and validator come from
			// HEAD, and every GET after it finds another file.
			w.(nethttp.Flusher).Flush()
			w.Write(content)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(content)))
	}))
	j := h.waitState(h.job(o.URL("/moving")).ID, engine.TransientError)
	if j.Err == nil || j.Err.Code != hresult.BG_E_REMOTE_FILE_CHANGED || j.Err.Context != hresult.ContextRemoteFile {
		t.Fatalf("error %+v, want BG_E_REMOTE_FILE_CHANGED in the remote file context", j.Err)
	}
	// The retry waits for the retry delay, which the fixed clock never
	// reaches, so these are the requests of one attempt.
	if n := len(gets(o.Requests())); n != 5 {
		t.Errorf("%d GETs, want 5: the GET that gave no size, the first try and three restarts", n)
	}
	if f := j.Files[0]; f.Complete {
		t.Error("a file that never matched its validator is marked complete")
	}
	if _, err := os.Stat(j.Files[0].LocalName); !os.IsNotExist(err) {
		t.Errorf("final file exists: %v", err)
	}
}
