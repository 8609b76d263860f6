package testenv

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// These tests drive the UploadServer with plain net/http requests, so that
// what they pin is the server's own behaviour, not a client's.

// bitsPost sends one BITS_POST with header's name/value pairs and returns
// the answer, its body read and closed. A nil body goes without
// Content-Length, as Go's client sends a bodiless BITS_POST; an empty one
// goes with Content-Length: 0. Every answer must be an Ack with
// Content-Length: 0.
func bitsPost(t *testing.T, c *http.Client, u string, body []byte, header ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("BITS_POST", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case body == nil:
	case len(body) == 0:
		// Go leaves Content-Length out of a bodiless request of a method
		// it does not know, unless told the length is really 0.
		req.Body, req.ContentLength, req.TransferEncoding = http.NoBody, 0, []string{"identity"}
	default:
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", header, u, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if got := resp.Header.Get("BITS-Packet-Type"); got != "Ack" {
		t.Errorf("%s: BITS-Packet-Type = %q; want Ack", header, got)
	}
	if got := resp.Header.Values("Content-Length"); len(got) != 1 || got[0] != "0" {
		t.Errorf("%s: Content-Length = %q; want 0", header, got)
	}
	return resp
}

// wantAnswer checks an answer's status and BITS-Error-Code ("" for none).
func wantAnswer(t *testing.T, what string, resp *http.Response, status int, errorCode string) {
	t.Helper()
	if resp.StatusCode != status || resp.Header.Get("BITS-Error-Code") != errorCode {
		t.Errorf("%s: %d with BITS-Error-Code %q; want %d with %q",
			what, resp.StatusCode, resp.Header.Get("BITS-Error-Code"), status, errorCode)
	}
}

// wantReceived checks the answer's BITS-Received-Content-Range.
func wantReceived(t *testing.T, what string, resp *http.Response, want string) {
	t.Helper()
	if got := resp.Header.Get("BITS-Received-Content-Range"); got != want {
		t.Errorf("%s: BITS-Received-Content-Range = %q; want %q", what, got, want)
	}
}

func newSession(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp := bitsPost(t, c, u, []byte{}, "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", uploadProtocol)
	wantAnswer(t, "Create-Session", resp, http.StatusOK, "")
	id := resp.Header.Get("BITS-Session-Id")
	if id == "" {
		t.Fatal("Create-Session answered no BITS-Session-Id")
	}
	return id
}

