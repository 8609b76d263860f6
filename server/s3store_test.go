package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"bits/internal/testenv"

	"github.com/minio/minio-go/v7"
)

// farmFix is several Servers sharing one S3 store under a prefix of
// their own, each on its own loopback port, with one clock.
type farmFix struct {
	t      *testing.T
	s3     *testenv.S3
	prefix string
	urls   []string
	srvs   []*Server
	clock  *fakeClock
	log    *testenv.SyncBuffer
	client *minio.Client
}

func startFarm(t *testing.T, s3 *testenv.S3, n int, change func(*Config)) *farmFix {
	t.Helper()
	prefix := strings.ToLower(strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())) + "/"
	f := &farmFix{t: t, s3: s3, prefix: prefix, clock: &fakeClock{now: time.Now()}, log: &testenv.SyncBuffer{}}
	f.client = s3.Client(t)
	for range n {
		st, err := OpenS3Store(S3Config{
			Endpoint: s3.Endpoint(), Region: s3.Region(), AccessKey: s3.AccessKey(), SecretKey: s3.SecretKey(),
			Bucket: s3.Bucket(), Prefix: prefix,
		})
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{
			Uploads: []VirtualDir{{Prefix: "/up", Folder: "files"}},
			Store:   st,
			Now:     f.clock.Now,
			Log:     log.New(f.log, "", 0),
		}
		if change != nil {
			change(&cfg)
		}
		srv, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv)
		t.Cleanup(func() { ts.Close(); srv.Close() })
		f.srvs = append(f.srvs, srv)
		f.urls = append(f.urls, ts.URL)
	}
	return f
}

