package http

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/url"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/testenv"
)

// Bigger than the copy buffer, and odd, so the copy loop runs several times
// and ends on a partial read.
const size = 3*bufSize + 12345

func parse(t testing.TB, s string) *transport.Request {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return &transport.Request{URL: u}
}

func stat(t *testing.T, tr *Transport, u *transport.Request) transport.RemoteInfo {
	t.Helper()
	info, err := tr.Stat(context.Background(), u)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	return info
}

// wantHR fails unless err is an *hresult.Error with code, transience and
// the remote-file context.
func wantHR(t *testing.T, err error, code hresult.Code, transient bool) *hresult.Error {
	t.Helper()
	return wantHRIn(t, err, code, transient, hresult.ContextRemoteFile)
}

// wantHRIn is wantHR for any context.
func wantHRIn(t *testing.T, err error, code hresult.Code, transient bool, where hresult.Context) *hresult.Error {
	t.Helper()
	var he *hresult.Error
	if !errors.As(err, &he) {
		t.Fatalf("err = %v (%T), want hresult 0x%08x", err, err, uint32(code))
	}
	if he.Code != code || he.Transient != transient || he.Context != where {
		t.Fatalf("err = 0x%08x transient=%v context=%d (%v), want 0x%08x transient=%v context=%d",
			uint32(he.Code), he.Transient, he.Context, he, uint32(code), transient, where)
	}
	return he
}

// wantConnectHR is wantHR for failures while connecting.
func wantConnectHR(t *testing.T, err error, code hresult.Code, transient bool) *hresult.Error {
	t.Helper()
	return wantHRIn(t, err, code, transient, hresult.ContextGeneralTransport)
}

func wantSum(t *testing.T, got, want []byte) {
	t.Helper()
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("SHA-256 differs: got %d bytes, want %d", len(got), len(want))
	}
}

// lastGET returns the newest GET the origin saw.
func lastGET(t *testing.T, o *testenv.Origin) testenv.Request {
	t.Helper()
	reqs := o.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Method == nethttp.MethodGet {
			return reqs[i]
		}
	}
	t.Fatal("the origin saw no GET")
	return testenv.Request{}
}

func TestFullDownload(t *testing.T) {
	content := testenv.RandomContent(size, 1)
	o := testenv.NewOrigin(t, content)
	tr := New(Options{})
	u := parse(t, o.URL("/file"))

	info := stat(t, tr, u)
	_, etag := o.Content()
	if info.Size != size || info.Validator != etag || !info.Ranges || info.ModTime.IsZero() {
		t.Fatalf("Stat = %+v, want size %d, validator %s, ranges, a mod time", info, size, etag)
	}
	var buf bytes.Buffer
	n, err := tr.Download(context.Background(), u, 0, -1, info, &buf)
	if err != nil || n != size {
		t.Fatalf("Download = %d, %v; want %d, nil", n, err, size)
	}
	wantSum(t, buf.Bytes(), content)
	if r := lastGET(t, o); r.Range != "" || r.IfRange != "" {
		t.Errorf("a download from 0 sent Range %q If-Range %q", r.Range, r.IfRange)
	}
}

func TestRequestHeaders(t *testing.T) {
	o := testenv.NewOrigin(t, nil)
	got := make(chan nethttp.Header, 1)
	o.Handle("/headers", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		got <- r.Header.Clone()
		w.Header().Set("Content-Length", "0")
	}))
	if _, err := New(Options{}).Stat(context.Background(), parse(t, o.URL("/headers"))); err != nil {
		t.Fatal(err)
	}
	h := <-got
	for k, want := range map[string]string{"User-Agent": "bits/0.1", "Accept": "*/*", "Accept-Encoding": "identity"} {
		if h.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, h.Get(k), want)
		}
	}
}

