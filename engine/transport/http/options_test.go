package http

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"testing"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/testenv"
)

func TestCustomHeaders(t *testing.T) {
	content := testenv.RandomContent(size, 50)
	o := testenv.NewTLSOrigin(t, content, testenv.HTTP2())
	tr := New(Options{TLSConfig: o.TLSConfig()})
	r := parse(t, o.URL("/file"))
	r.Headers = []string{
		"X-Token: s3cret",
		"authorization:  Bearer abc ",
		"User-Agent: custom/1.0",
		"X-Multi: a",
		"X-Multi: b",
		"X-Empty:",
		"Range: bytes=5-",       // the transport's own: left out
		"Accept-Encoding: gzip", // idem
	}
	info := stat(t, tr, r)
	const off = 1000
	buf := bytes.NewBuffer(bytes.Clone(content[:off]))
	if _, err := tr.Download(context.Background(), r, off, -1, info, buf); err != nil {
		t.Fatal(err)
	}
	wantSum(t, buf.Bytes(), content)

	reqs := o.Requests()
	if len(reqs) != 2 || reqs[0].Method != nethttp.MethodHead || reqs[1].Method != nethttp.MethodGet {
		t.Fatalf("requests = %+v, want HEAD then GET", reqs)
	}
	for _, req := range reqs {
		h := req.Header
		for name, want := range map[string]string{
			"X-Token": "s3cret", "Authorization": "Bearer abc", "User-Agent": "custom/1.0",
			"Accept": "*/*", "Accept-Encoding": "identity",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", req.Method, name, got, want)
			}
		}
		if got := h.Values("X-Multi"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
			t.Errorf("%s: X-Multi = %q", req.Method, got)
		}
		if _, ok := h["X-Empty"]; !ok {
			t.Errorf("%s: X-Empty missing", req.Method)
		}
	}
	if reqs[0].Range != "" || reqs[1].Range != fmt.Sprintf("bytes=%d-", off) {
		t.Errorf("Range: HEAD %q, GET %q; want none and the resume offset", reqs[0].Range, reqs[1].Range)
	}

	t.Run("host", func(t *testing.T) {
		plain := testenv.NewOrigin(t, content)
		host := make(chan string, 1)
		plain.Handle("/host", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
			host <- r.Host
			w.Header().Set("Content-Length", "0")
		}))
		r := parse(t, plain.URL("/host"))
		r.Headers = []string{"Host: files.example"}
		stat(t, New(Options{}), r)
		if got := <-host; got != "files.example" {
			t.Errorf("Host = %q", got)
		}
	})
}

func TestMalformedCustomHeaders(t *testing.T) {
	o := testenv.NewOrigin(t, testenv.RandomContent(100, 51))
	tr := New(Options{})
	for _, bad := range []string{
		"NoColonSecretValue",
		"Bad Name: secret-value",
		": secret-value",
		"X-Split: secret\r\nX-Injected: value",
		"X-Nul: sec\x00ret",
		"Näme: secret-value",
		"Host: secret value",
	} {
		for _, method := range []string{"", "POST"} {
			r := parse(t, o.URL("/file"))
			r.Headers = []string{"X-Fine: ok", bad}
			r.Method = method
			_, err := tr.Stat(context.Background(), r)
			he := wantHR(t, err, hresult.E_INVALIDARG, false)
			_, err = tr.Download(context.Background(), r, 0, -1, transport.RemoteInfo{Size: 100}, io.Discard)
			wantHR(t, err, hresult.E_INVALIDARG, false)
			if strings.Contains(he.Error(), "secret") || !strings.Contains(he.Msg, "header 2 of 2") {
				t.Errorf("%q: message %q, want the header's position and not its text", bad, he.Msg)
			}
		}
	}
	if n := len(o.Requests()); n != 0 {
		t.Errorf("the origin got %d requests", n)
	}
}

// methodOrigin answers any method on /m with status and body.
func methodOrigin(t *testing.T, status int, body []byte, chunked bool) *testenv.Origin {
	t.Helper()
	o := testenv.NewOrigin(t, nil)
	o.Handle("/m", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if !chunked {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		}
		w.WriteHeader(status)
		if chunked {
			nethttp.NewResponseController(w).Flush()
		}
		w.Write(body)
	}))
	return o
}

