package server

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// createAs sends a Create-Session, with Basic credentials when user is
// set.
func (f *upfix) createAs(path, user, password string) *http.Response {
	f.t.Helper()
	req, err := http.NewRequest("BITS_POST", f.ts.URL+path, http.NoBody)
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("BITS-Packet-Type", "Create-Session")
	req.Header.Set("BITS-Supported-Protocols", upload15)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	return f.send(req)
}

// createFrom sends a Create-Session straight to the Server as if from
// addr, which loopback cannot show.
func (f *upfix) createFrom(addr, path string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("BITS_POST", path, http.NoBody)
	req.RemoteAddr = addr
	req.Header.Set("BITS-Packet-Type", "Create-Session")
	req.Header.Set("BITS-Supported-Protocols", upload15)
	w := httptest.NewRecorder()
	f.srv.Load().ServeHTTP(w, req)
	return w
}

// expectBusy checks the refusal of a Create-Session past a limit: 503,
// BG_E_HTTP_ERROR_503 from the server, a Retry-After of so many seconds,
// and no session.
func expectBusy(t *testing.T, resp *http.Response, retryAfter string) {
	t.Helper()
	expectAck(t, resp, http.StatusServiceUnavailable, "0x801901f7")
	if got := resp.Header.Get("BITS-Error-Context"); got != "0x5" {
		t.Errorf("BITS-Error-Context %q, want 0x5", got)
	}
	if got := resp.Header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After %q, want %q", got, retryAfter)
	}
	if got := resp.Header.Get("BITS-Session-Id"); got != "" {
		t.Errorf("refused, but with BITS-Session-Id %q", got)
	}
}

func TestSessionLimitPerClient(t *testing.T) {
	f := startUploads(t, func(c *Config) { c.MaxSessionsPerClient = 3 })
	a := f.create("/up/a.bin")
	b := f.create("/up/b.bin")
	f.create("/up/c.bin")
	expectBusy(t, f.createAs("/up/d.bin", "", ""), "60")
	if n := len(sessionDirs(t, f.up)); n != 3 {
		t.Fatalf("%d session folders after a refusal, want 3", n)
	}

	// Closed and cancelled sessions keep their records but no place.
	expectAck(t, f.closeSession("/up/a.bin", a), http.StatusOK, "")
	d := f.create("/up/d.bin")
	expectBusy(t, f.createAs("/up/e.bin", "", ""), "60")
	expectAck(t, f.cancelSession("/up/b.bin", b), http.StatusOK, "")
	f.create("/up/e.bin")
	expectBusy(t, f.createAs("/up/f.bin", "", ""), "60")
	// Repeating a close or cancel frees nothing more.
	expectAck(t, f.closeSession("/up/a.bin", a), http.StatusOK, "")
	expectAck(t, f.cancelSession("/up/b.bin", b), http.StatusOK, "")
	expectBusy(t, f.createAs("/up/f.bin", "", ""), "60")
	// A full upload, with its last fragment in, still holds its place
	// until Close-Session.
	expectAck(t, f.fragment("/up/d.bin", d, 0, 3, []byte("abc")), http.StatusOK, "")
	expectBusy(t, f.createAs("/up/f.bin", "", ""), "60")
	expectAck(t, f.closeSession("/up/d.bin", d), http.StatusOK, "")
	f.upload("/up/f.bin", []byte("full"), 2)
	if got := readFile(t, filepath.Join(f.up, "f.bin")); string(got) != "full" {
		t.Fatalf("f.bin = %q", got)
	}
}