func TestResume(t *testing.T) {
	const off = bufSize + 7
	for _, tc := range []struct {
		name string
		opts []testenv.OriginOption
	}{
		{"etag", nil},
		{"last-modified", []testenv.OriginOption{testenv.NoETag()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			content := testenv.RandomContent(size, 2)
			o := testenv.NewOrigin(t, content, tc.opts...)
			tr := New(Options{})
			u := parse(t, o.URL("/file"))
			info := stat(t, tr, u)
			if info.Validator == "" {
				t.Fatal("Stat found no validator")
			}

			buf := bytes.NewBuffer(bytes.Clone(content[:off]))
			n, err := tr.Download(context.Background(), u, off, -1, info, buf)
			if err != nil || n != size-off {
				t.Fatalf("Download = %d, %v; want %d, nil", n, err, size-off)
			}
			wantSum(t, buf.Bytes(), content)
			r := lastGET(t, o)
			if want := fmt.Sprintf("bytes=%d-", off); r.Range != want || r.IfRange != info.Validator {
				t.Errorf("sent Range %q If-Range %q, want %q and %q", r.Range, r.IfRange, want, info.Validator)
			}
		})
	}
}

func TestNoRanges(t *testing.T) {
	content := testenv.RandomContent(size, 3)
	o := testenv.NewOrigin(t, content, testenv.NoRanges())
	tr := New(Options{})
	u := parse(t, o.URL("/file"))
	info := stat(t, tr, u)
	if info.Ranges {
		t.Error("Stat says ranges, but the origin sent no Accept-Ranges")
	}

	var buf bytes.Buffer
	n, err := tr.Download(context.Background(), u, 1000, -1, info, &buf)
	if !errors.Is(err, transport.ErrNoRanges) || n != 0 || buf.Len() != 0 {
		t.Fatalf("Download at 1000 = %d, %v, %d bytes written; want 0, ErrNoRanges, none", n, err, buf.Len())
	}
	n, err = tr.Download(context.Background(), u, 0, -1, info, &buf)
	if err != nil || n != size {
		t.Fatalf("Download at 0 = %d, %v", n, err)
	}
	wantSum(t, buf.Bytes(), content)
}

func TestShortRanges(t *testing.T) {
	// Like a CDN that caps each range at a block: Download asks again.
	const block = 100000
	content := testenv.RandomContent(size, 22)
	o := testenv.NewOrigin(t, nil)
	o.Handle("/capped", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		var first int
		if _, err := fmt.Sscanf(r.Header.Get("Range"), "bytes=%d-", &first); err != nil {
			nethttp.Error(w, "want a range", nethttp.StatusBadRequest)
			return
		}
		last := min(first+block, len(content)) - 1
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(content)))
		w.WriteHeader(nethttp.StatusPartialContent)
		w.Write(content[first : last+1])
	}))
	const off = 1000
	buf := bytes.NewBuffer(bytes.Clone(content[:off]))
	n, err := New(Options{}).Download(context.Background(), parse(t, o.URL("/capped")), off, -1, transport.RemoteInfo{Size: size}, buf)
	if err != nil || n != size-off {
		t.Fatalf("Download = %d, %v; want %d, nil", n, err, size-off)
	}
	wantSum(t, buf.Bytes(), content)
	if got, want := len(o.Requests()), (size-off+block-1)/block; got != want {
		t.Errorf("%d requests, want %d", got, want)
	}
}

func TestWrongContentRange(t *testing.T) {
	o := testenv.NewOrigin(t, testenv.RandomContent(size, 4), testenv.WrongContentRange())
	tr := New(Options{})
	u := parse(t, o.URL("/file"))
	info := stat(t, tr, u)

	var buf bytes.Buffer
	n, err := tr.Download(context.Background(), u, 5000, -1, info, &buf)
	wantHR(t, err, hresult.BG_E_INSUFFICIENT_RANGE_SUPPORT, false)
	if n != 0 || buf.Len() != 0 {
		t.Fatalf("wrote %d bytes (reported %d), want none", buf.Len(), n)
	}
}