func TestCustomMethod(t *testing.T) {
	content := testenv.RandomContent(size, 52)
	ctx := context.Background()

	for _, tc := range []struct {
		method  string
		status  int
		chunked bool
	}{
		{"POST", 200, true},
		{"PUT", 201, false},
		{"MKCOL", 200, false},
	} {
		t.Run(tc.method, func(t *testing.T) {
			o := methodOrigin(t, tc.status, content, tc.chunked)
			tr := New(Options{})
			r := parse(t, o.URL("/m"))
			r.Method = tc.method
			r.Headers = []string{"X-Job: 1"}
			info, err := tr.Stat(ctx, r)
			if err != nil || info.Size != -1 || info.Validator != "" {
				t.Fatalf("Stat = %+v, %v; want size -1 and no error", info, err)
			}
			if len(o.Requests()) != 0 {
				t.Fatal("Stat sent a request for a custom method")
			}
			var buf bytes.Buffer
			n, err := tr.Download(ctx, r, 0, -1, info, &buf)
			if err != nil || n != size {
				t.Fatalf("Download = %d, %v", n, err)
			}
			wantSum(t, buf.Bytes(), content)
			if len(o.Requests()) != 1 {
				t.Fatalf("%d requests, want 1", len(o.Requests()))
			}
			req := o.Requests()[0]
			if req.Method != tc.method || req.Range != "" || req.IfRange != "" || req.Header.Get("X-Job") != "1" {
				t.Errorf("request %s Range %q If-Range %q X-Job %q", req.Method, req.Range, req.IfRange, req.Header.Get("X-Job"))
			}
		})
	}

	t.Run("no resume, nothing sent", func(t *testing.T) {
		o := methodOrigin(t, 200, content, false)
		r := parse(t, o.URL("/m"))
		r.Method = "POST"
		for _, span := range [][2]int64{{1000, -1}, {0, 1000}} {
			n, err := New(Options{}).Download(ctx, r, span[0], span[1], transport.RemoteInfo{Size: -1}, io.Discard)
			if !errors.Is(err, transport.ErrNoRanges) || n != 0 {
				t.Fatalf("Download %v = %d, %v; want ErrNoRanges", span, n, err)
			}
		}
		if len(o.Requests()) != 0 {
			t.Fatalf("%d requests sent", len(o.Requests()))
		}
	})

	t.Run("one try only", func(t *testing.T) {
		o := methodOrigin(t, 503, []byte("busy"), false)
		r := parse(t, o.URL("/m"))
		r.Method = "POST"
		_, err := New(Options{}).Download(ctx, r, 0, -1, transport.RemoteInfo{Size: -1}, io.Discard)
		wantHR(t, err, hresult.HTTP(503), true)
		if len(o.Requests()) != 1 {
			t.Fatalf("%d requests, want 1", len(o.Requests()))
		}
	})

	t.Run("206 without a range", func(t *testing.T) {
		o := methodOrigin(t, 206, content[:10], false)
		r := parse(t, o.URL("/m"))
		r.Method = "POST"
		var buf bytes.Buffer
		_, err := New(Options{}).Download(ctx, r, 0, -1, transport.RemoteInfo{Size: -1}, &buf)
		wantHR(t, err, hresult.BG_E_INVALID_SERVER_RESPONSE, false)
		if buf.Len() != 0 {
			t.Fatal("wrote a partial answer")
		}
	})

	t.Run("invalid method", func(t *testing.T) {
		o := methodOrigin(t, 200, content, false)
		r := parse(t, o.URL("/m"))
		r.Method = "BAD METHOD"
		_, err := New(Options{}).Download(ctx, r, 0, -1, transport.RemoteInfo{Size: -1}, io.Discard)
		wantHR(t, err, hresult.E_INVALIDARG, false)
		if len(o.Requests()) != 0 {
			t.Fatal("sent an invalid method")
		}
	})
}

func TestDynamicContent(t *testing.T) {
	content := testenv.RandomContent(size, 53)
	for _, tc := range []struct {
		name  string
		tls   bool
		proto string
	}{{"chunked HTTP/1.1", false, "HTTP/1.1"}, {"HTTP/2", true, "HTTP/2.0"}} {
		t.Run(tc.name, func(t *testing.T) {
			var o *testenv.Origin
			if tc.tls {
				o = testenv.NewTLSOrigin(t, content, testenv.NoContentLength(), testenv.HTTP2())
			} else {
				o = testenv.NewOrigin(t, content, testenv.NoContentLength())
			}
			tr := New(Options{TLSConfig: o.TLSConfig()})
			r := parse(t, o.URL("/file"))
			// A validator from an earlier look does not matter from byte 0.
			want := transport.RemoteInfo{Size: -1, Validator: `"stale"`}
			var buf bytes.Buffer
			n, err := tr.Download(context.Background(), r, 0, -1, want, &buf)
			if err != nil || n != size {
				t.Fatalf("Download = %d, %v", n, err)
			}
			wantSum(t, buf.Bytes(), content)
			got := lastGET(t, o)
			if got.Range != "" || got.IfRange != "" || got.Proto != tc.proto {
				t.Errorf("GET %+v: want no Range, no If-Range, %s", got, tc.proto)
			}
		})
	}
}

