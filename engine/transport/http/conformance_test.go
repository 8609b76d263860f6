package http_test

import (
	"net/url"
	"sync"
	"testing"

	"bits/engine/transport"
	httptransport "bits/engine/transport/http"
	"bits/internal/testenv"
	"bits/internal/testenv/transporttest"
)

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"HTTP", false}, {"HTTPS", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newOriginServer(t, tc.tls)
			tr := httptransport.New(httptransport.Options{TLSConfig: s.missing.TLSConfig()})
			t.Cleanup(tr.CloseIdleConnections)
			transporttest.RunDownloader(t, tr.Entry(), s)
		})
	}
}

// originServer serves each name from an origin of its own, at /file, so
// that each file gets the origin's faults independently. Names that were
// never put are asked of one more origin, which has nothing but /file and
// so answers 404 for them.
type originServer struct {
	tls     bool
	missing *testenv.Origin

	mu      sync.Mutex
	origins map[string]*testenv.Origin
}

func newOriginServer(t *testing.T, tls bool) *originServer {
	return &originServer{tls: tls, missing: newOrigin(t, tls, nil), origins: map[string]*testenv.Origin{}}
}

// newOrigin starts an origin that lives as long as the test that asks for
// it. Every httptest TLS server has the same certificate, so the missing
// origin's TLSConfig trusts them all.
func newOrigin(t testing.TB, tls bool, content []byte) *testenv.Origin {
	if tls {
		return testenv.NewTLSOrigin(t, content)
	}
	return testenv.NewOrigin(t, content)
}

func (s *originServer) origin(t testing.TB, name string) *testenv.Origin {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.origins[name]
	if o == nil {
		t.Fatalf("no file %q was put", name)
	}
	return o
}

func (s *originServer) Put(t testing.TB, name string, content []byte) *transport.Request {
	t.Helper()
	s.mu.Lock()
	o := s.origins[name]
	s.mu.Unlock()
	if o != nil {
		o.SetContent(content)
		return request(t, o.URL("/file"))
	}
	o = newOrigin(t, s.tls, content)
	s.mu.Lock()
	s.origins[name] = o
	s.mu.Unlock()
	t.Cleanup(func() {
		s.mu.Lock()
		delete(s.origins, name)
		s.mu.Unlock()
	})
	return request(t, o.URL("/file"))
}

func (s *originServer) Request(t testing.TB, name string) *transport.Request {
	t.Helper()
	s.mu.Lock()
	o := s.origins[name]
	s.mu.Unlock()
	if o != nil {
		return request(t, o.URL("/file"))
	}
	return request(t, s.missing.URL("/"+url.PathEscape(name)))
}

func (s *originServer) Deny(t testing.TB, name string) { s.origin(t, name).FailAll(403) }

// Change gives the file new content; the origin gives it a new ETag and a
// later Last-Modified with it.
func (s *originServer) Change(t testing.TB, name string, content []byte) {
	s.origin(t, name).SetContent(content)
}

func (s *originServer) CutNext(t testing.TB, name string, n int64) bool {
	s.origin(t, name).CutNext(n)
	return true
}

func request(t testing.TB, raw string) *transport.Request {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return &transport.Request{URL: u}
}
