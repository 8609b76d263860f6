package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	nethttp "net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"bits/internal/testenv"

	"github.com/minio/minio-go/v7"
)

// heldBody lets n bytes of a body through, then signals reached and
// waits for release before it fails, as a connection to a server that
// died would.
type heldBody struct {
	r        io.ReadCloser
	n        int64
	reached  chan struct{}
	release  chan struct{}
	signaled bool
}

func (b *heldBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		if !b.signaled {
			b.signaled = true
			close(b.reached)
		}
		<-b.release
		return 0, io.ErrUnexpectedEOF
	}
	p = p[:min(int64(len(p)), b.n)]
	k, err := b.r.Read(p)
	b.n -= int64(k)
	return k, err
}

func (b *heldBody) Close() error { return b.r.Close() }

// farm is an S3 server and three bitsservers sharing it.
type farm struct {
	t       *testing.T
	s3      *testenv.S3
	servers []*bitsserver
	rr      *testenv.Balancer
	client  *minio.Client
	prefix  string
}

func startFarm(t *testing.T) *farm {
	t.Helper()
	s3 := testenv.StartS3(t)
	f := &farm{t: t, s3: s3, prefix: "farm/"}
	var urls []string
	for range 3 {
		s := &bitsserver{t: t, env: s3.Env(), args: []string{"-listen", "127.0.0.1:0",
			"-store", "s3://" + s3.Bucket() + "/" + f.prefix, "-upload", "/up=files",
			"-max-sessions-per-client", "0", "-session-rate", "0"}}
		s.start()
		s.args[1] = strings.TrimPrefix(s.url, "http://")
		t.Cleanup(s.kill)
		f.servers = append(f.servers, s)
		urls = append(urls, s.url)
	}
	f.rr = testenv.NewBalancer(t, urls...)
	f.client = s3.Client(t)
	return f
}

func (f *farm) url(name string) string { return "http://" + f.rr.Addr() + "/up/" + name }