// sendFragment sends data as the fragment at first of a total-byte file.
func sendFragment(t *testing.T, c *http.Client, u, session string, first, total int64, data []byte) *http.Response {
	t.Helper()
	last := first + int64(len(data)) - 1
	return bitsPost(t, c, u, data, "BITS-Packet-Type", "Fragment", "BITS-Session-Id", session,
		"Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, total))
}

func sessionPacket(t *testing.T, c *http.Client, u, typ, session string) *http.Response {
	t.Helper()
	return bitsPost(t, c, u, []byte{}, "BITS-Packet-Type", typ, "BITS-Session-Id", session)
}

// newClient returns a client with connections of its own.
func newClient(t *testing.T) (*http.Client, *http.Transport) {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, tr
}

func TestUploadServerStrictUpload(t *testing.T) {
	s := NewUploadServer(t)
	c, _ := newClient(t)
	u := s.URL("/up/file.bin")
	content := []byte("0123456789")

	resp := bitsPost(t, c, u, []byte{}, "BITS-Packet-Type", "Ping")
	wantAnswer(t, "Ping", resp, http.StatusOK, "")

	resp = bitsPost(t, c, u, []byte{}, "BITS-Packet-Type", "CREATE-SESSION",
		"BITS-Supported-Protocols", "{00000000-0000-0000-0000-000000000000} "+strings.ToUpper(uploadProtocol))
	wantAnswer(t, "Create-Session", resp, http.StatusOK, "")
	id := resp.Header.Get("BITS-Session-Id")
	if !regexp.MustCompile(`^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$`).MatchString(id) {
		t.Errorf("BITS-Session-Id = %q; want a GUID in braces", id)
	}
	if got := resp.Header.Get("BITS-Protocol"); got != uploadProtocol {
		t.Errorf("BITS-Protocol = %q; want %s", got, uploadProtocol)
	}
	if got := resp.Header.Get("Accept-Encoding"); got != "Identity" {
		t.Errorf("Accept-Encoding = %q; want Identity", got)
	}

	resp = sendFragment(t, c, u, id, 0, 10, content[:4])
	wantAnswer(t, "first fragment", resp, http.StatusOK, "")
	wantReceived(t, "first fragment", resp, "4")
	if got := resp.Header.Get("BITS-Session-Id"); got != id {
		t.Errorf("fragment's BITS-Session-Id = %q; want %q", got, id)
	}
	resp = sendFragment(t, c, u, id, 4, 10, content[4:])
	wantAnswer(t, "last fragment", resp, http.StatusOK, "")
	wantReceived(t, "last fragment", resp, "10")
	if _, ok := s.File("/up/file.bin"); ok {
		t.Error("the file is visible before Close-Session")
	}

	// A session is not tied to a connection by default.
	other, _ := newClient(t)
	resp = sessionPacket(t, other, u, "Close-Session", id)
	wantAnswer(t, "Close-Session", resp, http.StatusOK, "")
	if got, ok := s.File("/up/file.bin"); !ok || !bytes.Equal(got, content) {
		t.Errorf("File = %q, %v; want %q", got, ok, content)
	}
	if n := s.OpenSessions(); n != 0 {
		t.Errorf("OpenSessions = %d after Close-Session; want 0", n)
	}
	p := s.Packets()
	if len(p) != 5 || p[4].Conn == p[3].Conn || p[3].Conn != p[0].Conn {
		t.Fatalf("Packets = %+v; want 5, the last on a second connection", p)
	}
	if want := strings.TrimPrefix(s.Server.URL, "http://"); p[0].Host != want {
		t.Errorf("Packets()[0].Host = %q; want %q", p[0].Host, want)
	}
	if p[2].Type != "Fragment" || p[2].ContentRange != "bytes 0-3/10" || p[2].BodyBytes != 4 ||
		!p[2].HasContentLength || p[2].ContentLength != 4 || p[2].Status != 200 || p[2].Received != "4" || p[2].Session != id {
		t.Errorf("first fragment recorded as %+v", p[2])
	}
}

func TestUploadServerContentLengthRequired(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []UploadOption
		status int
	}{
		{"Windows", nil, http.StatusBadRequest},
		{"Answer411", []UploadOption{Answer411()}, http.StatusLengthRequired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewUploadServer(t, tc.opts...)
			c, _ := newClient(t)
			u := s.URL("/f")
			id := newSession(t, c, u)
			for _, typ := range []string{"Ping", "Create-Session", "Fragment", "Close-Session", "Cancel-Session"} {
				resp := bitsPost(t, c, u, nil, "BITS-Packet-Type", typ, "BITS-Session-Id", id,
					"BITS-Supported-Protocols", uploadProtocol, "Content-Range", "bytes 0-0/1")
				wantAnswer(t, typ+" without Content-Length", resp, tc.status, hrInvalidArg)
			}
			if n := s.OpenSessions(); n != 1 {
				t.Errorf("OpenSessions = %d; want the 1 session untouched", n)
			}
			p := s.Packets()
			if !p[0].HasContentLength || p[1].HasContentLength || p[1].ContentLength != -1 {
				t.Errorf("Packets record Content-Length as %+v, %+v; want it present, then absent", p[0], p[1])
			}
			// A Fragment sent chunked has no Content-Length either.
			req, _ := http.NewRequest("BITS_POST", u, io.NopCloser(strings.NewReader("x")))
			req.Header.Set("BITS-Packet-Type", "Fragment")
			req.Header.Set("BITS-Session-Id", id)
			req.Header.Set("Content-Range", "bytes 0-0/1")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			wantAnswer(t, "chunked Fragment", resp, tc.status, hrInvalidArg)
		})
	}
}

