package server

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// app is a server application for notifications: it records what it was
// sent and answers with what answer says.
type app struct {
	ts *httptest.Server

	mu    sync.Mutex
	calls []appCall
}

type appCall struct {
	url    string
	header http.Header
	body   []byte
	data   []byte // by reference: the data file's content, read by the app
}

func startApp(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, c appCall)) *app {
	a := &app{}
	a.ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := appCall{url: r.URL.String(), header: r.Header.Clone()}
		c.body, _ = io.ReadAll(r.Body)
		if name := r.Header.Get("BITS-Request-DataFile-Name"); name != "" {
			c.data, _ = os.ReadFile(name)
		}
		a.mu.Lock()
		a.calls = append(a.calls, c)
		a.mu.Unlock()
		answer(w, r, c)
	}))
	t.Cleanup(a.ts.Close)
	return a
}

func (a *app) recorded() []appCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]appCall(nil), a.calls...)
}

func notifying(a *app, t NotifyType) func(*Config) {
	return func(c *Config) {
		c.Uploads[0].Notify = t
		c.Uploads[0].NotifyURL = a.ts.URL + "/app?fixed=1"
	}
}

// uploadForReply sends data in two fragments and returns the last Ack.
func (f *upfix) uploadForReply(path string, data []byte) (string, *http.Response) {
	f.t.Helper()
	id := f.create(path)
	half := len(data) / 2
	resp := f.fragment(path, id, 0, int64(len(data)), data[:half])
	expectAck(f.t, resp, http.StatusOK, "")
	if resp.Header.Get("BITS-Reply-URL") != "" {
		f.t.Fatal("a reply URL before the last fragment")
	}
	return id, f.fragment(path, id, int64(half), int64(len(data)), data[half:])
}

func TestNotifyByValue(t *testing.T) {
	a := startApp(t, func(w http.ResponseWriter, r *http.Request, c appCall) {
		io.WriteString(w, "reply to "+string(c.body))
	})
	f := startUploads(t, notifying(a, NotifyByValue))
	data := []byte("the uploaded bytes")
	id, resp := f.uploadForReply("/up/form.bin?account=86433", data)
	expectAck(t, resp, http.StatusOK, "")
	expectReceived(t, resp, int64(len(data)))
	reply := resp.Header.Get("BITS-Reply-URL")
	key, _ := parseSessionID(id)
	if want := f.ts.URL + "/up/BITS-Sessions/Replies/" + key + "/response"; reply != want {
		t.Fatalf("BITS-Reply-URL %q, want %q", reply, want)
	}

	calls := a.recorded()
	if len(calls) != 1 {
		t.Fatalf("%d notifications, want 1", len(calls))
	}
	c := calls[0]
	if !bytes.Equal(c.body, data) {
		t.Errorf("the application got %q", c.body)
	}
	if c.url != "/app?fixed=1&account=86433" {
		t.Errorf("the application's URL %q: the upload's query must be added", c.url)
	}
	if got := c.header.Get("BITS-Original-Request-URL"); got != f.ts.URL+"/up/form.bin?account=86433" {
		t.Errorf("BITS-Original-Request-URL %q", got)
	}

	// The reply, whole and in ranges, as a BITS client fetches it.
	want := "reply to the uploaded bytes"
	if r, body := f.get(reply); r.StatusCode != http.StatusOK || string(body) != want {
		t.Fatalf("GET reply: %s %q", r.Status, body)
	}
	if r, body := f.get(reply, "Range", "bytes=9-11"); r.StatusCode != http.StatusPartialContent || string(body) != want[9:12] {
		t.Fatalf("GET reply range: %s %q", r.Status, body)
	}
	// A resent last fragment (a lost Ack) gets the same URL, no second notification.
	resp = f.fragment("/up/form.bin?account=86433", id, int64(len(data)/2), int64(len(data)), data[len(data)/2:])
	expectAck(t, resp, http.StatusOK, "")
	if resp.Header.Get("BITS-Reply-URL") != reply || len(a.recorded()) != 1 {
		t.Errorf("resent last fragment: reply %q, %d notifications", resp.Header.Get("BITS-Reply-URL"), len(a.recorded()))
	}

	expectAck(t, f.closeSession("/up/form.bin?account=86433", id), http.StatusOK, "")
	mustNotExist(t, filepath.Join(f.up, "form.bin")) // not copied unless asked
	if r, _ := f.get(reply); r.StatusCode != http.StatusNotFound {
		t.Errorf("reply after Close-Session: %s, want 404", r.Status)
	}
}