func (f *farmFix) post(i int, path string, body []byte, header ...string) *http.Response {
	f.t.Helper()
	req, err := http.NewRequest("BITS_POST", f.urls[i]+path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	for k := 0; k+1 < len(header); k += 2 {
		req.Header.Set(header[k], header[k+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (f *farmFix) create(i int, path string) string {
	f.t.Helper()
	resp := f.post(i, path, nil, "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", upload15)
	expectAck(f.t, resp, http.StatusOK, "")
	return resp.Header.Get("BITS-Session-Id")
}

func (f *farmFix) fragment(i int, path, id string, first, total int64, data []byte) *http.Response {
	f.t.Helper()
	return f.post(i, path, data, "BITS-Packet-Type", "Fragment", "BITS-Session-Id", id,
		"Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, first+int64(len(data))-1, total))
}

func (f *farmFix) closeSession(i int, path, id string) *http.Response {
	f.t.Helper()
	return f.post(i, path, nil, "BITS-Packet-Type", "Close-Session", "BITS-Session-Id", id)
}

// objects lists what the store holds under the test's prefix.
func (f *farmFix) objects() []string {
	f.t.Helper()
	var names []string
	for o := range f.client.ListObjects(context.Background(), f.s3.Bucket(), minio.ListObjectsOptions{Prefix: f.prefix, Recursive: true}) {
		if o.Err != nil {
			f.t.Fatal(o.Err)
		}
		names = append(names, strings.TrimPrefix(o.Key, f.prefix))
	}
	slices.Sort(names)
	return names
}

func (f *farmFix) object(name string) []byte {
	f.t.Helper()
	o, err := f.client.GetObject(context.Background(), f.s3.Bucket(), f.prefix+name, minio.GetObjectOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		f.t.Fatalf("%s: %v", name, err)
	}
	return b
}

// TestFarmStore runs one S3 server for the farm's store semantics.
func TestFarmStore(t *testing.T) {
	s3 := testenv.StartS3(t)
	f := startFarm(t, s3, 2, nil)
	defer func() {
		if t.Failed() {
			t.Logf("servers' log:\n%s", f.log.String())
		}
	}()

	t.Run("sizes spread over two servers", func(t *testing.T) {
		f.t = t
		const mib = 1 << 20
		cases := []struct {
			name  string
			size  int
			frags []int // fragment sizes, repeated
		}{
			{"empty", 0, nil},
			{"one", 1, []int{1}},
			{"under5", 5*mib - 1, []int{mib}},
			{"small-then-big", 17*mib + 3, []int{100 << 10, 3 * mib, 6 * mib, 700 << 10}},
			{"big", 13 * mib, []int{6 * mib}},
		}
		for k, c := range cases {
			data := pattern(c.size, byte(k))
			path := "/up/" + c.name + ".bin"
			id := f.create(k%2, path)
			for off, i := 0, 0; off < len(data); i++ {
				end := min(off+c.frags[i%len(c.frags)], len(data))
				resp := f.fragment(i%2, path, id, int64(off), int64(len(data)), data[off:end])
				expectAck(t, resp, http.StatusOK, "")
				expectReceived(t, resp, int64(end))
				off = end
			}
			expectAck(t, f.closeSession((k+1)%2, path, id), http.StatusOK, "")
			// Sent again, to either server: done already.
			expectAck(t, f.closeSession(k%2, path, id), http.StatusOK, "")
			if got := f.object("files/" + c.name + ".bin"); !bytes.Equal(got, data) {
				t.Fatalf("%s: the stored file differs (%d bytes, want %d)", c.name, len(got), len(data))
			}
			resp, err := http.Get(f.urls[(k+1)%2] + path)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) || resp.Header.Get("ETag") == "" {
				t.Fatalf("%s: GET %s: %s, %d bytes, ETag %q", c.name, path, resp.Status, len(got), resp.Header.Get("ETag"))
			}
		}
		want := []string{"files/big.bin", "files/empty.bin", "files/one.bin", "files/small-then-big.bin", "files/under5.bin"}
		if got := f.objects(); !slices.Equal(got, want) {
			t.Fatalf("the store holds %q, want only the files %q", got, want)
		}
	})

	t.Run("ranged download", func(t *testing.T) {
		f.t = t
		req, _ := http.NewRequest("GET", f.urls[0]+"/up/one.bin", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		etag := resp.Header.Get("ETag")
		data := pattern(17<<20+3, 3)
		req, _ = http.NewRequest("GET", f.urls[1]+"/up/small-then-big.bin", nil)
		req.Header.Set("Range", "bytes=5242000-5243999")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, data[5242000:5244000]) {
			t.Fatalf("ranged GET: %s, %d bytes", resp.Status, len(got))
		}
		req, _ = http.NewRequest("HEAD", f.urls[1]+"/up/one.bin", nil)
		req.Header.Set("If-None-Match", etag)
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotModified {
			t.Fatalf("HEAD with the ETag: %s, want 304", resp.Status)
		}
		for _, p := range []string{"/up/missing.bin", "/up/.bits-sessions/x", "/up/../files/one.bin"} {
			resp, err := http.Get(f.urls[0] + p)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusBadRequest {
				t.Errorf("GET %s: %s, want 404 or 400", p, resp.Status)
			}
		}
	})

	t.Run("a fragment reaches B after A", func(t *testing.T) {
		f.t = t
		data := pattern(3000, 9)
		path := "/up/handover.bin"
		id := f.create(0, path)
		expectReceived(t, f.fragment(0, path, id, 0, 3000, data[:1000]), 1000)
		// B knows what A took: a gap and a resend get 416 with it.
		resp := f.fragment(1, path, id, 1500, 3000, data[1500:2000])
		expectAck(t, resp, http.StatusRequestedRangeNotSatisfiable, "")
		expectReceived(t, resp, 1000)
		resp = f.fragment(1, path, id, 0, 3000, data[:800])
		expectAck(t, resp, http.StatusRequestedRangeNotSatisfiable, "")
		expectReceived(t, resp, 1000)
		// A body cut short stores nothing.
		c, err := net.Dial("tcp", strings.TrimPrefix(f.urls[1], "http://"))
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(c, "BITS_POST %s HTTP/1.1\r\nHost: x\r\nBITS-Packet-Type: Fragment\r\nBITS-Session-Id: %s\r\n"+
			"Content-Range: bytes 1000-1999/3000\r\nContent-Length: 1000\r\n\r\n", path, id)
		c.Write(data[1000:1200])
		c.(*net.TCPConn).CloseWrite()
		if cut, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil && cut.StatusCode == http.StatusOK {
			t.Fatal("a cut body was accepted")
		}
		c.Close()
		expectAck(t, f.fragment(0, path, id, 2000, 3000, data[2000:]), http.StatusRequestedRangeNotSatisfiable, "")
		// An overlapping fragment is taken for its new part.
		expectReceived(t, f.fragment(1, path, id, 500, 3000, data[500:2000]), 2000)
		// Close before the end is refused.
		expectAck(t, f.closeSession(0, path, id), http.StatusBadRequest, "0x80070057")
		expectReceived(t, f.fragment(0, path, id, 2000, 3000, data[2000:]), 3000)
		expectAck(t, f.closeSession(1, path, id), http.StatusOK, "")
		if got := f.object("files/handover.bin"); !bytes.Equal(got, data) {
			t.Fatal("the stored file differs")
		}
	})

	t.Run("concurrent packets of one session", func(t *testing.T) {
		f.t = t
		data := pattern(64<<10, 5)
		path := "/up/race.bin"
		id := f.create(0, path)
		var wg sync.WaitGroup
		for i := range 6 {
			wg.Go(func() {
				// The same first fragment to both servers at once.
				f.fragment(i%2, path, id, 0, int64(len(data)), data[:32<<10])
			})
		}
		wg.Wait()
		expectReceived(t, f.fragment(1, path, id, 32<<10, int64(len(data)), data[32<<10:]), int64(len(data)))
		expectAck(t, f.closeSession(0, path, id), http.StatusOK, "")
		if got := f.object("files/race.bin"); !bytes.Equal(got, data) {
			t.Fatal("the stored file differs")
		}
	})

	t.Run("no overwrite", func(t *testing.T) {
		f.t = t
		expectAck(t, f.post(1, "/up/one.bin", nil, "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", upload15),
			http.StatusConflict, "0x80070005")
		path := "/up/twice.bin"
		a, b := f.create(0, path), f.create(1, path)
		expectReceived(t, f.fragment(0, path, a, 0, 3, []byte("aaa")), 3)
		expectReceived(t, f.fragment(1, path, b, 0, 3, []byte("bbb")), 3)
		expectAck(t, f.closeSession(1, path, b), http.StatusOK, "")
		expectAck(t, f.closeSession(0, path, a), http.StatusConflict, "0x80070005")
		if got := string(f.object("files/twice.bin")); got != "bbb" {
			t.Fatalf("the file holds %q, want the first closed", got)
		}
	})

	t.Run("a multipart assembly does not replace a file", func(t *testing.T) {
		f.t = t
		st := f.srvs[0].store
		ctx := context.Background()
		data := pattern(6<<20, 7)
		for _, key := range []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"} {
			if err := st.putFragment(ctx, key, 0, int64(len(data))-1, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
		}
		frags := func(key string) []fragObject {
			fr, err := st.listFragments(ctx, key)
			if err != nil || len(fr) != 1 {
				t.Fatalf("fragments of %s: %v, %v", key, fr, err)
			}
			return fr
		}
		name := st.fileName("files", "multipart.bin")
		a, b := "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
		if err := st.assemble(ctx, name, a, frags(a), int64(len(data)), false); err != nil {
			t.Fatal(err)
		}
		err := st.assemble(ctx, name, b, frags(b), int64(len(data)), false)
		by, _, _ := st.finishedBy(ctx, name)
		t.Logf("second assembly without overwrite: %v; the file is from %s", err, by)
		if !errors.Is(err, errStoreExists) || by != a {
			t.Errorf("the second assembly: %v, file from %s; want errStoreExists and the first file", err, by)
		}
		st.removeObjects(ctx, append(frags(a), frags(b)...))
		st.core.Client.RemoveObject(ctx, st.bucket, name, minio.RemoveObjectOptions{})
	})

	t.Run("cancel", func(t *testing.T) {
		f.t = t
		path := "/up/cancelled.bin"
		id := f.create(0, path)
		expectReceived(t, f.fragment(0, path, id, 0, 10, []byte("12345")), 5)
		expectAck(t, f.post(1, path, nil, "BITS-Packet-Type", "Cancel-Session", "BITS-Session-Id", id), http.StatusOK, "")
		expectAck(t, f.fragment(0, path, id, 5, 10, []byte("67890")), http.StatusInternalServerError, "0x8020001f")
	})

	t.Run("notification by value", func(t *testing.T) {
		var mu sync.Mutex
		var got [][]byte
		app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got = append(got, b)
			mu.Unlock()
			if r.URL.Query().Get("copy") != "" {
				w.Header().Set("BITS-Copy-File-To-Destination", "true")
			}
			fmt.Fprintf(w, "reply to %d bytes", len(b))
		}))
		defer app.Close()
		nf := startFarm(t, s3, 2, func(c *Config) {
			c.Uploads[0].Notify = NotifyByValue
			c.Uploads[0].NotifyURL = app.URL + "/app"
		})
		defer func() {
			if t.Failed() {
				t.Logf("notifying servers' log:\n%s", nf.log.String())
			}
		}()
		for k, size := range []int{0, 3000, 6 << 20} {
			data := pattern(size, byte(k))
			path := fmt.Sprintf("/up/n%d.bin", k)
			query := ""
			if k == 2 {
				query = "?copy=1"
			}
			id := nf.create(0, path+query)
			var reply string
			if size == 0 {
				resp := nf.closeSession(1, path+query, id)
				expectAck(t, resp, http.StatusOK, "")
				reply = resp.Header.Get("BITS-Reply-URL")
			}
			for off, i := 0, 0; off < size; i++ {
				end := min(off+1<<20, size)
				resp := nf.fragment(i%2, path+query, id, int64(off), int64(size), data[off:end])
				expectAck(t, resp, http.StatusOK, "")
				off = end
				if off == size {
					reply = resp.Header.Get("BITS-Reply-URL")
				}
			}
			if reply == "" {
				t.Fatalf("%d bytes: no BITS-Reply-URL", size)
			}
			mu.Lock()
			if n := len(got); n != k+1 || !bytes.Equal(got[n-1], data) {
				t.Fatalf("%d bytes: the application got %d notifications, the last %d bytes", size, n, len(got[n-1]))
			}
			mu.Unlock()
			// The reply, from the other server.
			reply = strings.Replace(reply, strings.TrimPrefix(nf.urls[0], "http://"), strings.TrimPrefix(nf.urls[1], "http://"), 1)
			resp, err := http.Get(reply)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := fmt.Sprintf("reply to %d bytes", size); string(body) != want {
				t.Fatalf("the reply at %s: %s %q, want %q", reply, resp.Status, body, want)
			}
			expectAck(t, nf.closeSession(1, path+query, id), http.StatusOK, "")
		}
		want := []string{"files/n2.bin"}
		if got := nf.objects(); !slices.Equal(got, want) {
			t.Fatalf("the store holds %q, want %q", got, want)
		}
		if got := nf.object("files/n2.bin"); !bytes.Equal(got, pattern(6<<20, 2)) {
			t.Fatal("the copied file differs")
		}
	})

	t.Run("session limits count sessions ended elsewhere", func(t *testing.T) {
		lf := startFarm(t, s3, 2, func(c *Config) { c.MaxSessionsPerClient = 2 })
		ids := []string{lf.create(0, "/up/l1.bin"), lf.create(0, "/up/l2.bin")}
		expectAck(t, lf.post(0, "/up/l3.bin", nil, "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", upload15),
			http.StatusServiceUnavailable, "0x801901f7")
		for k, id := range ids {
			path := fmt.Sprintf("/up/l%d.bin", k+1)
			expectReceived(t, lf.fragment(1, path, id, 0, 1, []byte("x")), 1)
			expectAck(t, lf.closeSession(1, path, id), http.StatusOK, "")
		}
		// Server 0 counted both; they ended on server 1.
		testenv.Eventually(t, "a place for a new session on server 0", func() bool {
			resp := lf.post(0, "/up/l3.bin", nil, "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", upload15)
			return resp.StatusCode == http.StatusOK
		})
	})

	t.Run("idle sessions expire once", func(t *testing.T) {
		f.t = t
		path := "/up/idle.bin"
		id := f.create(0, path)
		expectReceived(t, f.fragment(1, path, id, 0, 10, []byte("12345")), 5)
		f.clock.advance(defaultSessionTimeout + time.Hour)
		key, _ := parseSessionID(id)
		var wg sync.WaitGroup
		for _, s := range f.srvs {
			wg.Go(s.sweep)
		}
		wg.Wait()
		if n := strings.Count(f.log.String(), "session "+key+": expired"); n != 1 {
			t.Errorf("%d servers expired the session, want 1", n)
		}
		seen := map[string]bool{}
		for _, line := range strings.Split(f.log.String(), "\n") {
			if strings.HasSuffix(line, ": expired") {
				if seen[line] {
					t.Errorf("expired twice: %s", line)
				}
				seen[line] = true
			}
		}
		expectAck(t, f.fragment(0, path, id, 5, 10, []byte("67890")), http.StatusInternalServerError, "0x8020001f")
		for _, o := range f.objects() {
			if strings.HasPrefix(o, stateDirName) {
				t.Errorf("left in the store: %s", o)
			}
		}
	})
}