func TestUploadServerRefusesBadPackets(t *testing.T) {
	s := NewUploadServer(t)
	c, _ := newClient(t)
	u := s.URL("/f")
	id := newSession(t, c, u)
	const unknown = "{6B29FC40-CA47-1067-B31D-00DD010662DA}"
	for _, tc := range []struct {
		what      string
		path      string // "" for the session's
		body      []byte
		header    []string
		status    int
		errorCode string
	}{
		{"no protocols", "", []byte{}, []string{"BITS-Packet-Type", "Create-Session"}, 400, hrInvalidArg},
		{"other protocol", "", []byte{}, []string{"BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", unknown}, 400, hrInvalidArg},
		{"unknown packet", "", []byte{}, []string{"BITS-Packet-Type", "Upload"}, 400, hrInvalidArg},
		{"no packet type", "", []byte{}, nil, 400, hrInvalidArg},
		{"header over 4 KB", "", []byte{}, []string{"BITS-Packet-Type", "Ping", "X-Long", strings.Repeat("a", 4097)}, 400, hrInvalidArg},
		{"fragment without session", "", []byte("abc"), []string{"BITS-Packet-Type", "Fragment", "Content-Range", "bytes 0-2/3"}, 400, hrInvalidArg},
		{"fragment of unknown session", "", []byte("abc"), []string{"BITS-Packet-Type", "Fragment", "BITS-Session-Id", unknown, "Content-Range", "bytes 0-2/3"}, 500, hrSessionNotFound},
		{"close of unknown session", "", []byte{}, []string{"BITS-Packet-Type", "Close-Session", "BITS-Session-Id", unknown}, 500, hrSessionNotFound},
		{"cancel of unknown session", "", []byte{}, []string{"BITS-Packet-Type", "Cancel-Session", "BITS-Session-Id", unknown}, 500, hrSessionNotFound},
		{"session at another URL", "/g", []byte{}, []string{"BITS-Packet-Type", "Close-Session", "BITS-Session-Id", id}, 500, hrSessionNotFound},
		{"body shorter than range", "", []byte("abc"), []string{"BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 0-3/10"}, 400, hrInvalidArg},
		{"body longer than range", "", []byte("abc"), []string{"BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 0-1/10"}, 400, hrInvalidArg},
		{"range past total", "", []byte("abc"), []string{"BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 0-2/2"}, 400, hrInvalidArg},
		{"malformed range", "", []byte("abc"), []string{"BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes=0-2/3"}, 400, hrInvalidArg},
		{"reversed range", "", []byte("abc"), []string{"BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 2-0/3"}, 400, hrInvalidArg},
		{"compressed", "", []byte("abc"), []string{"BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 0-2/3", "Content-Encoding", "gzip"}, 400, hrInvalidArg},
	} {
		target := u
		if tc.path != "" {
			target = s.URL(tc.path)
		}
		resp := bitsPost(t, c, target, tc.body, tc.header...)
		wantAnswer(t, tc.what, resp, tc.status, tc.errorCode)
	}

	// The total is fixed by the first fragment taken.
	wantAnswer(t, "first fragment", sendFragment(t, c, u, id, 0, 10, []byte("abc")), 200, "")
	wantAnswer(t, "other total", sendFragment(t, c, u, id, 3, 11, []byte("def")), 400, hrInvalidArg)
	wantAnswer(t, "same total", sendFragment(t, c, u, id, 3, 10, []byte("def")), 200, "")
}