// TestSessionLimitPerUser: with authentication a client is its user.
func TestSessionLimitPerUser(t *testing.T) {
	f := startUploads(t, func(c *Config) {
		withUsers(t, "alice:"+hash(t, "a"), "bob:"+hash(t, "b"), "carol:"+hash(t, "c"))(c)
		c.MaxSessionsPerClient = 2
		c.MaxSessions = 3
	})
	for range 2 {
		expectAck(t, f.createAs("/up/a.bin", "alice", "a"), http.StatusOK, "")
	}
	expectBusy(t, f.createAs("/up/a.bin", "alice", "a"), "60")
	expectAck(t, f.createAs("/up/b.bin", "bob", "b"), http.StatusOK, "")
	// Three in all: carol is within her own limit but not the server's.
	expectBusy(t, f.createAs("/up/c.bin", "carol", "c"), "60")
	expectBusy(t, f.createAs("/up/b.bin", "bob", "b"), "60")
}

func TestSessionLimitPerAddress(t *testing.T) {
	f := startUploads(t, func(c *Config) { c.MaxSessionsPerClient = 1 })
	for _, c := range []struct {
		addr   string
		status int
	}{
		{"192.0.2.1:1000", http.StatusOK},
		{"192.0.2.1:2000", http.StatusServiceUnavailable}, // another port, the same client
		{"192.0.2.2:1000", http.StatusOK},
		{"[::ffff:192.0.2.2]:1000", http.StatusServiceUnavailable}, // the same address mapped to IPv6
		{"[2001:db8:1:2::1]:1000", http.StatusOK},
		{"[2001:db8:1:2:ffff::9]:1000", http.StatusServiceUnavailable}, // the same /64
		{"[2001:db8:1:3::1]:1000", http.StatusOK},
	} {
		w := f.createFrom(c.addr, "/up/a.bin")
		if w.Code != c.status {
			t.Errorf("Create-Session from %s: %d, want %d", c.addr, w.Code, c.status)
		}
		if c.status == http.StatusServiceUnavailable && w.Header().Get("Retry-After") != "60" {
			t.Errorf("Create-Session from %s: Retry-After %q", c.addr, w.Header().Get("Retry-After"))
		}
	}
}

func TestClientOf(t *testing.T) {
	for _, c := range []struct{ addr, user, want string }{
		{"192.0.2.1:80", "", "ip 192.0.2.1"},
		{"192.0.2.1:80", "alice", "user alice"},
		{"[::ffff:192.0.2.1]:80", "", "ip 192.0.2.1"},
		{"[2001:db8::1]:80", "", "ip 2001:db8::/64"},
		{"[fe80::1%eth0]:80", "", "ip fe80::/64"},
		{"@", "", "address @"}, // a Unix socket, say
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.addr
		if got := clientOf(r, c.user); got != c.want {
			t.Errorf("clientOf(%q, %q) = %q, want %q", c.addr, c.user, got, c.want)
		}
	}
}

// TestSessionLimitConcurrent: Create-Sessions at once cannot overshoot
// the limit between counting and creating.
func TestSessionLimitConcurrent(t *testing.T) {
	const limit, tries = 5, 40
	f := startUploads(t, func(c *Config) { c.MaxSessions = limit })
	var wg sync.WaitGroup
	statuses := make(chan int, tries)
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("BITS_POST", f.ts.URL+fmt.Sprintf("/up/c%02d.bin", i), http.NoBody)
			req.Header.Set("BITS-Packet-Type", "Create-Session")
			req.Header.Set("BITS-Supported-Protocols", upload15)
			resp, err := f.ts.Client().Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for s := range statuses {
		count[s]++
	}
	if count[http.StatusOK] != limit || count[http.StatusServiceUnavailable] != tries-limit {
		t.Fatalf("answers %v, want %d × 200 and %d × 503", count, limit, tries-limit)
	}
	if n := len(sessionDirs(t, f.up)); n != limit {
		t.Fatalf("%d session folders, want %d", n, limit)
	}
}