// stored is the checksum of a finished upload in the store.
func (f *farm) stored(name string) [32]byte {
	f.t.Helper()
	o, err := f.client.GetObject(context.Background(), f.s3.Bucket(), f.prefix+"files/"+name, minio.GetObjectOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	defer o.Close()
	h := sha256.New()
	if _, err := io.Copy(h, o); err != nil {
		f.t.Fatalf("%s: %v", name, err)
	}
	return [32]byte(h.Sum(nil))
}

// objects is what the store holds under the farm's prefix.
func (f *farm) objects() []string {
	f.t.Helper()
	var names []string
	for o := range f.client.ListObjects(context.Background(), f.s3.Bucket(), minio.ListObjectsOptions{Prefix: f.prefix, Recursive: true}) {
		if o.Err != nil {
			f.t.Fatal(o.Err)
		}
		names = append(names, strings.TrimPrefix(o.Key, f.prefix))
	}
	for u := range f.client.ListIncompleteUploads(context.Background(), f.s3.Bucket(), f.prefix, true) {
		names = append(names, "incomplete upload of "+u.Key)
	}
	slices.Sort(names)
	return names
}

// waitTransferred waits, bounded, for a job that may take minutes.
func waitTransferred(t *testing.T, u *user, job string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		st := u.raw("/getstate", job)
		switch st {
		case "TRANSFERRED":
			return
		case "ERROR":
			log, _ := os.ReadFile(u.home + "/worker.log")
			t.Fatalf("%s: ERROR; the worker's log:\n%s", job, log)
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(u.home + "/worker.log")
			t.Fatalf("%s: %s, not transferred within %v; the worker's log:\n%s", job, st, limit, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestFarmUploads uploads through three bitsservers sharing an S3 store,
// a request to each in turn: files of 0 B, 1 B, 5 MiB - 1 and a large
// one; a server killed (SIGKILL) in the middle of a fragment; the S3
// server restarted between two fragments; many clients at once. Every
// file must arrive whole, and nothing but the files stay in the store.
func TestFarmUploads(t *testing.T) {
	f := startFarm(t)
	u := newUser(t)
	want := map[string][32]byte{}
	upload := func(job string, size int) {
		t.Helper()
		src, sum := uploadSource(t, size)
		want[job+".bin"] = sum
		u.ok("/create", "/upload", job)
		u.ok("/addfile", job, f.url(job+".bin"), src)
		u.ok("/setminretrydelay", job, "1")
		u.ok("/resume", job)
	}
	finish := func(job string, limit time.Duration) {
		t.Helper()
		waitTransferred(t, u, job, limit)
		u.ok("/complete", job)
		if got := f.stored(job + ".bin"); got != want[job+".bin"] {
			t.Fatalf("%s: the stored file differs from the source", job)
		}
	}

	for _, n := range []int{0, 1, 5<<20 - 1} {
		job := fmt.Sprintf("size%d", n)
		upload(job, n)
		finish(job, time.Minute)
	}

	// The large one: a server dies in the middle of a fragment, and the
	// store restarts between two fragments.
	large := 300 << 20
	if testing.Short() {
		large = 64 << 20
	}
	reached, release := make(chan struct{}), make(chan struct{})
	var armed atomic.Bool
	armed.Store(true)
	trap := func(target int, r *nethttp.Request) io.ReadCloser {
		if target != 1 || r.ContentLength < 256<<10 || !armed.CompareAndSwap(true, false) {
			return nil
		}
		return &heldBody{r: r.Body, n: r.ContentLength / 2, reached: reached, release: release}
	}
	f.rr.TrapFragments(trap)
	upload("large", large)
	select {
	case <-reached:
	case <-time.After(2 * time.Minute):
		t.Fatal("no fragment reached the second server")
	}
	f.servers[1].kill()
	f.rr.MarkDead(1)
	close(release)

	// Hold the next fragment before it leaves the balancer while the
	// store restarts.
	held, resume := make(chan struct{}), make(chan struct{})
	var armed2 atomic.Bool
	armed2.Store(true)
	trap2 := func(target int, r *nethttp.Request) io.ReadCloser {
		if !armed2.CompareAndSwap(true, false) {
			return nil
		}
		close(held)
		<-resume
		return nil
	}
	f.rr.TrapFragments(trap2)
	select {
	case <-held:
	case <-time.After(2 * time.Minute):
		t.Fatal("no fragment after the kill")
	}
	f.s3.Restart(t)
	close(resume)
	f.rr.TrapFragments(nil)
	finish("large", 10*time.Minute)
	for i := range f.rr.Targets() {
		if n := f.rr.Fragments(i); n == 0 {
			t.Errorf("server %d got no fragment", i)
		}
	}
	// The session outlived the kill and the restart: no upload started over.
	if log, _ := os.ReadFile(u.home + "/worker.log"); strings.Contains(string(log), "session lost") {
		t.Errorf("an upload session was lost; the worker log:\n%s", log)
	}
	// Downloads come from the store, through any server.
	for _, name := range []string{"size1.bin", "large.bin"} {
		resp, err := nethttp.Get(f.url(name))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != nethttp.StatusOK || [32]byte(h.Sum(nil)) != want[name] || resp.Header.Get("ETag") == "" {
			t.Fatalf("GET %s: %s, %v, ETag %q; want the uploaded file", name, resp.Status, err, resp.Header.Get("ETag"))
		}
	}

	// Many clients at once, on the two servers left: foreground jobs,
	// which the workers start at once, resumed all together.
	const clients = 50
	users := make([]*user, 5)
	for i := range users {
		users[i] = newUser(t)
	}
	job := func(i int) (*user, string) { return users[i%len(users)], fmt.Sprintf("many%d", i) }
	for i := range clients {
		uu, name := job(i)
		src, sum := uploadSource(t, 1<<20+i*37_001)
		want[name+".bin"] = sum
		uu.ok("/create", "/upload", name)
		uu.ok("/addfile", name, f.url(name+".bin"), src)
		uu.ok("/setminretrydelay", name, "1")
		uu.ok("/setpriority", name, "FOREGROUND")
	}
	f.rr.ResetMaxInFlight()
	var wg sync.WaitGroup
	errs := make(chan string, clients)
	for i := range clients {
		wg.Go(func() {
			uu, name := job(i)
			if out, err := uu.command("bitsadmin", "/resume", name).CombinedOutput(); err != nil {
				errs <- fmt.Sprintf("resume %s: %v\n%s", name, err, out)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	for i := range clients {
		uu, name := job(i)
		waitTransferred(t, uu, name, 5*time.Minute)
		uu.ok("/complete", name)
		if got := f.stored(name + ".bin"); got != want[name+".bin"] {
			t.Fatalf("%s: the stored file differs from the source", name)
		}
	}
	t.Logf("at most %d requests at once through the balancer", f.rr.MaxInFlight())
	if n := f.rr.MaxInFlight(); n < 10 {
		t.Errorf("at most %d requests at once through the balancer: the clients did not upload together", n)
	}

	var files []string
	for name := range want {
		files = append(files, "files/"+name)
	}
	slices.Sort(files)
	if got := f.objects(); !slices.Equal(got, files) {
		t.Errorf("the store holds\n%q\nwant only the files\n%q", got, files)
	}
}