func TestUploadServerTakesOnlyExactContinuation(t *testing.T) {
	s := NewUploadServer(t)
	c, _ := newClient(t)
	u := s.URL("/f")
	id := newSession(t, c, u)
	content := []byte("0123456789")
	wantAnswer(t, "first fragment", sendFragment(t, c, u, id, 0, 10, content[:5]), 200, "")
	for _, tc := range []struct {
		what  string
		first int64
		data  []byte
	}{
		{"gap", 7, content[7:]},
		{"overlap", 3, content[3:8]},
		{"resend", 0, content[:5]},
		{"empty probe of the last byte", 9, nil},
	} {
		resp := sendFragment(t, c, u, id, tc.first, 10, tc.data)
		if tc.data == nil {
			// An empty body never matches a range: its length is checked first.
			wantAnswer(t, tc.what, resp, 400, hrInvalidArg)
			continue
		}
		wantAnswer(t, tc.what, resp, 416, "")
		wantReceived(t, tc.what, resp, "5")
	}
	wantAnswer(t, "continuation", sendFragment(t, c, u, id, 5, 10, content[5:]), 200, "")
	resp := sendFragment(t, c, u, id, 5, 10, content[5:])
	wantAnswer(t, "resent final fragment", resp, 416, "")
	wantReceived(t, "resent final fragment", resp, "10")
	if resp.Header.Get("BITS-Reply-URL") != "" {
		t.Error("BITS-Reply-URL without upload-reply")
	}
	wantAnswer(t, "Close-Session", sessionPacket(t, c, u, "Close-Session", id), 200, "")
	if got, _ := s.File("/f"); !bytes.Equal(got, content) {
		t.Errorf("File = %q; want %q", got, content)
	}
}

func TestUploadServerCloseNeedsWholeFile(t *testing.T) {
	s := NewUploadServer(t)
	c, _ := newClient(t)
	u := s.URL("/f")
	id := newSession(t, c, u)
	wantAnswer(t, "first fragment", sendFragment(t, c, u, id, 0, 6, []byte("abc")), 200, "")
	resp := sessionPacket(t, c, u, "Close-Session", id)
	wantAnswer(t, "early Close-Session", resp, 400, hrInvalidArg)
	if _, ok := s.File("/f"); ok || s.OpenSessions() != 1 {
		t.Fatalf("an early Close-Session committed the file or dropped the session")
	}
	wantAnswer(t, "last fragment", sendFragment(t, c, u, id, 3, 6, []byte("def")), 200, "")
	wantAnswer(t, "Close-Session", sessionPacket(t, c, u, "Close-Session", id), 200, "")
	if got, _ := s.File("/f"); string(got) != "abcdef" {
		t.Errorf("File = %q; want abcdef", got)
	}

	// With no fragment at all, the upload is empty.
	id = newSession(t, c, s.URL("/empty"))
	wantAnswer(t, "empty Close-Session", sessionPacket(t, c, s.URL("/empty"), "Close-Session", id), 200, "")
	if got, ok := s.File("/empty"); !ok || len(got) != 0 {
		t.Errorf("File(/empty) = %q, %v; want an empty file", got, ok)
	}
}

func TestUploadServerCancel(t *testing.T) {
	s := NewUploadServer(t)
	c, _ := newClient(t)
	u := s.URL("/f")
	id := newSession(t, c, u)
	wantAnswer(t, "fragment", sendFragment(t, c, u, id, 0, 3, []byte("abc")), 200, "")
	wantAnswer(t, "Cancel-Session", sessionPacket(t, c, u, "Cancel-Session", id), 200, "")
	if s.OpenSessions() != 0 {
		t.Error("Cancel-Session left the session open")
	}
	wantAnswer(t, "Close-Session after Cancel", sessionPacket(t, c, u, "Close-Session", id), 500, hrSessionNotFound)
	wantAnswer(t, "Cancel-Session again", sessionPacket(t, c, u, "Cancel-Session", id), 500, hrSessionNotFound)
	if _, ok := s.File("/f"); ok {
		t.Error("a cancelled upload was committed")
	}
}