// TestSessionLimitExpired: a session past the timeout holds no place,
// even before a sweep deletes it; one that makes progress keeps it.
func TestSessionLimitExpired(t *testing.T) {
	const timeout = time.Hour
	f := startUploads(t, func(c *Config) {
		c.SessionTimeout = timeout
		c.MaxSessionsPerClient = 2
	})
	idle := f.create("/up/idle.bin")
	busy := f.create("/up/busy.bin")
	f.clock.advance(40 * time.Minute)
	expectAck(t, f.fragment("/up/busy.bin", busy, 0, 4, []byte("ab")), http.StatusOK, "")
	expectBusy(t, f.createAs("/up/x.bin", "", ""), "60")
	f.clock.advance(21 * time.Minute) // idle.bin: 61 minutes without progress; busy.bin: 21
	f.create("/up/x.bin")
	expectBusy(t, f.createAs("/up/y.bin", "", ""), "60")
	expectAck(t, f.fragment("/up/idle.bin", idle, 0, 1, []byte("a")), http.StatusInternalServerError, "0x8020001f")
	expectAck(t, f.fragment("/up/busy.bin", busy, 2, 4, []byte("cd")), http.StatusOK, "")
}

// TestExpiredOnAccess: a session found expired when it is used is
// deleted and stops counting at once.
func TestExpiredOnAccess(t *testing.T) {
	f := startUploads(t, func(c *Config) { c.SessionTimeout = time.Hour })
	id := f.create("/up/a.bin")
	f.clock.advance(time.Hour + time.Second)
	expectAck(t, f.fragment("/up/a.bin", id, 0, 1, []byte("a")), http.StatusInternalServerError, "0x8020001f")
	if total, _ := f.srv.Load().limits.counts(""); total != 0 {
		t.Fatalf("the limits count %d sessions, want 0", total)
	}
}

// TestSweepWhileCreating: sweeps that run while sessions are created and
// closed leave the limits counting exactly the live sessions on disk.
func TestSweepWhileCreating(t *testing.T) {
	f := startUploads(t, nil)
	const workers, each = 8, 12
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				path := fmt.Sprintf("/up/w%d-%d.bin", w, i)
				if i%2 == 0 {
					errs <- uploadConcurrently(f, path, []byte("data"), 4, 1)
					continue
				}
				req, _ := http.NewRequest("BITS_POST", f.ts.URL+path, http.NoBody)
				req.Header.Set("BITS-Packet-Type", "Create-Session")
				req.Header.Set("BITS-Supported-Protocols", upload15)
				resp, err := f.ts.Client().Do(req)
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("Create-Session of %s: %s", path, resp.Status)
					}
				}
				errs <- err
			}
		}()
	}
	done := make(chan struct{})
	swept := make(chan int)
	go func() {
		n := 0
		for ; n < 10_000; n++ {
			select {
			case <-done:
				swept <- n
				return
			default:
				f.srv.Load().sweep()
			}
		}
		swept <- n
	}()
	go func() { wg.Wait(); close(errs) }()
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	close(done)
	t.Logf("%d sweeps ran alongside", <-swept)
	live := workers * each / 2
	if total, _ := f.srv.Load().limits.counts(""); total != live {
		t.Fatalf("the limits count %d sessions, want the %d left open", total, live)
	}
	f.srv.Load().sweep()
	if total, _ := f.srv.Load().limits.counts(""); total != live {
		t.Fatalf("after one more sweep the limits count %d sessions, want %d", total, live)
	}
}

// TestSweepGenerations: a sweep stops counting the sessions it did not
// find unless they were created, or their record written, while it ran.
func TestSweepGenerations(t *testing.T) {
	l := newSessionLimits(&Config{SessionTimeout: time.Hour})
	l.admit("gone", "ip a", t0)
	l.admit("slow", "ip a", t0) // its record is written after the sweep read the folder
	g := l.beginSweep()
	l.admit("new", "ip b", t0)
	l.touch("slow", t0)
	l.endSweep(g)
	if _, ok := l.open["gone"]; ok || len(l.open) != 2 {
		t.Fatalf("after the sweep: %v, want slow and new", l.open)
	}
	if total, a := l.counts("ip a"); total != 2 || a != 1 {
		t.Fatalf("counts %d in all, %d of a; want 2 and 1", total, a)
	}
	// Two sweeps at once: the earlier one finding a session last does
	// not make the later one miss it.
	g1, g2 := l.beginSweep(), l.beginSweep()
	l.found("slow", "ip a", t0, g2)
	l.found("new", "ip b", t0, g2)
	l.found("slow", "ip a", t0, g1)
	l.endSweep(g2)
	if len(l.open) != 2 {
		t.Fatalf("after two sweeps at once: %v, want slow and new", l.open)
	}
}