func TestCutAndResume(t *testing.T) {
	const cut = bufSize + 1000
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			content := testenv.RandomContent(size, 5)
			newOrigin := testenv.NewOrigin
			if useTLS {
				newOrigin = testenv.NewTLSOrigin
			}
			o := newOrigin(t, content, testenv.CutAfter(cut, 1))
			tr := New(Options{TLSConfig: o.TLSConfig()})
			u := parse(t, o.URL("/file"))
			info := stat(t, tr, u)

			var buf bytes.Buffer
			n, err := tr.Download(context.Background(), u, 0, -1, info, &buf)
			wantHR(t, err, hresult.WINHTTP_CONNECTION_ERROR, true)
			if n != cut || buf.Len() != cut {
				t.Fatalf("reported %d bytes, wrote %d; want %d", n, buf.Len(), cut)
			}
			n, err = tr.Download(context.Background(), u, cut, -1, info, &buf)
			if err != nil || n != size-cut {
				t.Fatalf("resume = %d, %v; want %d, nil", n, err, size-cut)
			}
			wantSum(t, buf.Bytes(), content)
		})
	}
}

func TestRemoteChanged(t *testing.T) {
	const cut = 100000
	ctx := context.Background()

	t.Run("etag changes mid-transfer", func(t *testing.T) {
		content := testenv.RandomContent(size, 6)
		o := testenv.NewOrigin(t, content, testenv.CutAfter(cut, 1),
			testenv.ChangeAfter(cut, testenv.RandomContent(size, 7)))
		tr := New(Options{})
		u := parse(t, o.URL("/file"))
		info := stat(t, tr, u)

		var buf bytes.Buffer
		if _, err := tr.Download(ctx, u, 0, -1, info, &buf); !hresult.Is(err, hresult.WINHTTP_CONNECTION_ERROR) {
			t.Fatalf("first Download: %v, want a cut", err)
		}
		before := buf.Len()
		n, err := tr.Download(ctx, u, int64(before), -1, info, &buf)
		if !errors.Is(err, transport.ErrChanged) || n != 0 || buf.Len() != before {
			t.Fatalf("resume = %d, %v, wrote %d; want 0, ErrChanged, nothing", n, err, buf.Len()-before)
		}
		if r := lastGET(t, o); r.IfRange != info.Validator {
			t.Errorf("If-Range = %q, want %q", r.IfRange, info.Validator)
		}
	})

	t.Run("new etag at byte 0", func(t *testing.T) {
		o := testenv.NewOrigin(t, testenv.RandomContent(size, 8))
		tr := New(Options{})
		u := parse(t, o.URL("/file"))
		info := stat(t, tr, u)
		o.SetContent(testenv.RandomContent(size, 9))
		var buf bytes.Buffer
		n, err := tr.Download(ctx, u, 0, -1, info, &buf)
		if !errors.Is(err, transport.ErrChanged) || n != 0 || buf.Len() != 0 {
			t.Fatalf("Download = %d, %v; want 0, ErrChanged, nothing written", n, err)
		}
	})

	// Without validators only the size can tell: the 206's total, or 416
	// when the file is now shorter than the offset.
	for _, tc := range []struct {
		name    string
		newSize int
	}{{"grew", size + 10}, {"shrank below offset", cut / 2}} {
		t.Run(tc.name, func(t *testing.T) {
			o := testenv.NewOrigin(t, testenv.RandomContent(size, 10), testenv.NoETag(), testenv.NoLastModified())
			tr := New(Options{})
			u := parse(t, o.URL("/file"))
			info := stat(t, tr, u)
			if info.Validator != "" {
				t.Fatalf("Validator = %q, want none", info.Validator)
			}
			o.SetContent(testenv.RandomContent(tc.newSize, 11))
			var buf bytes.Buffer
			n, err := tr.Download(ctx, u, cut, -1, info, &buf)
			if !errors.Is(err, transport.ErrChanged) || n != 0 || buf.Len() != 0 {
				t.Fatalf("Download = %d, %v; want 0, ErrChanged, nothing written", n, err)
			}
		})
	}

	t.Run("body longer than the size", func(t *testing.T) {
		content := testenv.RandomContent(size, 12)
		o := testenv.NewOrigin(t, content, testenv.NoContentLength())
		want := transport.RemoteInfo{Size: size - 10}
		var buf bytes.Buffer
		n, err := New(Options{}).Download(ctx, parse(t, o.URL("/file")), 0, -1, want, &buf)
		if !errors.Is(err, transport.ErrChanged) || n != want.Size || int64(buf.Len()) != want.Size {
			t.Fatalf("Download = %d, %v, wrote %d; want %d, ErrChanged", n, err, buf.Len(), want.Size)
		}
	})
}