func TestHTTP2(t *testing.T) {
	content := testenv.RandomContent(size, 54)
	o := testenv.NewTLSOrigin(t, content, testenv.HTTP2())
	tr := New(Options{TLSConfig: o.TLSConfig()})
	r := parse(t, o.URL("/file"))
	info := stat(t, tr, r)

	const cut = 100000
	var buf bytes.Buffer
	if _, err := tr.Download(context.Background(), r, 0, cut, info, &buf); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Download(context.Background(), r, cut, -1, info, &buf); err != nil {
		t.Fatal(err)
	}
	wantSum(t, buf.Bytes(), content)
	reqs := o.Requests()
	for _, req := range reqs {
		if req.Proto != "HTTP/2.0" {
			t.Errorf("%s %s over %s, want HTTP/2.0", req.Method, req.Path, req.Proto)
		}
	}
	if got := reqs[len(reqs)-1]; got.Range != fmt.Sprintf("bytes=%d-", cut) || got.IfRange != info.Validator {
		t.Errorf("resume sent Range %q If-Range %q", got.Range, got.IfRange)
	}

	t.Run("cleartext stays HTTP/1.1", func(t *testing.T) {
		plain := testenv.NewOrigin(t, content)
		stat(t, New(Options{}), parse(t, plain.URL("/file")))
		if p := plain.Requests()[0].Proto; p != "HTTP/1.1" {
			t.Errorf("Proto = %s", p)
		}
	})

	t.Run("NTLM stays on HTTP/1.1", func(t *testing.T) {
		r := parse(t, o.URL("/file"))
		r.Credentials = []transport.Credential{{Target: transport.TargetServer, Scheme: transport.SchemeNTLM, User: "u", Password: "p"}}
		stat(t, New(Options{TLSConfig: o.TLSConfig()}), r)
		reqs := o.Requests()
		if p := reqs[len(reqs)-1].Proto; p != "HTTP/1.1" {
			t.Errorf("Proto = %s", p)
		}
	})
}

func TestWholeFileForARangeNeverSplices(t *testing.T) {
	// A server that ignores Range answers 200 with the whole file: none of
	// it may be written at an offset, or as a part.
	content := testenv.RandomContent(size, 55)
	for _, h2 := range []bool{false, true} {
		t.Run(fmt.Sprintf("h2=%v", h2), func(t *testing.T) {
			opts := []testenv.OriginOption{testenv.NoRanges()}
			if h2 {
				opts = append(opts, testenv.HTTP2())
			}
			o := testenv.NewTLSOrigin(t, content, opts...)
			tr := New(Options{TLSConfig: o.TLSConfig()})
			r := parse(t, o.URL("/file"))
			info := stat(t, tr, r)
			for _, span := range [][2]int64{{5000, -1}, {0, 5000}, {5000, 10000}} {
				var buf bytes.Buffer
				n, err := tr.Download(context.Background(), r, span[0], span[1], info, &buf)
				if !errors.Is(err, transport.ErrNoRanges) || n != 0 || buf.Len() != 0 {
					t.Fatalf("Download %v = %d, %v, wrote %d; want ErrNoRanges and nothing", span, n, err, buf.Len())
				}
			}
		})
	}
}