func TestNotifyByReference(t *testing.T) {
	a := startApp(t, func(w http.ResponseWriter, r *http.Request, c appCall) {
		out := r.Header.Get("BITS-Response-DataFile-Name")
		if err := os.WriteFile(out, append([]byte("seen: "), c.data...), 0o600); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("BITS-Copy-File-To-Destination", "true")
	})
	f := startUploads(t, notifying(a, NotifyByReference))
	data := pattern(10_000, 9)
	id, resp := f.uploadForReply("/up/sub/ref.bin", data)
	expectAck(t, resp, http.StatusOK, "")
	c := a.recorded()[0]
	if len(c.body) != 0 {
		t.Errorf("by reference the body must be empty, got %d bytes", len(c.body))
	}
	if !bytes.Equal(c.data, data) {
		t.Errorf("the data file named by BITS-Request-DataFile-Name holds %d bytes, want the upload", len(c.data))
	}
	for _, h := range []string{"BITS-Request-DataFile-Name", "BITS-Response-DataFile-Name"} {
		if p := c.header.Get(h); !filepath.IsAbs(p) || !strings.HasPrefix(p, f.up+string(filepath.Separator)+stateDirName) {
			t.Errorf("%s %q: want an absolute path in the session folder", h, p)
		}
	}
	if r, body := f.get(resp.Header.Get("BITS-Reply-URL")); r.StatusCode != http.StatusOK || string(body) != "seen: "+string(data) {
		t.Fatalf("GET reply: %s, %d bytes", r.Status, len(body))
	}
	mustNotExist(t, filepath.Join(f.up, "sub", "ref.bin"))
	expectAck(t, f.closeSession("/up/sub/ref.bin", id), http.StatusOK, "")
	if got := readFile(t, filepath.Join(f.up, "sub", "ref.bin")); !bytes.Equal(got, data) {
		t.Fatal("BITS-Copy-File-To-Destination: the file was not copied")
	}
}

func TestNotifyStaticReply(t *testing.T) {
	a := startApp(t, func(w http.ResponseWriter, r *http.Request, c appCall) {
		w.Header().Set("BITS-Static-Response-URL", "http://example.com/static/answer.txt")
	})
	f := startUploads(t, notifying(a, NotifyByValue))
	_, resp := f.uploadForReply("/up/s.bin", []byte("abcd"))
	expectAck(t, resp, http.StatusOK, "")
	if got := resp.Header.Get("BITS-Reply-URL"); got != "http://example.com/static/answer.txt" {
		t.Fatalf("BITS-Reply-URL %q, want the application's static URL", got)
	}
}