func TestUploadServerLax(t *testing.T) {
	s := NewUploadServer(t, Lax())
	c, _ := newClient(t)
	u := s.URL("/f")
	// Packets need no Content-Length.
	resp := bitsPost(t, c, u, nil, "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", uploadProtocol)
	wantAnswer(t, "Create-Session", resp, 200, "")
	id := resp.Header.Get("BITS-Session-Id")

	req, _ := http.NewRequest("BITS_POST", u, io.NopCloser(strings.NewReader("abcd")))
	req.Header.Set("BITS-Packet-Type", "Fragment")
	req.Header.Set("BITS-Session-Id", id)
	req.Header.Set("Content-Range", "bytes 0-3/30")
	chunked, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	chunked.Body.Close()
	wantAnswer(t, "chunked fragment", chunked, 200, "")
	wantReceived(t, "chunked fragment", chunked, "4")

	resp = sendFragment(t, c, u, id, 8, 30, []byte("wxyz"))
	wantAnswer(t, "fragment past a hole", resp, 200, "")
	wantReceived(t, "fragment past a hole", resp, "12")
	resp = bitsPost(t, c, u, nil, "BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 20-29/30")
	wantAnswer(t, "empty fragment", resp, 200, "")
	wantReceived(t, "empty fragment", resp, "30")

	resp = bitsPost(t, c, u, nil, "BITS-Packet-Type", "Close-Session", "BITS-Session-Id", id)
	wantAnswer(t, "Close-Session", resp, 200, "")
	want := []byte("abcd\x00\x00\x00\x00wxyz")
	if got, ok := s.File("/f"); !ok || !bytes.Equal(got, want) {
		t.Errorf("File = %q, %v; want %q", got, ok, want)
	}
	if p := s.Packets(); p[1].HasContentLength || p[1].BodyBytes != 4 {
		t.Errorf("chunked fragment recorded as %+v", p[1])
	}
	resp = bitsPost(t, c, u, nil, "BITS-Packet-Type", "Close-Session", "BITS-Session-Id", id)
	wantAnswer(t, "Close-Session again", resp, 500, hrSessionNotFound)
}

func TestUploadServerPerConnectionSessions(t *testing.T) {
	s := NewUploadServer(t, PerConnectionSessions())
	a, aConns := newClient(t)
	b, _ := newClient(t)
	u := s.URL("/f")
	id := newSession(t, a, u)
	wantAnswer(t, "fragment on the session's connection", sendFragment(t, a, u, id, 0, 6, []byte("abc")), 200, "")
	wantAnswer(t, "fragment on another connection", sendFragment(t, b, u, id, 3, 6, []byte("def")), 500, hrSessionNotFound)
	p := s.Packets()
	if p[0].Conn != p[1].Conn || p[2].Conn == p[0].Conn {
		t.Errorf("connections recorded as %d, %d, %d; want the first two the same, the third other", p[0].Conn, p[1].Conn, p[2].Conn)
	}
	if s.OpenSessions() != 1 {
		t.Fatal("a packet on another connection dropped the session")
	}

	aConns.CloseIdleConnections()
	Eventually(t, "the session to end with its connection", func() bool { return s.OpenSessions() == 0 })
	wantAnswer(t, "fragment after the connection closed", sendFragment(t, a, u, id, 3, 6, []byte("def")), 500, hrSessionNotFound)
}

func TestUploadServerMisspelledReceived(t *testing.T) {
	s := NewUploadServer(t, MisspelledReceived())
	c, _ := newClient(t)
	u := s.URL("/f")
	id := newSession(t, c, u)
	resp := sendFragment(t, c, u, id, 0, 6, []byte("abc"))
	wantAnswer(t, "fragment", resp, 200, "")
	if got := resp.Header.Get("BITS-Recieved-Content-Range"); got != "3" {
		t.Errorf("BITS-Recieved-Content-Range = %q; want 3", got)
	}
	wantReceived(t, "fragment", resp, "")
	resp = sendFragment(t, c, u, id, 0, 6, []byte("abc"))
	if got := resp.Header.Get("BITS-Recieved-Content-Range"); resp.StatusCode != 416 || got != "3" {
		t.Errorf("resend: %d with BITS-Recieved-Content-Range %q; want 416 with 3", resp.StatusCode, got)
	}
}