func TestRedirectPolicy(t *testing.T) {
	content := testenv.RandomContent(1000, 56)
	ctx := context.Background()
	want := transport.RemoteInfo{Size: 1000}

	newRedirecting := func(t *testing.T) *testenv.Origin {
		o := testenv.NewOrigin(t, content)
		o.Handle("/old", nethttp.RedirectHandler("/file", nethttp.StatusMovedPermanently))
		return o
	}

	t.Run("disallow", func(t *testing.T) {
		o := newRedirecting(t)
		r := parse(t, o.URL("/old"))
		r.SecurityFlags = redirectDisallow
		tr := New(Options{})
		_, err := tr.Stat(ctx, r)
		wantHR(t, err, hresult.HTTP(301), false)
		_, err = tr.Download(ctx, r, 0, -1, want, io.Discard)
		wantHR(t, err, hresult.HTTP(301), false)
		for _, req := range o.Requests() {
			if req.Path == "/file" {
				t.Fatal("the redirect was followed")
			}
		}
		// Without a redirect the policy changes nothing.
		stat(t, tr, func() *transport.Request { r := parse(t, o.URL("/file")); r.SecurityFlags = redirectDisallow; return r }())
	})

	t.Run("report", func(t *testing.T) {
		o := newRedirecting(t)
		tr := New(Options{})
		for flags, wantURL := range map[uint32]string{
			redirectAllowSilent:                       "",
			redirectAllowReport:                       o.URL("/file"),
			redirectAllowReport | redirectHTTPSToHTTP: o.URL("/file"),
		} {
			r := parse(t, o.URL("/old"))
			r.SecurityFlags = flags
			info, err := tr.Stat(ctx, r)
			if err != nil || info.Size != 1000 || info.FinalURL != wantURL {
				t.Errorf("flags 0x%x: Stat = %+v, %v; want final URL %q", flags, info, err, wantURL)
			}
		}
		r := parse(t, o.URL("/file"))
		r.SecurityFlags = redirectAllowReport
		if info, err := tr.Stat(ctx, r); err != nil || info.FinalURL != "" {
			t.Errorf("no redirect: final %q, %v", info.FinalURL, err)
		}
	})

	t.Run("https to http", func(t *testing.T) {
		plain := testenv.NewOrigin(t, content)
		secure := testenv.NewTLSOrigin(t, content)
		secure.Handle("/down", nethttp.RedirectHandler(plain.URL("/file"), nethttp.StatusFound))
		tr := New(Options{TLSConfig: secure.TLSConfig()})
		r := parse(t, secure.URL("/down"))
		_, err := tr.Download(ctx, r, 0, -1, want, io.Discard)
		wantHR(t, err, hresult.HTTP(302), false)
		if n := len(plain.Requests()); n != 0 {
			t.Fatalf("the plain origin got %d requests", n)
		}
		r.SecurityFlags = redirectHTTPSToHTTP
		var buf bytes.Buffer
		if _, err := tr.Download(ctx, r, 0, -1, want, &buf); err != nil {
			t.Fatal(err)
		}
		wantSum(t, buf.Bytes(), content)
	})

	t.Run("never to other schemes or credentials", func(t *testing.T) {
		o := testenv.NewOrigin(t, content)
		o.Handle("/smb", nethttp.RedirectHandler(`file://server/share/file`, nethttp.StatusFound))
		o.Handle("/creds", nethttp.RedirectHandler(strings.Replace(o.URL("/file"), "http://", "http://user:pw@", 1), nethttp.StatusTemporaryRedirect))
		for _, path := range []string{"/smb", "/creds"} {
			r := parse(t, o.URL(path))
			r.SecurityFlags = redirectAllowReport | redirectHTTPSToHTTP
			_, err := New(Options{}).Stat(ctx, r)
			he := wantHR(t, err, hresult.HTTP(map[string]int{"/smb": 302, "/creds": 307}[path]), false)
			if strings.Contains(he.Msg, "pw") {
				t.Errorf("message shows the password: %q", he.Msg)
			}
		}
		if got := lastPath(o); got == "/file" {
			t.Fatal("a refused redirect was followed")
		}
	})
}

func lastPath(o *testenv.Origin) string {
	reqs := o.Requests()
	return reqs[len(reqs)-1].Path
}

func TestErrorContexts(t *testing.T) {
	// Failures making the connection are the transport's; failures of the
	// request are the remote file's.
	o := testenv.NewTLSOrigin(t, testenv.RandomContent(size, 57), testenv.CutAfter(1000, 0))
	tr := New(Options{TLSConfig: o.TLSConfig()})
	_, err := New(Options{}).Stat(context.Background(), parse(t, o.URL("/file")))
	wantConnectHR(t, err, hresult.WINHTTP_SECURE_INVALID_CA, false)
	_, err = tr.Stat(context.Background(), parse(t, o.URL("/missing")))
	wantHR(t, err, hresult.HTTP(404), false)
	info := stat(t, tr, parse(t, o.URL("/file")))
	_, err = tr.Download(context.Background(), parse(t, o.URL("/file")), 0, -1, info, io.Discard)
	wantHR(t, err, hresult.WINHTTP_CONNECTION_ERROR, true)
}

func TestRedirectToAServerThatHangsUp(t *testing.T) {
	// The first hop connected; the failure is the second hop's handshake,
	// so it is placed in the transport, not in the remote file.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	o := testenv.NewOrigin(t, nil)
	o.Handle("/away", nethttp.RedirectHandler("https://"+l.Addr().String()+"/file", nethttp.StatusFound))
	_, err = New(Options{}).Stat(context.Background(), parse(t, o.URL("/away")))
	wantConnectHR(t, err, hresult.WINHTTP_CONNECTION_ERROR, true)
}