func TestHTTPStatus(t *testing.T) {
	ctx := context.Background()
	content := testenv.RandomContent(1000, 13)

	t.Run("404", func(t *testing.T) {
		o := testenv.NewOrigin(t, content)
		tr := New(Options{})
		u := parse(t, o.URL("/missing"))
		_, err := tr.Stat(ctx, u)
		if he := wantHR(t, err, hresult.HTTP(404), false); uint32(he.Code) != 0x80190194 {
			t.Fatalf("code = 0x%08x", uint32(he.Code))
		}
		_, err = tr.Download(ctx, u, 0, -1, transport.RemoteInfo{Size: 1000}, io.Discard)
		wantHR(t, err, 0x80190194, false)
	})

	for _, status := range []int{503, 429} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			o := testenv.NewOrigin(t, content, testenv.FailFirst(1, status, "Retry-After", "7"))
			tr := New(Options{})
			u := parse(t, o.URL("/file"))
			want := transport.RemoteInfo{Size: int64(len(content))}
			_, err := tr.Download(ctx, u, 0, -1, want, io.Discard)
			if he := wantHR(t, err, hresult.HTTP(status), true); he.RetryAfter != 7*time.Second {
				t.Fatalf("RetryAfter = %v, want 7s", he.RetryAfter)
			}
			var buf bytes.Buffer
			if _, err := tr.Download(ctx, u, 0, -1, want, &buf); err != nil {
				t.Fatalf("second try: %v", err)
			}
			wantSum(t, buf.Bytes(), content)
		})
	}
}

func TestHeaderTimeout(t *testing.T) {
	content := testenv.RandomContent(1000, 14)
	want := transport.RemoteInfo{Size: 1000}

	o := testenv.NewOrigin(t, content, testenv.SlowFirstByte(20*time.Millisecond))
	var buf bytes.Buffer
	if _, err := New(Options{HeaderTimeout: 10 * time.Second}).Download(context.Background(), parse(t, o.URL("/file")), 0, -1, want, &buf); err != nil {
		t.Fatalf("a first byte within the timeout: %v", err)
	}
	wantSum(t, buf.Bytes(), content)

	o = testenv.NewOrigin(t, content, testenv.SlowFirstByte(time.Hour))
	_, err := New(Options{HeaderTimeout: 100 * time.Millisecond}).Download(context.Background(), parse(t, o.URL("/file")), 0, -1, want, io.Discard)
	wantHR(t, err, hresult.WINHTTP_TIMEOUT, true)
}

func TestIdleTimeout(t *testing.T) {
	// One byte a second: the first arrives at once, the second too late.
	o := testenv.NewOrigin(t, testenv.RandomContent(100, 15), testenv.RateLimit(1))
	tr := New(Options{IdleTimeout: 100 * time.Millisecond})
	n, err := tr.Download(context.Background(), parse(t, o.URL("/file")), 0, -1, transport.RemoteInfo{Size: 100}, io.Discard)
	wantHR(t, err, hresult.WINHTTP_TIMEOUT, true)
	if n < 1 || n >= 100 {
		t.Fatalf("reported %d bytes, want some but not all", n)
	}
}

