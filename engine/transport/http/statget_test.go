package http

import (
	"bytes"
	"context"
	nethttp "net/http"
	"testing"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/testenv"
)

// StatGet answers what Stat answers, from one GET whose body is the file.
func TestStatGetSaysWhatHEADSaysInOneRequest(t *testing.T) {
	content := testenv.RandomContent(100_000, 41)
	o := testenv.NewOrigin(t, content, testenv.ServeDigest("Repr-Digest", "sha-256"))
	tr := New(Options{})
	r := parse(t, o.URL("/file"))
	want := stat(t, tr, r)
	before := len(o.Requests())

	info, body, err := tr.StatGet(context.Background(), r)
	if err != nil || body == nil {
		t.Fatalf("StatGet: %v, body %v", err, body)
	}
	defer body.Close()
	if info.Size != want.Size || info.Validator != want.Validator || !info.ModTime.Equal(want.ModTime) ||
		info.Ranges != want.Ranges || info.Digest.Algorithm != want.Digest.Algorithm || !bytes.Equal(info.Digest.Sum, want.Digest.Sum) {
		t.Errorf("StatGet says %+v, HEAD says %+v", info, want)
	}
	var got bytes.Buffer
	if n, err := body.Copy(context.Background(), &got); err != nil || n != int64(len(content)) || !bytes.Equal(got.Bytes(), content) {
		t.Fatalf("Copy: %d bytes, %v; want the %d bytes of the file", n, err, len(content))
	}
	reqs := o.Requests()[before:]
	if len(reqs) != 1 || reqs[0].Method != "GET" || reqs[0].Range != "" {
		t.Errorf("requests %+v, want one GET without Range", reqs)
	}
}

// An error status, or an answer without a length, goes the HEAD way, as
// before: HEAD's answer is what StatGet says.
func TestStatGetFallsBackToHEAD(t *testing.T) {
	tr := New(Options{})
	o := testenv.NewOrigin(t, []byte("abc"))
	_, body, err := tr.StatGet(context.Background(), parse(t, o.URL("/missing")))
	wantHR(t, err, hresult.HTTP(404), false)
	if body != nil {
		t.Error("a body with an error")
	}
	// A server whose GET fails where HEAD does not: HEAD's size, and the
	// download then fails on its own.
	o.Handle("/gone", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.Method == nethttp.MethodHead {
			w.Header().Set("Content-Length", "1000")
			return
		}
		nethttp.NotFound(w, r)
	}))
	if info, body, err := tr.StatGet(context.Background(), parse(t, o.URL("/gone"))); err != nil || body != nil || info.Size != 1000 {
		t.Errorf("StatGet = %+v, %v, %v; want HEAD's size 1000 and no body", info, body, err)
	}

	content := testenv.RandomContent(50_000, 42)
	o = testenv.NewOrigin(t, content, testenv.NoContentLength())
	info, body, err := tr.StatGet(context.Background(), parse(t, o.URL("/file")))
	var heads int
	for _, q := range o.Requests() {
		if q.Method == "HEAD" {
			heads++
		}
	}
	if body != nil || heads != 1 {
		t.Errorf("body %v after %d HEADs; want none after one", body, heads)
	}
	// What HEAD says of this origin: no size.
	if info.Size != -1 || !hresult.Is(err, hresult.BG_E_MISSING_FILE_SIZE) {
		t.Errorf("StatGet = %+v, %v; want HEAD's missing size", info, err)
	}
}

var _ transport.Prefetcher = (*Transport)(nil)