func TestUploadServerNonGUIDSessions(t *testing.T) {
	s := NewUploadServer(t, NonGUIDSessions())
	c, _ := newClient(t)
	if a, b := newSession(t, c, s.URL("/f")), newSession(t, c, s.URL("/g")); a != "s1" || b != "s2" {
		t.Errorf("session ids %q, %q; want s1, s2", a, b)
	}
}

func TestUploadServerCloseAfterEveryAnswer(t *testing.T) {
	s := NewUploadServer(t, CloseAfterEveryAnswer())
	c, _ := newClient(t)
	u := s.URL("/f")
	id := newSession(t, c, u)
	resp := sendFragment(t, c, u, id, 0, 3, []byte("abc"))
	// Go's client takes Connection: close out of the header into Close.
	if !resp.Close {
		t.Error("answer without Connection: close")
	}
	wantAnswer(t, "Close-Session", sessionPacket(t, c, u, "Close-Session", id), 200, "")
	seen := map[int64]bool{}
	for _, p := range s.Packets() {
		if seen[p.Conn] {
			t.Errorf("two packets on connection %d: %+v", p.Conn, s.Packets())
		}
		seen[p.Conn] = true
	}
}

func TestUploadServerReply(t *testing.T) {
	var calls atomic.Int32
	s := NewUploadServer(t, UploadReply(func(path string, body []byte) []byte {
		calls.Add(1)
		return []byte(fmt.Sprintf("%s: %q", path, body))
	}))
	c, _ := newClient(t)
	u := s.URL("/up/doc.bin")
	id := newSession(t, c, u)
	resp := sendFragment(t, c, u, id, 0, 6, []byte("abc"))
	if got := resp.Header.Get("BITS-Reply-URL"); got != "" {
		t.Errorf("first fragment names a reply: %q", got)
	}
	resp = sendFragment(t, c, u, id, 3, 6, []byte("def"))
	wantAnswer(t, "final fragment", resp, 200, "")
	replyURL := resp.Header.Get("BITS-Reply-URL")
	ru, err := url.Parse(replyURL)
	if err != nil || ru.Host != strings.TrimPrefix(s.Server.URL, "http://") || !strings.HasPrefix(ru.Path, "/up/BITS-Sessions/Replies/") {
		t.Fatalf("BITS-Reply-URL = %q; want one under /up/BITS-Sessions/Replies/ on this server", replyURL)
	}
	want := `/up/doc.bin: "abcdef"`
	get := func(method string) (*http.Response, string) {
		req, _ := http.NewRequest(method, replyURL, nil)
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r, string(b)
	}
	if r, body := get(http.MethodGet); r.StatusCode != 200 || body != want {
		t.Errorf("GET reply: %d %q; want 200 %q", r.StatusCode, body, want)
	}
	if r, _ := get(http.MethodHead); r.StatusCode != 200 || r.ContentLength != int64(len(want)) {
		t.Errorf("HEAD reply: %d with length %d; want 200 with %d", r.StatusCode, r.ContentLength, len(want))
	}

	resp = sendFragment(t, c, u, id, 3, 6, []byte("def"))
	wantAnswer(t, "resent final fragment", resp, 416, "")
	wantReceived(t, "resent final fragment", resp, "6")
	if got := resp.Header.Get("BITS-Reply-URL"); got != replyURL {
		t.Errorf("resent final fragment names %q; want %q", got, replyURL)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the reply was made %d times; want once", n)
	}

	wantAnswer(t, "Close-Session", sessionPacket(t, c, u, "Close-Session", id), 200, "")
	if got, _ := s.File("/up/doc.bin"); string(got) != "abcdef" {
		t.Errorf("File = %q; want abcdef", got)
	}
	if r, _ := get(http.MethodGet); r.StatusCode != 404 {
		t.Errorf("GET reply after Close-Session: %d; want 404", r.StatusCode)
	}
}