// TestSweepFreesPlaces: the sweep deletes the idle session and keeps the
// live one, the idle one's place in the limits is free again, and the
// live one carries on.
func TestSweepFreesPlaces(t *testing.T) {
	const timeout = time.Hour
	f := startUploads(t, func(c *Config) {
		c.SessionTimeout = timeout
		c.MaxSessionsPerClient = 2
		c.MaxSessions = 2
	})
	idle := f.create("/up/idle.bin")
	live := f.create("/up/live.bin")
	idleKey, _ := parseSessionID(idle)
	liveKey, _ := parseSessionID(live)
	f.clock.advance(40 * time.Minute)
	expectAck(t, f.fragment("/up/live.bin", live, 0, 4, []byte("ab")), http.StatusOK, "")
	f.clock.advance(21 * time.Minute)

	s := f.srv.Load()
	s.sweep()
	if dirs := sessionDirs(t, f.up); len(dirs) != 1 || dirs[0] != liveKey {
		t.Fatalf("after the sweep: %v, want only %s (not %s)", dirs, liveKey, idleKey)
	}
	if total, mine := s.limits.counts("ip 127.0.0.1"); total != 1 || mine != 1 {
		t.Fatalf("after the sweep the limits count %d sessions, %d of the client's; want 1 and 1", total, mine)
	}
	expectAck(t, f.fragment("/up/idle.bin", idle, 0, 1, []byte("a")), http.StatusInternalServerError, "0x8020001f")
	expectAck(t, f.fragment("/up/live.bin", live, 2, 4, []byte("cd")), http.StatusOK, "")
	f.create("/up/next.bin")
	expectBusy(t, f.createAs("/up/more.bin", "", ""), "60")
	expectAck(t, f.closeSession("/up/live.bin", live), http.StatusOK, "")
	if got := readFile(t, filepath.Join(f.up, "live.bin")); string(got) != "abcd" {
		t.Fatalf("live.bin = %q", got)
	}
}

// TestSessionLimitsFromDisk: a restarted server counts the sessions on
// disk, and a sweep stops counting sessions deleted by hand.
func TestSessionLimitsFromDisk(t *testing.T) {
	f := startUploads(t, func(c *Config) { c.MaxSessionsPerClient = 2 })
	a := f.create("/up/a.bin")
	b := f.create("/up/b.bin")
	f.restart()
	expectBusy(t, f.createAs("/up/c.bin", "", ""), "60")
	expectAck(t, f.cancelSession("/up/a.bin", a), http.StatusOK, "")
	f.create("/up/c.bin")
	f.restart() // a's record stays, cancelled: it must not count
	expectBusy(t, f.createAs("/up/d.bin", "", ""), "60")

	key, _ := parseSessionID(b)
	if err := os.RemoveAll(filepath.Join(f.up, stateDirName, key)); err != nil {
		t.Fatal(err)
	}
	expectBusy(t, f.createAs("/up/d.bin", "", ""), "60")
	f.srv.Load().sweep()
	f.create("/up/d.bin")
	expectBusy(t, f.createAs("/up/e.bin", "", ""), "60")
}