// TestNotifyFailures: the application's errors reach the client with
// context 0x7; the session survives, and the retried last fragment
// notifies again.
func TestNotifyFailures(t *testing.T) {
	var mu sync.Mutex
	status := http.StatusInternalServerError
	release := make(chan struct{})
	a := startApp(t, func(w http.ResponseWriter, r *http.Request, c appCall) {
		mu.Lock()
		st := status
		mu.Unlock()
		switch st {
		case 0: // hang until the test lets go
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case http.StatusOK:
			io.WriteString(w, "done")
		default:
			w.WriteHeader(st)
		}
	})
	set := func(st int) { mu.Lock(); status = st; mu.Unlock() }
	f := startUploads(t, func(c *Config) {
		notifying(a, NotifyByValue)(c)
		c.Uploads[0].NotifyTimeout = 200 * time.Millisecond
	})
	const path = "/up/n.bin"
	data := []byte("0123456789")
	id, resp := f.uploadForReply(path, data)
	expectAck(t, resp, http.StatusInternalServerError, "0x801901f4")
	if got := resp.Header.Get("BITS-Error-Context"); got != "0x7" {
		t.Errorf("BITS-Error-Context %q, want 0x7", got)
	}
	expectReceived(t, resp, 10)
	// Close-Session before the application has answered is refused.
	expectAck(t, f.closeSession(path, id), http.StatusBadRequest, "0x80070057")

	last := func() *http.Response { return f.fragment(path, id, 5, 10, data[5:]) }
	set(http.StatusForbidden)
	expectAck(t, last(), http.StatusForbidden, "0x80190193")
	set(http.StatusFound) // a redirect is not followed: an error
	expectAck(t, last(), http.StatusBadGateway, "0x8019012e")
	set(0)
	resp = last()
	close(release)
	expectAck(t, resp, http.StatusRequestTimeout, "0x800705b4")
	set(http.StatusOK)
	resp = last()
	expectAck(t, resp, http.StatusOK, "")
	if r, body := f.get(resp.Header.Get("BITS-Reply-URL")); string(body) != "done" {
		t.Fatalf("reply after retries: %s %q", r.Status, body)
	}
	if n := len(a.recorded()); n != 5 {
		t.Errorf("%d notifications, want 5 (one per try)", n)
	}
	expectAck(t, f.closeSession(path, id), http.StatusOK, "")

	// An application that is not there at all.
	a.ts.Close()
	_, resp = f.uploadForReply("/up/gone.bin", data)
	expectAck(t, resp, http.StatusBadGateway, "0x801901f6")
	if got := resp.Header.Get("BITS-Error-Context"); got != "0x7" {
		t.Errorf("BITS-Error-Context %q, want 0x7", got)
	}
}

func TestNotifyReplyLimits(t *testing.T) {
	a := startApp(t, func(w http.ResponseWriter, r *http.Request, c appCall) {
		w.Write(bytes.Repeat([]byte("x"), 2000))
	})
	f := startUploads(t, func(c *Config) {
		notifying(a, NotifyByValue)(c)
		c.Uploads[0].MaxReplySize = 1000
	})
	_, resp := f.uploadForReply("/up/l.bin", []byte("abcd"))
	expectAck(t, resp, http.StatusInternalServerError, "0x80200020")
}

// TestReplyAccess: a reply is served only for a live session that has
// one, and only to its owner; look-alike URLs are not replies.
func TestReplyAccess(t *testing.T) {
	a := startApp(t, func(w http.ResponseWriter, r *http.Request, c appCall) { io.WriteString(w, "r") })
	f := startUploads(t, notifying(a, NotifyByValue))
	id, resp := f.uploadForReply("/up/a.bin", []byte("abcd"))
	expectAck(t, resp, http.StatusOK, "")
	key, _ := parseSessionID(id)
	for _, p := range []string{
		"/up/BITS-Sessions/Replies/" + key + "/request",
		"/up/BITS-Sessions/Replies/" + key + "/session.json",
		"/up/BITS-Sessions/Replies/" + key + "/../" + key + "/response",
		"/up/BITS-Sessions/Replies/11111111-2222-4333-8444-555555555555/response",
		"/up/BITS-Sessions/Replies/..%2f..%2f/response",
		"/other/BITS-Sessions/Replies/" + key + "/response",
	} {
		if r, body := f.get(f.ts.URL + p); r.StatusCode < 400 || string(body) == "r" || string(body) == "abcd" {
			t.Errorf("GET %s: %s %q", p, r.Status, body)
		}
	}
	if r, body := f.get(f.ts.URL + "/UP/bits-sessions/replies/" + strings.ToUpper(key) + "/response"); r.StatusCode != http.StatusNotFound {
		t.Errorf("prefixes are case-sensitive: %s %q", r.Status, body)
	}
	if r, body := f.get(f.ts.URL + "/up/bits-sessions/replies/" + strings.ToUpper(key) + "/response"); string(body) != "r" {
		t.Errorf("the reply's own path parts are not: %s %q", r.Status, body)
	}
}