// A lax server answers a resent final fragment 200, and names the same
// reply.
func TestUploadServerLaxReply(t *testing.T) {
	var calls atomic.Int32
	s := NewUploadServer(t, Lax(), UploadReply(func(path string, body []byte) []byte {
		calls.Add(1)
		return body
	}))
	c, _ := newClient(t)
	u := s.URL("/f")
	id := newSession(t, c, u)
	resp := sendFragment(t, c, u, id, 0, 3, []byte("abc"))
	replyURL := resp.Header.Get("BITS-Reply-URL")
	if resp.StatusCode != 200 || replyURL == "" {
		t.Fatalf("final fragment: %d with BITS-Reply-URL %q; want 200 with one", resp.StatusCode, replyURL)
	}
	resp = sendFragment(t, c, u, id, 0, 3, []byte("abc"))
	wantAnswer(t, "resent final fragment", resp, 200, "")
	if got := resp.Header.Get("BITS-Reply-URL"); got != replyURL {
		t.Errorf("resent final fragment names %q; want %q", got, replyURL)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the reply was made %d times; want once", n)
	}
}

func TestUploadServerCutNextFragment(t *testing.T) {
	s := NewUploadServer(t)
	c, _ := newClient(t)
	u := s.URL("/f")
	id := newSession(t, c, u)
	content := RandomContent(100_000, 1)

	s.CutNextFragment(1000)
	req, _ := http.NewRequest("BITS_POST", u, bytes.NewReader(content))
	req.Header.Set("BITS-Packet-Type", "Fragment")
	req.Header.Set("BITS-Session-Id", id)
	req.Header.Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(content)-1, len(content)))
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the cut fragment was answered %d", resp.StatusCode)
	}
	p := s.Packets()
	if last := p[len(p)-1]; last.Status != 0 || last.BodyBytes != 1000 {
		t.Errorf("cut fragment recorded as %+v; want no answer after 1000 bytes", last)
	}

	// Nothing of it was kept, and the cut was only for that fragment.
	resp := sendFragment(t, c, u, id, 0, int64(len(content)), content)
	wantAnswer(t, "fragment after the cut", resp, 200, "")
	wantReceived(t, "fragment after the cut", resp, fmt.Sprint(len(content)))
	wantAnswer(t, "Close-Session", sessionPacket(t, c, u, "Close-Session", id), 200, "")
	if got, _ := s.File("/f"); !bytes.Equal(got, content) {
		t.Error("the committed file differs from the content")
	}
}

func TestUploadServerRateLimit(t *testing.T) {
	s := NewUploadServer(t, UploadRateLimit(20_000))
	c, _ := newClient(t)
	u := s.URL("/f")
	id := newSession(t, c, u)
	start := time.Now()
	wantAnswer(t, "fragment", sendFragment(t, c, u, id, 0, 5000, make([]byte, 5000)), 200, "")
	// 5000 bytes at 20000 B/s: the last read may start 4600 bytes in.
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("5000 bytes at 20000 B/s took %v; want at least 200ms", d)
	}
}

func TestUploadServerConcurrentSessions(t *testing.T) {
	s := NewUploadServer(t)
	t.Run("uploads", func(t *testing.T) {
		for i := range 8 {
			name := fmt.Sprintf("f%d", i)
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				c, _ := newClient(t)
				u := s.URL("/" + name)
				content := RandomContent(30_000, uint64(i))
				id := newSession(t, c, u)
				for off := 0; off < len(content); off += 7000 {
					end := min(off+7000, len(content))
					resp := sendFragment(t, c, u, id, int64(off), int64(len(content)), content[off:end])
					wantAnswer(t, "fragment", resp, 200, "")
					s.Packets()
				}
				wantAnswer(t, "Close-Session", sessionPacket(t, c, u, "Close-Session", id), 200, "")
				if got, _ := s.File("/" + name); !bytes.Equal(got, content) {
					t.Error("the committed file differs from the content")
				}
			})
		}
	})
	if n := s.OpenSessions(); n != 0 {
		t.Errorf("OpenSessions = %d; want 0", n)
	}
}