func TestSessionRate(t *testing.T) {
	f := startUploads(t, func(c *Config) {
		withUsers(t, "alice:"+hash(t, "a"), "bob:"+hash(t, "b"))(c)
		c.SessionRate = 2 // one every 500 ms
		c.SessionBurst = 3
	})
	for range 3 {
		expectAck(t, f.createAs("/up/a.bin", "alice", "a"), http.StatusOK, "")
	}
	expectBusy(t, f.createAs("/up/a.bin", "alice", "a"), "1") // 500 ms, rounded up
	expectAck(t, f.createAs("/up/b.bin", "bob", "b"), http.StatusOK, "")
	f.clock.advance(499 * time.Millisecond)
	expectBusy(t, f.createAs("/up/a.bin", "alice", "a"), "1")
	f.clock.advance(time.Millisecond)
	expectAck(t, f.createAs("/up/a.bin", "alice", "a"), http.StatusOK, "")
	expectBusy(t, f.createAs("/up/a.bin", "alice", "a"), "1")
	// Credit builds up to the burst, no further.
	f.clock.advance(time.Hour)
	for range 3 {
		expectAck(t, f.createAs("/up/a.bin", "alice", "a"), http.StatusOK, "")
	}
	expectBusy(t, f.createAs("/up/a.bin", "alice", "a"), "1")
	if n := len(sessionDirs(t, f.up)); n != 8 {
		t.Fatalf("%d session folders, want 8", n)
	}
}

func TestSessionRateSlow(t *testing.T) {
	f := startUploads(t, func(c *Config) { c.SessionRate = 0.01 }) // one every 100 s; a burst of 1
	f.create("/up/a.bin")
	expectBusy(t, f.createAs("/up/a.bin", "", ""), "100")
	f.clock.advance(30 * time.Second)
	expectBusy(t, f.createAs("/up/a.bin", "", ""), "70")
	f.clock.advance(70 * time.Second)
	f.create("/up/a.bin")
}

// TestRateClientsPruned: clients back to their full burst are forgotten,
// so that a stream of new addresses cannot grow the map for ever.
func TestRateClientsPruned(t *testing.T) {
	l := newSessionLimits(&Config{SessionRate: 1, SessionBurst: 2})
	for range 2 {
		if _, ok := l.take("ip busy", t0); !ok {
			t.Fatal("busy refused within its burst")
		}
	}
	for i := range minPaidClients - 1 {
		if _, ok := l.take(fmt.Sprint("ip ", i), t0); !ok {
			t.Fatalf("client %d refused", i)
		}
	}
	if len(l.paid) != minPaidClients {
		t.Fatalf("%d clients, want %d", len(l.paid), minPaidClients)
	}
	// A second on, the clients that took one session have their burst
	// back; busy, which took two, has not.
	if _, ok := l.take("ip late", t0.Add(time.Second)); !ok {
		t.Fatal("a new client refused")
	}
	if _, ok := l.paid["ip busy"]; len(l.paid) != 2 || !ok {
		t.Fatalf("%d clients after pruning, want busy and late", len(l.paid))
	}
	if wait, ok := l.take("ip busy", t0.Add(time.Second)); !ok {
		t.Fatalf("busy refused (wait %v) with a token earned", wait)
	}
	if wait, ok := l.take("ip busy", t0.Add(time.Second)); ok || wait != time.Second {
		t.Fatalf("busy: ok %v, wait %v; want a refusal for 1s", ok, wait)
	}
}

func TestNewRefusesLimits(t *testing.T) {
	ok := []VirtualDir{{Prefix: "/up", Folder: t.TempDir()}}
	for name, c := range map[string]Config{
		"negative total":      {Uploads: ok, MaxSessions: -1},
		"negative per client": {Uploads: ok, MaxSessionsPerClient: -1},
		"negative rate":       {Uploads: ok, SessionRate: -1},
		"rate too slow":       {Uploads: ok, SessionRate: 0.0001},
		"rate not a number":   {Uploads: ok, SessionRate: math.NaN()},
		"rate infinite":       {Uploads: ok, SessionRate: math.Inf(1)},
		"negative burst":      {Uploads: ok, SessionRate: 1, SessionBurst: -1},
	} {
		if s, err := New(c); err == nil {
			s.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}
	s, err := New(Config{Uploads: ok, SessionRate: 2.5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.cfg.SessionBurst != 3 {
		t.Errorf("the burst of a rate of 2.5 is %d, want 3 (a second's worth)", s.cfg.SessionBurst)
	}
}