func TestCancel(t *testing.T) {
	o := testenv.NewOrigin(t, testenv.RandomContent(1<<20, 16), testenv.RateLimit(64<<10))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := writerFunc(func(p []byte) (int, error) { cancel(); return len(p), nil })
	n, err := New(Options{}).Download(ctx, parse(t, o.URL("/file")), 0, -1, transport.RemoteInfo{Size: 1 << 20}, w)
	if err != context.Canceled || n < 1 {
		t.Fatalf("Download = %d, %v; want some bytes and context.Canceled itself", n, err)
	}
	// The paced response must end too, not keep writing to nobody.
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for o.Active() != 0 {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatal("the origin still serves a client that went away")
		}
	}
}

func TestWriteError(t *testing.T) {
	o := testenv.NewOrigin(t, testenv.RandomContent(size, 17))
	diskFull := &os.PathError{Op: "write", Path: "BIT1234.tmp", Err: syscall.ENOSPC}
	w := writerFunc(func(p []byte) (int, error) { return len(p) / 2, diskFull })
	n, err := New(Options{}).Download(context.Background(), parse(t, o.URL("/file")), 0, -1, transport.RemoteInfo{Size: size}, w)
	var he *hresult.Error
	if !errors.Is(err, syscall.ENOSPC) || errors.As(err, &he) || n < 1 {
		t.Fatalf("Download = %d, %v; want the writer's own error and the bytes it took", n, err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	u := parse(t, "http://"+addr+"/file")
	tr := New(Options{})
	_, err = tr.Stat(context.Background(), u)
	wantConnectHR(t, err, hresult.WINHTTP_CANNOT_CONNECT, true)
	_, err = tr.Download(context.Background(), u, 0, -1, transport.RemoteInfo{Size: 10}, io.Discard)
	wantConnectHR(t, err, hresult.WINHTTP_CANNOT_CONNECT, true)
}

func TestTLS(t *testing.T) {
	content := testenv.RandomContent(size, 18)
	o := testenv.NewTLSOrigin(t, content)
	u := parse(t, o.URL("/file"))

	tr := New(Options{TLSConfig: o.TLSConfig()})
	info := stat(t, tr, u)
	var buf bytes.Buffer
	if _, err := tr.Download(context.Background(), u, 0, -1, info, &buf); err != nil {
		t.Fatal(err)
	}
	wantSum(t, buf.Bytes(), content)

	_, err := New(Options{}).Stat(context.Background(), u)
	wantConnectHR(t, err, hresult.WINHTTP_SECURE_INVALID_CA, false)
}

func TestStat(t *testing.T) {
	content := testenv.RandomContent(1000, 19)

	t.Run("missing content length", func(t *testing.T) {
		o := testenv.NewOrigin(t, content, testenv.NoContentLength())
		_, err := New(Options{}).Stat(context.Background(), parse(t, o.URL("/file")))
		wantHR(t, err, hresult.BG_E_MISSING_FILE_SIZE, false)
	})

	for _, tc := range []struct {
		name       string
		opts       []testenv.OriginOption
		wantRanges bool
	}{
		{"HEAD 405, ranged GET", []testenv.OriginOption{testenv.HeadStatus(405)}, true},
		{"HEAD 501, GET without ranges", []testenv.OriginOption{testenv.HeadStatus(501), testenv.NoRanges()}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testenv.NewOrigin(t, content, tc.opts...)
			info := stat(t, New(Options{}), parse(t, o.URL("/file")))
			_, etag := o.Content()
			if info.Size != 1000 || info.Ranges != tc.wantRanges || info.Validator != etag {
				t.Fatalf("Stat = %+v, want size 1000, ranges %v, validator %s", info, tc.wantRanges, etag)
			}
			if r := lastGET(t, o); r.Range != "bytes=0-0" {
				t.Errorf("fallback GET sent Range %q", r.Range)
			}
		})
	}

	t.Run("scheme", func(t *testing.T) {
		_, err := New(Options{}).Stat(context.Background(), parse(t, "ftp://127.0.0.1/file"))
		wantHR(t, err, hresult.WINHTTP_UNRECOGNIZED_SCHEME, false)
		_, err = New(Options{}).Download(context.Background(), parse(t, "file:///etc/passwd"), -1, 0, transport.RemoteInfo{}, io.Discard)
		wantHR(t, err, hresult.WINHTTP_UNRECOGNIZED_SCHEME, false)
	})
}

func TestRedirects(t *testing.T) {
	content := testenv.RandomContent(1000, 20)
	ctx := context.Background()

	t.Run("followed", func(t *testing.T) {
		o := testenv.NewOrigin(t, content)
		o.Handle("/old", nethttp.RedirectHandler("/file", nethttp.StatusMovedPermanently))
		tr := New(Options{})
		u := parse(t, o.URL("/old"))
		info := stat(t, tr, u)
		var buf bytes.Buffer
		if _, err := tr.Download(ctx, u, 500, -1, info, &buf); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), content[500:]) {
			t.Fatal("wrong bytes after a redirect")
		}
		if r := lastGET(t, o); r.Path != "/file" || r.Range != "bytes=500-" {
			t.Errorf("redirected GET = %+v, want /file with its Range", r)
		}
	})

	t.Run("loop", func(t *testing.T) {
		o := testenv.NewOrigin(t, content)
		o.Handle("/loop", nethttp.RedirectHandler("/loop", nethttp.StatusFound))
		_, err := New(Options{}).Stat(ctx, parse(t, o.URL("/loop")))
		wantHR(t, err, hresult.HTTP(302), false)
		if got := len(o.Requests()); got != maxRedirects+1 {
			t.Errorf("%d requests, want the first and %d redirects", got, maxRedirects)
		}
	})

	t.Run("https to http", func(t *testing.T) {
		plain := testenv.NewOrigin(t, content)
		secure := testenv.NewTLSOrigin(t, content)
		secure.Handle("/down", nethttp.RedirectHandler(plain.URL("/file"), nethttp.StatusFound))
		_, err := New(Options{TLSConfig: secure.TLSConfig()}).Download(ctx, parse(t, secure.URL("/down")), 0, -1, transport.RemoteInfo{Size: 1000}, io.Discard)
		wantHR(t, err, hresult.HTTP(302), false)
		if n := len(plain.Requests()); n != 0 {
			t.Errorf("the plain origin got %d requests", n)
		}
	})
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Get", URL: "http://example.test/f", Err: err} }
	dial := func(errno syscall.Errno) error {
		return wrap(&net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: errno}})
	}
	read := func(errno syscall.Errno) error {
		return wrap(&net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: errno}})
	}
	alert := func(text string) error { return wrap(&net.OpError{Op: "remote error", Err: errors.New(text)}) }
	redirect := hresult.Fatal(hresult.HTTP(302), hresult.ContextRemoteFile, "refused")
	const (
		remote  = hresult.ContextRemoteFile
		connect = hresult.ContextGeneralTransport
	)

	for _, tc := range []struct {
		name      string
		err       error
		connected bool         // what the request trace saw
		code      hresult.Code // 0: want the error given in same
		transient bool
		where     hresult.Context
		same      error
	}{
		{"refused", dial(syscall.ECONNREFUSED), false, hresult.WINHTTP_CANNOT_CONNECT, true, connect, nil},
		{"unreachable", dial(syscall.EHOSTUNREACH), false, hresult.WINHTTP_CANNOT_CONNECT, true, connect, nil},
		{"dial error seen as connected", dial(syscall.EHOSTUNREACH), true, hresult.WINHTTP_CANNOT_CONNECT, true, connect, nil},
		{"dns", wrap(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}}), false, hresult.WINHTTP_NAME_NOT_RESOLVED, true, connect, nil},
		{"dns timeout", wrap(&net.DNSError{Err: "timeout", Name: "slow.invalid", IsTimeout: true}), true, hresult.WINHTTP_NAME_NOT_RESOLVED, true, connect, nil},
		{"net timeout", wrap(timeoutErr{}), true, hresult.WINHTTP_TIMEOUT, true, remote, nil},
		{"handshake timeout", wrap(timeoutErr{}), false, hresult.WINHTTP_TIMEOUT, true, connect, nil},
		{"deadline", wrap(fmt.Errorf("read: %w", os.ErrDeadlineExceeded)), true, hresult.WINHTTP_TIMEOUT, true, remote, nil},
		{"header timeout matches DeadlineExceeded", wrap(context.DeadlineExceeded), true, hresult.WINHTTP_TIMEOUT, true, remote, nil},
		{"reset", read(syscall.ECONNRESET), true, hresult.WINHTTP_CONNECTION_ERROR, true, remote, nil},
		{"reset while connecting", read(syscall.ECONNRESET), false, hresult.WINHTTP_CONNECTION_ERROR, true, connect, nil},
		{"eof", wrap(io.EOF), true, hresult.WINHTTP_CONNECTION_ERROR, true, remote, nil},
		{"unexpected eof", io.ErrUnexpectedEOF, true, hresult.WINHTTP_CONNECTION_ERROR, true, remote, nil},
		{"unknown authority", wrap(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), false, hresult.WINHTTP_SECURE_INVALID_CA, false, connect, nil},
		{"hostname", wrap(x509.HostnameError{Host: "example.test"}), false, hresult.WINHTTP_SECURE_CERT_CN_INVALID, false, connect, nil},
		{"expired", wrap(x509.CertificateInvalidError{Reason: x509.Expired}), false, hresult.WINHTTP_SECURE_CERT_DATE_INVALID, false, connect, nil},
		{"wrong usage", wrap(&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.IncompatibleUsage}}), false, hresult.WINHTTP_SECURE_CERT_WRONG_USAGE, false, connect, nil},
		{"other certificate fault", wrap(x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign}), false, hresult.WINHTTP_SECURE_FAILURE, false, connect, nil},
		{"revoked", wrap(&revocationError{code: hresult.WINHTTP_SECURE_CERT_REVOKED, msg: "revoked"}), false, hresult.WINHTTP_SECURE_CERT_REVOKED, false, connect, nil},
		{"revocation unknown", wrap(&revocationError{code: hresult.WINHTTP_SECURE_CERT_REV_FAILED, msg: "no CRL"}), false, hresult.WINHTTP_SECURE_CERT_REV_FAILED, false, connect, nil},
		{"client certificate wanted", alert("tls: certificate required"), true, hresult.WINHTTP_CLIENT_AUTH_CERT_NEEDED, false, connect, nil},
		{"client certificate refused", alert("tls: bad certificate"), true, hresult.WINHTTP_CLIENT_AUTH_CERT_NEEDED, false, connect, nil},
		{"other alert", alert("tls: handshake failure"), false, hresult.WINHTTP_SECURE_FAILURE, false, connect, nil},
		{"not TLS", wrap(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), false, hresult.WINHTTP_INVALID_SERVER_RESPONSE, true, connect, nil},
		{"garbage reply", wrap(errors.New(`malformed HTTP response "SSH-2.0"`)), true, hresult.WINHTTP_INVALID_SERVER_RESPONSE, true, remote, nil},
		{"canceled", wrap(context.Canceled), true, 0, false, remote, context.Canceled},
		{"already classified", wrap(redirect), true, 0, false, remote, redirect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.err, tc.connected)
			if tc.same != nil {
				if got != tc.same {
					t.Fatalf("classify = %v (%T), want %v itself", got, got, tc.same)
				}
				return
			}
			wantHRIn(t, got, tc.code, tc.transient, tc.where)
		})
	}
	if classify(nil, true) != nil {
		t.Error("classify(nil) != nil")
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-9/10", 0, 9, 10, true},
		{"bytes 100-199/1000", 100, 199, 1000, true},
		{"bytes 5-5/*", 5, 5, -1, true},
		{"bytes 0-10/10", 0, 0, 0, false}, // last beyond the end
		{"bytes 9-0/10", 0, 0, 0, false},
		{"bytes -1-9/10", 0, 0, 0, false},
		{"bytes +1-9/10", 0, 0, 0, false},
		{"bytes 1 -9/10", 0, 0, 0, false},
		{"bytes */10", 0, 0, 0, false},
		{"bytes=0-9/10", 0, 0, 0, false},
		{"0-9/10", 0, 0, 0, false},
		{"bytes 0-9", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	} {
		first, last, total, ok := parseContentRange(tc.in)
		if first != tc.first || last != tc.last || total != tc.total || ok != tc.ok {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v; want %d, %d, %d, %v",
				tc.in, first, last, total, ok, tc.first, tc.last, tc.total, tc.ok)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"7":                             7 * time.Second,
		" 120 ":                         2 * time.Minute,
		"0":                             0,
		"Sat, 01 Mar 2025 12:01:30 GMT": 90 * time.Second,
		"Sat, 01 Mar 2025 11:00:00 GMT": 0, // in the past
		"-5":                            0,
		"soon":                          0,
		"":                              0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestSameValidator(t *testing.T) {
	h := func(kv ...string) nethttp.Header {
		out := nethttp.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	lm := "Mon, 01 Jan 2024 00:00:01 GMT"
	for _, tc := range []struct {
		want string
		h    nethttp.Header
		same bool
	}{
		{"", h("ETag", `"a"`), true},
		{`"a"`, h("ETag", `"a"`), true},
		{`"a"`, h("ETag", `"b"`), false},
		{`"a"`, h(), true},                // GET without ETag proves nothing
		{`"a"`, h("ETag", `W/"b"`), true}, // nor does a weak one
		{lm, h("Last-Modified", lm), true},
		{lm, h("Last-Modified", "Mon, 01 Jan 2024 00:00:02 GMT"), false},
		{lm, h("Last-Modified", "Monday, 01-Jan-24 00:00:01 GMT"), true}, // same instant, RFC 850
		{lm, h("ETag", `"a"`), true},
	} {
		if got := sameValidator(tc.want, tc.h); got != tc.same {
			t.Errorf("sameValidator(%q, %v) = %v, want %v", tc.want, tc.h, got, tc.same)
		}
	}
}

const benchSize = 256 << 20

// BenchmarkDownload measures the copy path over loopback. BenchmarkCurl is
// its yardstick: the same origin, read by curl.
func BenchmarkDownload(b *testing.B) {
	o := testenv.NewOrigin(b, testenv.RandomContent(benchSize, 21))
	tr := New(Options{})
	u := parse(b, o.URL("/file"))
	info, err := tr.Stat(context.Background(), u)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, err := tr.Download(context.Background(), u, 0, -1, info, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCurl includes curl's start-up, a few milliseconds per run.
func BenchmarkCurl(b *testing.B) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		if os.Getenv("CI") != "" {
			b.Fatal("curl is not installed")
		}
		b.Skip("curl is not installed")
	}
	o := testenv.NewOrigin(b, testenv.RandomContent(benchSize, 21))
	b.SetBytes(benchSize)
	for b.Loop() {
		if out, err := exec.Command(curl, "-sS", "-o", "/dev/null", o.URL("/file")).CombinedOutput(); err != nil {
			b.Fatalf("curl: %v %s", err, out)
		}
	}
}