// TestNotifyAfterALostAck: a client that lost the last fragment's Ack (a
// restart) learns the reply from whatever fragment it sends again, and one
// whose notification failed gets it by sending the last fragment again,
// also as an empty probe; the application is notified only while it has
// not answered.
func TestNotifyAfterALostAck(t *testing.T) {
	var mu sync.Mutex
	fail := true
	a := startApp(t, func(w http.ResponseWriter, r *http.Request, c appCall) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "reply")
	})
	f := startUploads(t, notifying(a, NotifyByValue))
	const path = "/up/lost.bin"
	data := pattern(1000, 4)
	id, resp := f.uploadForReply(path, data)
	expectAck(t, resp, http.StatusServiceUnavailable, "0x801901f7")
	probe := func() *http.Response {
		return f.post(path, nil, "BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 999-999/1000")
	}

	// The application has not answered: a resend that does not end at the
	// last byte says where the client stands, and nothing more.
	resp = f.fragment(path, id, 0, 1000, data[:500])
	expectAck(t, resp, http.StatusRequestedRangeNotSatisfiable, "")
	expectReceived(t, resp, 1000)
	if resp.Header.Get("BITS-Reply-URL") != "" || len(a.recorded()) != 1 {
		t.Fatalf("a resend before the application answered: reply %q, %d notifications", resp.Header.Get("BITS-Reply-URL"), len(a.recorded()))
	}

	// The probe notifies again, and this time the application answers.
	mu.Lock()
	fail = false
	mu.Unlock()
	resp = probe()
	expectAck(t, resp, http.StatusOK, "")
	expectReceived(t, resp, 1000)
	reply := resp.Header.Get("BITS-Reply-URL")
	if r, body := f.get(reply); string(body) != "reply" {
		t.Fatalf("reply after the probe: %s %q", r.Status, body)
	}
	if n := len(a.recorded()); n != 2 {
		t.Fatalf("%d notifications, want 2", n)
	}

	// From now on every resend names the reply, and none notifies.
	resp = f.fragment(path, id, 0, 1000, data[:500])
	expectAck(t, resp, http.StatusRequestedRangeNotSatisfiable, "")
	expectReceived(t, resp, 1000)
	if got := resp.Header.Get("BITS-Reply-URL"); got != reply {
		t.Errorf("416 after the reply: BITS-Reply-URL %q, want %q", got, reply)
	}
	resp = probe()
	expectAck(t, resp, http.StatusOK, "")
	if got := resp.Header.Get("BITS-Reply-URL"); got != reply {
		t.Errorf("probe after the reply: BITS-Reply-URL %q, want %q", got, reply)
	}
	if n := len(a.recorded()); n != 2 {
		t.Errorf("%d notifications, want still 2", n)
	}
	expectAck(t, f.closeSession(path, id), http.StatusOK, "")
}

// TestNotifyEmptyUpload: an empty upload sends no fragment, so its first
// Close-Session notifies and names the reply; the session stays for the
// reply until the second Close-Session.
func TestNotifyEmptyUpload(t *testing.T) {
	a := startApp(t, func(w http.ResponseWriter, r *http.Request, c appCall) {
		w.Header().Set("BITS-Copy-File-To-Destination", "1")
		io.WriteString(w, "empty: "+string(c.body))
	})
	f := startUploads(t, notifying(a, NotifyByValue))
	const path = "/up/empty.bin"
	id := f.create(path)
	resp := f.closeSession(path, id)
	expectAck(t, resp, http.StatusOK, "")
	reply := resp.Header.Get("BITS-Reply-URL")
	if r, body := f.get(reply); r.StatusCode != http.StatusOK || string(body) != "empty: " {
		t.Fatalf("GET reply: %s %q", r.Status, body)
	}
	if calls := a.recorded(); len(calls) != 1 || len(calls[0].body) != 0 {
		t.Fatalf("%d notifications; want 1 with an empty body", len(calls))
	}
	mustNotExist(t, filepath.Join(f.up, "empty.bin"))
	expectAck(t, f.closeSession(path, id), http.StatusOK, "")
	if got := readFile(t, filepath.Join(f.up, "empty.bin")); len(got) != 0 {
		t.Fatalf("the empty upload was stored with %d bytes", len(got))
	}
	if r, _ := f.get(reply); r.StatusCode != http.StatusNotFound {
		t.Errorf("reply after the second Close-Session: %s, want 404", r.Status)
	}
	if n := len(a.recorded()); n != 1 {
		t.Errorf("%d notifications, want 1", n)
	}
}
