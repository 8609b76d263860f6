package http

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/testenv"
	"bits/internal/testenv/transporttest"
	"bits/internal/uploadproto"
)

func TestUploadConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"HTTP", false}, {"HTTPS", true}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBITSServer(t, tc.tls, nil)
			transporttest.RunUploader(t, b.transport(t, Options{}).Entry(), b)
		})
	}
}

// upload sends content in one Send and commits it.
func upload(t *testing.T, tr *Transport, r *transport.Request, content []byte) string {
	t.Helper()
	ctx := context.Background()
	session, err := tr.Begin(ctx, r, int64(len(content)))
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	sendAll(t, tr, r, session, 0, content)
	if err := tr.Commit(ctx, r, session, nil); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return session
}

// sendAll sends content[off:] and wants all of it confirmed.
func sendAll(t *testing.T, tr *Transport, r *transport.Request, session string, off int64, content []byte) {
	t.Helper()
	got, err := tr.Send(context.Background(), r, session, off, int64(len(content)), transporttest.Section(content[off:]))
	if err != nil || got != int64(len(content)) {
		t.Fatalf("Send from %d = %d, %v; want %d, nil", off, got, err, len(content))
	}
}

func wantUploaded(t *testing.T, b *bitsServer, name string, want []byte) {
	t.Helper()
	got, err := b.Read(t, name)
	if err != nil {
		t.Fatalf("the server has no %s: %v", name, err)
	}
	if sha256.Sum256(got) != sha256.Sum256(want) {
		t.Fatalf("the server holds %d bytes with another SHA-256 than the %d sent", len(got), len(want))
	}
	if left := b.Leftovers(t, name); len(left) != 0 {
		t.Fatalf("the server still holds %v", left)
	}
}

// fragments lists the fragments of the log: their size and status.
func fragments(reqs []bitsRequest) (sizes []int64, statuses []int) {
	for _, r := range reqs {
		if !strings.EqualFold(r.packet, uploadproto.PacketFragment) || r.contentRange == "" {
			continue
		}
		first, last, _, ok := strictRange(r.contentRange)
		if !ok {
			continue
		}
		sizes = append(sizes, last-first+1)
		statuses = append(statuses, r.status)
	}
	return sizes, statuses
}

// fakeClock makes every fragment of tr take step.
func fakeClock(tr *Transport, step time.Duration) {
	var mu sync.Mutex
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tr.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(step)
		return now
	}
}

func TestUploadPackets(t *testing.T) {
	b := newBITSServer(t, false, nil)
	tr := b.transport(t, Options{})
	content := testenv.RandomContent(3<<20+77, 1)
	r := b.Request(t, "packets.bin")
	r.Method = "PUT" // a custom method is for downloads only
	r.Headers = []string{"X-Job: 42", "BITS-Packet-Type: Create-Session"}
	upload(t, tr, r, content)
	wantUploaded(t, b, "packets.bin", content)

	reqs := b.requests()
	var packets []string
	for _, q := range reqs {
		if q.method != uploadproto.Method {
			t.Errorf("%s packet sent with method %s", q.packet, q.method)
		}
		if len(packets) == 0 || packets[len(packets)-1] != q.packet {
			packets = append(packets, q.packet)
		}
		if q.packet == uploadproto.PacketFragment && q.expect != "100-continue" {
			t.Errorf("fragment %s sent without Expect: 100-continue", q.contentRange)
		}
	}
	want := []string{uploadproto.PacketPing, uploadproto.PacketCreateSession, uploadproto.PacketFragment, uploadproto.PacketCloseSession}
	if !slices.Equal(packets, want) {
		t.Errorf("packets = %v, want %v", packets, want)
	}
	sizes, _ := fragments(reqs)
	var sum int64
	for _, n := range sizes {
		sum += n
	}
	if sum != int64(len(content)) {
		t.Errorf("fragments carried %d bytes in all, want %d", sum, len(content))
	}
}

func TestUploadHTTP2(t *testing.T) {
	b := newBITSServer(t, true, func(b *bitsServer) { b.http2 = true })
	tr := b.transport(t, Options{})
	content := testenv.RandomContent(3<<20+77, 22)
	r := b.Request(t, "h2.bin")
	session, half := sendHalf(t, tr, r, content)
	if held, err := tr.Resume(context.Background(), r, session, 0, 0); err != nil || held != half {
		t.Fatalf("Resume = %d, %v; want %d", held, err, half)
	}
	sendAll(t, tr, r, session, half, content)
	if err := tr.Commit(context.Background(), r, session, nil); err != nil {
		t.Fatal(err)
	}
	wantUploaded(t, b, "h2.bin", content)
	for _, q := range b.requests() {
		if q.proto != "HTTP/2.0" {
			t.Fatalf("a %s packet went over %s, want HTTP/2.0", q.packet, q.proto)
		}
	}
}

func TestUploadCustomHeaders(t *testing.T) {
	b := newBITSServer(t, false, nil)
	tr := b.transport(t, Options{})
	r := b.Request(t, "headers.bin")
	r.Headers = []string{"X-Job: 42", "BITS-Packet-Type: Create-Session", "User-Agent: uploader/1"}
	upload(t, tr, r, testenv.RandomContent(10_000, 2))
	reqs := b.requests()
	if len(reqs) < 4 {
		t.Fatalf("the server saw %d requests", len(reqs))
	}
	for _, q := range reqs {
		if q.header.Get("X-Job") != "42" || q.header.Get("User-Agent") != "uploader/1" {
			t.Errorf("a %s packet lacks the job's custom headers: %v", q.packet, q.header)
		}
		if v := q.header.Values("BITS-Packet-Type"); len(v) != 1 {
			t.Errorf("BITS-Packet-Type = %q: a custom header must not replace or add to it", v)
		}
	}
}

func TestFragmentSizer(t *testing.T) {
	f := newFragmentSizer()
	steps := []struct {
		what string
		do   func()
		want int
	}{
		{"starts", func() {}, firstFragment},
		{"a fast full fragment doubles", func() { f.sent(f.next(), time.Second) }, 2 << 20},
		{"a fast short fragment keeps", func() { f.sent(1000, time.Millisecond) }, 2 << 20},
		{"a fragment near the target keeps", func() { f.sent(f.next(), fragmentTarget) }, 2 << 20},
		{"grows", func() { f.sent(f.next(), 0) }, 4 << 20},
		{"grows", func() { f.sent(f.next(), 0) }, 8 << 20},
		{"stops at the maximum", func() { f.sent(f.next(), 0) }, maxFragment},
		{"stays at the maximum", func() { f.sent(f.next(), 0) }, maxFragment},
		{"a slow fragment shrinks to fit the target", func() { f.sent(maxFragment, 3*fragmentTarget) }, maxFragment / 3},
		{"but by a quarter at most", func() { f.sent(f.next(), 1000*fragmentTarget) }, maxFragment / 12},
		{"a failure halves", func() { f.failed() }, maxFragment / 24},
		{"a 413 halves and caps", func() { f.tooLarge(300_000) }, 150_000},
		{"growth stops at the cap", func() { f.sent(f.next(), 0); f.sent(f.next(), 0) }, 150_000},
		{"failures stop at the minimum", func() {
			for range 20 {
				f.failed()
			}
		}, minFragment},
		{"slow fragments too", func() { f.sent(f.next(), time.Hour) }, minFragment},
	}
	for _, s := range steps {
		s.do()
		if got := f.next(); got != s.want {
			t.Fatalf("%s: size = %d, want %d", s.what, got, s.want)
		}
	}
	if f.tooLarge(minFragment) {
		t.Error("tooLarge at the minimum size offered a smaller fragment")
	}
}

func TestUploadFragmentsGrowOnAFastLink(t *testing.T) {
	b := newBITSServer(t, false, nil)
	tr := b.transport(t, Options{})
	fakeClock(tr, 10*time.Millisecond)
	content := testenv.RandomContent(30<<20, 3)
	upload(t, tr, b.Request(t, "fast.bin"), content)
	wantUploaded(t, b, "fast.bin", content)
	sizes, _ := fragments(b.requests())
	want := []int64{1 << 20, 2 << 20, 4 << 20, 8 << 20, maxFragment}
	if len(sizes) < len(want) || !slices.Equal(sizes[:len(want)], want) {
		t.Fatalf("fragment sizes = %v, want them to start %v", sizes, want)
	}
}

func TestUploadFragmentsShrinkOnASlowLink(t *testing.T) {
	b := newBITSServer(t, false, nil)
	tr := b.transport(t, Options{})
	fakeClock(tr, 5*fragmentTarget)
	content := testenv.RandomContent(1<<20+400_000, 4)
	upload(t, tr, b.Request(t, "slow.bin"), content)
	wantUploaded(t, b, "slow.bin", content)
	sizes, _ := fragments(b.requests())
	want := []int64{1 << 20, 256 << 10, 64 << 10, 16 << 10, minFragment, minFragment}
	if len(sizes) < len(want) || !slices.Equal(sizes[:len(want)], want) {
		t.Fatalf("fragment sizes = %v, want them to start %v", sizes, want)
	}
}

func TestUploadTooLargeShrinks(t *testing.T) {
	b := newBITSServer(t, false, func(b *bitsServer) { b.maxFragment = 300_000 })
	tr := b.transport(t, Options{})
	fakeClock(tr, time.Millisecond) // fast: it would grow if it could
	content := testenv.RandomContent(2<<20, 5)
	upload(t, tr, b.Request(t, "413.bin"), content)
	wantUploaded(t, b, "413.bin", content)
	sizes, statuses := fragments(b.requests())
	var refused []int64
	for i, n := range sizes {
		switch {
		case statuses[i] == nethttp.StatusRequestEntityTooLarge:
			refused = append(refused, n)
		case n > b.maxFragment:
			t.Errorf("a fragment of %d bytes was taken by a server that takes %d at most", n, b.maxFragment)
		}
	}
	if want := []int64{1 << 20, 512 << 10}; !slices.Equal(refused, want) {
		t.Errorf("fragments refused with 413: %v, want %v", refused, want)
	}
	// The cap holds for the next upload to the same server.
	before := len(b.requests())
	upload(t, tr, b.Request(t, "413-again.bin"), content)
	_, statuses = fragments(b.requests()[before:])
	if slices.Contains(statuses, nethttp.StatusRequestEntityTooLarge) {
		t.Error("the next upload to the server was refused with 413 again")
	}
}

func TestUploadTooLargeAtTheMinimum(t *testing.T) {
	b := newBITSServer(t, false, func(b *bitsServer) { b.maxFragment = 4000 })
	tr := b.transport(t, Options{})
	r := b.Request(t, "tiny.bin")
	content := testenv.RandomContent(100_000, 6)
	session, err := tr.Begin(context.Background(), r, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.Send(context.Background(), r, session, 0, int64(len(content)), transporttest.Section(content))
	wantHR(t, err, hresult.HTTP(413), false)
	if got != 0 {
		t.Errorf("Send confirmed %d bytes that no fragment carried", got)
	}
	sizes, _ := fragments(b.requests())
	if last := sizes[len(sizes)-1]; last != minFragment {
		t.Errorf("the last fragment tried had %d bytes, want the minimum %d", last, minFragment)
	}
}

func TestUploadMisspeltReceivedHeader(t *testing.T) {
	b := newBITSServer(t, false, func(b *bitsServer) { b.misspell = true })
	tr := b.transport(t, Options{})
	content := testenv.RandomContent(2<<20+5, 7)
	r := b.Request(t, "misspelt.bin")
	session, err := tr.Begin(context.Background(), r, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	half := int64(len(content) / 2)
	got, err := tr.Send(context.Background(), r, session, 0, int64(len(content)), transporttest.Section(content[:half]))
	if err != nil || got != half {
		t.Fatalf("Send = %d, %v; want %d", got, err, half)
	}
	if held, err := tr.Resume(context.Background(), r, session, 0, 0); err != nil || held != half {
		t.Fatalf("Resume = %d, %v; want %d", held, err, half)
	}
	sendAll(t, tr, r, session, half, content)
	if err := tr.Commit(context.Background(), r, session, nil); err != nil {
		t.Fatal(err)
	}
	wantUploaded(t, b, "misspelt.bin", content)
}

// sendHalf begins a session and sends the first half of content.
func sendHalf(t *testing.T, tr *Transport, r *transport.Request, content []byte) (string, int64) {
	t.Helper()
	session, err := tr.Begin(context.Background(), r, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	half := int64(len(content)/2 + 1234)
	got, err := tr.Send(context.Background(), r, session, 0, int64(len(content)), transporttest.Section(content[:half]))
	if err != nil || got != half {
		t.Fatalf("Send of the first half = %d, %v; want %d", got, err, half)
	}
	return session, half
}

func TestUploadResyncsFrom416(t *testing.T) {
	b := newBITSServer(t, false, nil)
	tr := b.transport(t, Options{})
	content := testenv.RandomContent(4<<20+3, 8)
	r := b.Request(t, "416.bin")
	session, _ := sendHalf(t, tr, r, content)
	before := len(b.requests())
	// The caller thinks nothing was sent: the server's 416 says where it is,
	// and Send skips the bytes it holds.
	sendAll(t, tr, r, session, 0, content)
	if err := tr.Commit(context.Background(), r, session, nil); err != nil {
		t.Fatal(err)
	}
	wantUploaded(t, b, "416.bin", content)
	sizes, statuses := fragments(b.requests()[before:])
	if statuses[0] != nethttp.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("statuses = %v, want a 416 first", statuses)
	}
	var sent int64
	for i, n := range sizes {
		if statuses[i] == 200 {
			sent += n
		}
	}
	if want := int64(len(content)) - int64(len(content)/2+1234); sent != want {
		t.Errorf("the second Send delivered %d bytes, want only the %d the server lacked", sent, want)
	}
}

func TestUploadServerHoldsMoreThanSent(t *testing.T) {
	// This server takes a fragment that starts inside what it holds and
	// acknowledges all it holds, beyond the fragment's end.
	b := newBITSServer(t, false, func(b *bitsServer) { b.overlap = true })
	tr := b.transport(t, Options{})
	content := testenv.RandomContent(4<<20+3, 9)
	r := b.Request(t, "more.bin")
	session, half := sendHalf(t, tr, r, content)
	before := len(b.requests())
	sendAll(t, tr, r, session, 0, content)
	if err := tr.Commit(context.Background(), r, session, nil); err != nil {
		t.Fatal(err)
	}
	wantUploaded(t, b, "more.bin", content)
	sizes, statuses := fragments(b.requests()[before:])
	if slices.Contains(statuses, nethttp.StatusRequestedRangeNotSatisfiable) || statuses[0] != 200 {
		t.Fatalf("statuses = %v, want 200s only", statuses)
	}
	if sizes[0] >= half {
		t.Fatalf("the first fragment (%d bytes) did not end inside what the server held (%d)", sizes[0], half)
	}
	reqs := b.requests()[before:]
	first, _, _, _ := strictRange(reqs[0].contentRange)
	var second int64 = -1
	for _, q := range reqs[1:] {
		if q.packet == uploadproto.PacketFragment {
			second, _, _, _ = strictRange(q.contentRange)
			break
		}
	}
	if first != 0 || second != half {
		t.Errorf("fragments started at %d, then %d; want 0, then %d where the server's Ack pointed", first, second, half)
	}
}

func TestUploadServerKeptLessThanSent(t *testing.T) {
	b := newBITSServer(t, false, nil)
	tr := b.transport(t, Options{})
	fakeClock(tr, time.Millisecond)
	content := testenv.RandomContent(4<<20+3, 10)
	r := b.Request(t, "less.bin")
	n := 0
	var lost int64 = -1
	b.mu.Lock()
	b.stored = func(s *bitsSession) {
		// The server keeps all but the last 1000 bytes of the second
		// fragment, and acknowledges what it kept.
		if n++; n == 2 {
			s.data = s.data[:len(s.data)-1000]
			lost = int64(len(s.data))
		}
	}
	b.mu.Unlock()
	upload(t, tr, r, content)
	wantUploaded(t, b, "less.bin", content)
	var starts []int64
	for _, q := range b.requests() {
		if first, _, _, ok := strictRange(q.contentRange); ok && q.status == 200 {
			starts = append(starts, first)
		}
	}
	if !slices.Contains(starts, lost) {
		t.Errorf("no fragment started at %d, where the server went back to; starts: %v", lost, starts)
	}
}

func TestUploadServerWentBackBeforeTheSource(t *testing.T) {
	b := newBITSServer(t, false, nil)
	tr := b.transport(t, Options{})
	fakeClock(tr, time.Millisecond)
	content := testenv.RandomContent(8<<20, 11)
	size := int64(len(content))
	r := b.Request(t, "back.bin")
	session, err := tr.Begin(context.Background(), r, size)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	b.setHook(func(packet string, s *bitsSession) {
		// Before the third fragment (at 3 MiB), the server loses all but
		// the first MiB.
		if packet == uploadproto.PacketFragment {
			if n++; n == 3 {
				s.data = s.data[:1<<20]
			}
		}
	})
	got, err := tr.Send(context.Background(), r, session, 0, size, transporttest.Section(content))
	if err != nil || got != 1<<20 {
		t.Fatalf("Send = %d, %v; want 1 MiB and no error: the caller sends again from there", got, err)
	}
	// Once more, but the server now goes back to where this Send began.
	n = 0
	b.setHook(func(packet string, s *bitsSession) {
		if packet == uploadproto.PacketFragment {
			if n++; n == 2 {
				s.data = s.data[:1<<20]
			}
		}
	})
	got, err = tr.Send(context.Background(), r, session, 1<<20, size, transporttest.Section(content[1<<20:]))
	if err != nil || got != 1<<20 {
		t.Fatalf("Send = %d, %v; want the server's 1 MiB and no error: the caller sends again from there", got, err)
	}
	b.setHook(nil)
	held, err := tr.Resume(context.Background(), r, session, 0, 0)
	if err != nil || held != 1<<20 {
		t.Fatalf("Resume = %d, %v; want 1 MiB", held, err)
	}
	sendAll(t, tr, r, session, held, content)
	if err := tr.Commit(context.Background(), r, session, nil); err != nil {
		t.Fatal(err)
	}
	wantUploaded(t, b, "back.bin", content)
}

func TestUploadSessionLost(t *testing.T) {
	b := newBITSServer(t, false, nil)
	tr := b.transport(t, Options{})
	content := testenv.RandomContent(3<<20, 12)
	r := b.Request(t, "lost.bin")
	session, half := sendHalf(t, tr, r, content)
	b.dropSessions()
	ctx := context.Background()
	if n, err := tr.Resume(ctx, r, session, 0, 0); err != nil || n != half {
		t.Errorf("Resume = %d, %v; want %d: only a fragment can tell", n, err, half)
	}
	got, err := tr.Send(ctx, r, session, half, int64(len(content)), transporttest.Section(content[half:]))
	if !errors.Is(err, transport.ErrSessionLost) || got != half {
		t.Errorf("Send = %d, %v; want %d, ErrSessionLost", got, err, half)
	}
	if err := tr.Commit(ctx, r, session, nil); !errors.Is(err, transport.ErrSessionLost) {
		t.Errorf("Commit = %v; want ErrSessionLost", err)
	}
	if err := tr.Cancel(ctx, r, session); err != nil {
		t.Errorf("Cancel of a lost session = %v; want nil", err)
	}
	for _, bad := range []string{"", "{6E1A9B55-0000-4000-8000-000000000000}", "12:", "x:{a}", "-1:{a}", "5:a b"} {
		if _, err := tr.Resume(ctx, r, bad, 0, 0); !errors.Is(err, transport.ErrSessionLost) {
			t.Errorf("Resume(%q) = %v; want ErrSessionLost", bad, err)
		}
	}
	_, err = b.Read(t, "lost.bin")
	if err == nil {
		t.Error("a file appeared from a lost session")
	}
}

func TestUploadCutMidFragment(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"HTTP", false}, {"HTTPS", true}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBITSServer(t, tc.tls, nil)
			tr := b.transport(t, Options{})
			content := testenv.RandomContent(5<<20+17, 13)
			size := int64(len(content))
			r := b.Request(t, "cut.bin")
			ctx := context.Background()
			session, err := tr.Begin(ctx, r, size)
			if err != nil {
				t.Fatal(err)
			}
			b.CutNext(t, "cut.bin", 1<<20+500_000) // inside the second fragment
			got, err := tr.Send(ctx, r, session, 0, size, transporttest.Section(content))
			var he *hresult.Error
			if !errors.As(err, &he) || !he.Transient {
				t.Fatalf("Send over a cut connection = %d, %v; want a transient *hresult.Error", got, err)
			}
			if got != 1<<20 {
				t.Errorf("Send confirmed %d, want the first fragment's %d", got, 1<<20)
			}
			held, err := tr.Resume(ctx, r, session, 0, 0)
			if err != nil || held != got {
				t.Fatalf("Resume = %d, %v; want %d", held, err, got)
			}
			sendAll(t, tr, r, session, held, content)
			if err := tr.Commit(ctx, r, session, nil); err != nil {
				t.Fatal(err)
			}
			wantUploaded(t, b, "cut.bin", content)
		})
	}
}

// A server may answer before it has read a fragment's body; the buffer
// net/http was reading goes on to hold the next fragment.
func TestUploadAnswerBeforeTheBodyEnds(t *testing.T) {
	b := newBITSServer(t, false, nil)
	tr := b.transport(t, Options{})
	content := testenv.RandomContent(6<<20+1, 24)
	size := int64(len(content))
	r := b.Request(t, "early.bin")
	ctx := context.Background()
	session, err := tr.Begin(ctx, r, size)
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.early = 100_000
	b.mu.Unlock()
	got, err := tr.Send(ctx, r, session, 0, size, transporttest.Section(content))
	var he *hresult.Error
	if !errors.As(err, &he) || !he.Transient || got != 0 {
		t.Fatalf("Send answered mid-fragment = %d, %v; want 0 and a transient error", got, err)
	}
	held, err := tr.Resume(ctx, r, session, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	sendAll(t, tr, r, session, held, content)
	if err := tr.Commit(ctx, r, session, nil); err != nil {
		t.Fatal(err)
	}
	wantUploaded(t, b, "early.bin", content)
}

// Resume asks the server nothing: it pings, and reports what the server
// last confirmed to this Transport, or else the engine's record. Send's
// first fragment, real bytes from there, learns the truth; no packet ever
// claims a byte it does not carry.
func TestUploadResumeSendsOnlyRealFragments(t *testing.T) {
	b := newBITSServer(t, false, nil)
	tr := b.transport(t, Options{})
	ctx := context.Background()
	content := testenv.RandomContent(300_000, 14)
	size := int64(len(content))
	r := b.Request(t, "resume.bin")
	session, err := tr.Begin(ctx, r, size)
	if err != nil {
		t.Fatal(err)
	}
	if held, err := tr.Resume(ctx, r, session, 0, 0); err != nil || held != 0 {
		t.Fatalf("Resume of a new session = %d, %v; want 0", held, err)
	}
	got, err := tr.Send(ctx, r, session, 0, size, transporttest.Section(content[:size-1]))
	if err != nil || got != size-1 {
		t.Fatalf("Send of all but the last byte = %d, %v", got, err)
	}
	if held, err := tr.Resume(ctx, r, session, 0, 0); err != nil || held != size-1 {
		t.Fatalf("Resume with all but the last byte held = %d, %v; want %d, as last confirmed", held, err, size-1)
	}
	tr = b.transport(t, Options{}) // a restart: only the record is left
	before := len(b.requests())
	held, err := tr.Resume(ctx, r, session, size-100, size-100)
	if err != nil || held != size-100 {
		t.Fatalf("Resume after a restart = %d, %v; want the record, %d", held, err, size-100)
	}
	if _, err := b.Read(t, "resume.bin"); err == nil {
		t.Fatal("Resume completed the upload")
	}
	sendAll(t, tr, r, session, held, content)
	for _, q := range b.requests()[before:] {
		if !q.hasLength {
			t.Errorf("a %s packet went without Content-Length", q.packet)
		}
		var first, last, total int64
		if q.packet == uploadproto.PacketFragment {
			_, err := fmt.Sscanf(q.contentRange, "bytes %d-%d/%d", &first, &last, &total)
			if n := q.header.Get("Content-Length"); err != nil || n != strconv.FormatInt(last-first+1, 10) {
				t.Errorf("a Fragment whose Content-Length %s is not the length of its Content-Range %q", n, q.contentRange)
			}
		}
	}
	sizes, statuses := fragments(b.requests()[before:])
	if !slices.Equal(statuses, []int{416, 200}) || sizes[1] != 1 {
		t.Errorf("fragments after the restart: sizes %v, statuses %v; want 100 bytes refused with the server's offset, then the last byte", sizes, statuses)
	}
	if err := tr.Commit(ctx, r, session, nil); err != nil {
		t.Fatal(err)
	}
	wantUploaded(t, b, "resume.bin", content)
}

// A server that checks a fragment's length before its session and offset
// answers the resumed upload's first fragment like any other.
func TestUploadResumeFromALengthFirstServer(t *testing.T) {
	b := newBITSServer(t, false, func(b *bitsServer) { b.lengthFirst, b.overlap = true, true })
	tr := b.transport(t, Options{})
	ctx := context.Background()
	content := testenv.RandomContent(3<<20+5, 23)
	size := int64(len(content))
	r := b.Request(t, "length-first.bin")
	session, half := sendHalf(t, tr, r, content)
	tr = b.transport(t, Options{}) // a restart, the record a little behind the server
	recorded := half - 1000
	held, err := tr.Resume(ctx, r, session, recorded, recorded)
	if err != nil || held != recorded {
		t.Fatalf("Resume after a restart = %d, %v; want the record %d", held, err, recorded)
	}
	before := len(b.requests())
	sendAll(t, tr, r, session, held, content)
	if err := tr.Commit(ctx, r, session, nil); err != nil {
		t.Fatal(err)
	}
	wantUploaded(t, b, "length-first.bin", content)
	var read int64
	for _, q := range b.requests()[before:] {
		read += q.bodyRead
	}
	sizes, _ := fragments(b.requests()[before:])
	if lacked := size - half; read < lacked || read > lacked+sizes[0] {
		t.Errorf("fragments carried %d bytes for the %d the server lacked; want no more than the first fragment (%d) again", read, lacked, sizes[0])
	}

	// A lost session: Resume cannot tell, the first fragment can, and
	// Resume knows it from then on.
	r = b.Request(t, "length-first-lost.bin")
	session, half = sendHalf(t, tr, r, content)
	b.dropSessions()
	if held, err := tr.Resume(ctx, r, session, 0, 0); err != nil || held != half {
		t.Fatalf("Resume of a lost session = %d, %v; want what was last confirmed, %d", held, err, half)
	}
	if _, err := tr.Send(ctx, r, session, half, size, transporttest.Section(content[half:])); !errors.Is(err, transport.ErrSessionLost) {
		t.Fatalf("Send = %v; want ErrSessionLost", err)
	}
	if _, err := tr.Resume(ctx, r, session, half, half); !errors.Is(err, transport.ErrSessionLost) {
		t.Fatalf("Resume after Send found the session lost = %v; want ErrSessionLost", err)
	}
}

// An empty upload interrupted between Begin and Commit has nothing to send
// again: Resume reports 0 and Commit closes it.
func TestUploadEmptySessionResumes(t *testing.T) {
	b := newBITSServer(t, false, nil)
	tr := b.transport(t, Options{})
	ctx := context.Background()
	r := b.Request(t, "empty.bin")
	session, err := tr.Begin(ctx, r, 0)
	if err != nil {
		t.Fatal(err)
	}
	tr = b.transport(t, Options{}) // a restart
	if held, err := tr.Resume(ctx, r, session, 0, 0); err != nil || held != 0 {
		t.Fatalf("Resume of an empty upload = %d, %v; want 0", held, err)
	}
	if err := tr.Commit(ctx, r, session, nil); err != nil {
		t.Fatal(err)
	}
	wantUploaded(t, b, "empty.bin", nil)
}

func TestUploadReply(t *testing.T) {
	replyTo := func(upload []byte) []byte {
		sum := sha256.Sum256(upload)
		return append([]byte("reply to "), sum[:]...)
	}
	for _, tc := range []struct {
		name    string
		onClose bool
	}{{"LastFragment", false}, {"CloseSession", true}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBITSServer(t, false, func(b *bitsServer) { b.reply, b.replyOnClose = replyTo, tc.onClose })
			tr := b.transport(t, Options{})
			content := testenv.RandomContent(3<<20+9, 15)
			r := b.Request(t, "reply.bin")
			ctx := context.Background()
			session, err := tr.Begin(ctx, r, int64(len(content)))
			if err != nil {
				t.Fatal(err)
			}
			sendAll(t, tr, r, session, 0, content)
			var reply bytes.Buffer
			if err := tr.Commit(ctx, r, session, &reply); err != nil {
				t.Fatalf("Commit: %v", err)
			}
			if want := replyTo(content); !bytes.Equal(reply.Bytes(), want) {
				t.Fatalf("reply = %q, want %q", reply.Bytes(), want)
			}
			wantUploaded(t, b, "reply.bin", content)
			var order []string
			for _, q := range b.requests() {
				if q.method == nethttp.MethodGet || q.packet == uploadproto.PacketCloseSession {
					order = append(order, q.method+" "+q.packet)
				}
			}
			want := []string{"GET ", "BITS_POST Close-Session"}
			if tc.onClose {
				// Closed again after the reply: the server may have
				// kept the session for it.
				want = []string{"BITS_POST Close-Session", "GET ", "BITS_POST Close-Session"}
			}
			if !slices.Equal(order, want) {
				t.Errorf("order = %q, want %q", order, want)
			}
		})
	}
	t.Run("NoReplyWanted", func(t *testing.T) {
		b := newBITSServer(t, false, func(b *bitsServer) { b.reply = replyTo })
		tr := b.transport(t, Options{})
		upload(t, tr, b.Request(t, "noreply.bin"), testenv.RandomContent(10_000, 16))
		for _, q := range b.requests() {
			if q.method == nethttp.MethodGet {
				t.Errorf("fetched %s although no reply was wanted", q.path)
			}
		}
	})
}

func TestUploadServerErrors(t *testing.T) {
	remote, app := hresult.ContextRemoteFile, hresult.ContextRemoteApplication
	for _, tc := range []struct {
		name      string
		fault     bitsFault
		code      hresult.Code
		where     hresult.Context
		transient bool
		after     time.Duration
	}{
		{"AccessDenied", bitsFault{uploadproto.PacketCreateSession, 403, map[string]string{uploadproto.HeaderErrorCode: "0x80070005", uploadproto.HeaderErrorContext: "0x5"}},
			hresult.E_ACCESSDENIED, remote, false, 0},
		{"UploadsDisabled", bitsFault{uploadproto.PacketCreateSession, 501, map[string]string{uploadproto.HeaderErrorCode: "0x80070005"}},
			hresult.E_ACCESSDENIED, remote, false, 0},
		{"ExistsNoOverwrite", bitsFault{uploadproto.PacketCreateSession, 409, map[string]string{uploadproto.HeaderErrorCode: "0x80070005", uploadproto.HeaderErrorContext: "5"}},
			hresult.E_ACCESSDENIED, remote, true, 0},
		{"TooLarge", bitsFault{uploadproto.PacketFragment, 500, map[string]string{uploadproto.HeaderErrorCode: "0x80200020", uploadproto.HeaderErrorContext: "0x5"}},
			hresult.BG_E_TOO_LARGE, remote, false, 0},
		{"DiskFullAsSpecified", bitsFault{uploadproto.PacketFragment, 500, map[string]string{uploadproto.HeaderErrorCode: "0x80070112", uploadproto.HeaderErrorContext: "0x5"}},
			hresult.E_DISK_FULL, remote, true, 0},
		{"ApplicationTimeout", bitsFault{uploadproto.PacketFragment, 408, map[string]string{uploadproto.HeaderErrorCode: "0x80070112", uploadproto.HeaderErrorContext: "0x7"}},
			hresult.E_DISK_FULL, app, true, 0},
		{"ApplicationRefused", bitsFault{uploadproto.PacketFragment, 403, map[string]string{uploadproto.HeaderError: "0x80004005", uploadproto.HeaderErrorContext: "0x7"}},
			hresult.E_FAIL, app, false, 0},
		{"ApplicationFailed", bitsFault{uploadproto.PacketCloseSession, 500, map[string]string{uploadproto.HeaderErrorCode: "-2147467259", uploadproto.HeaderErrorContext: "7"}},
			hresult.E_FAIL, app, true, 0},
		{"BadRequest", bitsFault{uploadproto.PacketFragment, 400, map[string]string{uploadproto.HeaderErrorCode: "0x80070057", uploadproto.HeaderErrorContext: "0x5"}},
			hresult.E_INVALIDARG, remote, false, 0},
		{"PlainStatus", bitsFault{uploadproto.PacketPing, 404, nil}, hresult.HTTP(404), remote, false, 0},
		{"Busy", bitsFault{uploadproto.PacketPing, 503, map[string]string{"Retry-After": "30"}}, hresult.HTTP(503), remote, true, 30 * time.Second},
		{"UnusableCode", bitsFault{uploadproto.PacketPing, 502, map[string]string{uploadproto.HeaderErrorCode: "oops", uploadproto.HeaderErrorContext: "0x99"}},
			hresult.HTTP(502), remote, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBITSServer(t, false, nil)
			tr := b.transport(t, Options{})
			content := testenv.RandomContent(20_000, 17)
			r := b.Request(t, "errors.bin")
			ctx := context.Background()
			b.fault(tc.fault)
			session, err := tr.Begin(ctx, r, int64(len(content)))
			if err == nil {
				_, err = tr.Send(ctx, r, session, 0, int64(len(content)), transporttest.Section(content))
			}
			if err == nil {
				err = tr.Commit(ctx, r, session, nil)
			}
			he := wantHRIn(t, err, tc.code, tc.transient, tc.where)
			if he.RetryAfter != tc.after {
				t.Errorf("RetryAfter = %s, want %s", he.RetryAfter, tc.after)
			}
		})
	}
}

func TestUploadBadAnswers(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     bitsFault
		code      hresult.Code
		transient bool
	}{
		{"NoSession", bitsFault{uploadproto.PacketCreateSession, 200, nil}, hresult.BG_E_INVALID_SERVER_RESPONSE, false},
		{"BadSession", bitsFault{uploadproto.PacketCreateSession, 200, map[string]string{uploadproto.HeaderSessionID: strings.Repeat("x", 101)}},
			hresult.BG_E_INVALID_SERVER_RESPONSE, false},
		{"OtherProtocol", bitsFault{uploadproto.PacketCreateSession, 200, map[string]string{uploadproto.HeaderSessionID: "{a}", uploadproto.HeaderProtocol: "{00000000-0000-0000-0000-000000000000}"}},
			hresult.BG_E_CLIENT_SERVER_PROTOCOL_MISMATCH, false},
		{"NoReceivedRange", bitsFault{uploadproto.PacketFragment, 200, nil}, hresult.BG_E_INVALID_SERVER_RESPONSE, true},
		// More than was sent: the session cannot be trusted (Send also
		// says it is lost, so that the engine begins a new one).
		{"ReceivedPastTheEnd", bitsFault{uploadproto.PacketFragment, 200, map[string]string{uploadproto.HeaderReceived: "20001"}},
			hresult.BG_E_INVALID_SERVER_RESPONSE, false},
		{"Redirected", bitsFault{uploadproto.PacketPing, 302, map[string]string{"Location": "/elsewhere"}}, hresult.HTTP(302), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBITSServer(t, false, nil)
			tr := b.transport(t, Options{})
			content := testenv.RandomContent(20_000, 18)
			r := b.Request(t, "bad.bin")
			ctx := context.Background()
			b.fault(tc.fault)
			session, err := tr.Begin(ctx, r, int64(len(content)))
			if err == nil {
				_, err = tr.Send(ctx, r, session, 0, int64(len(content)), transporttest.Section(content))
			}
			wantHR(t, err, tc.code, tc.transient)
			if lost := errors.Is(err, transport.ErrSessionLost); lost != (tc.name == "ReceivedPastTheEnd") {
				t.Errorf("%v: ErrSessionLost %v", err, lost)
			}
		})
	}
}

func TestUploadBasicAuth(t *testing.T) {
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"HTTP", false}, {"HTTPS", true}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBITSServer(t, tc.tls, func(b *bitsServer) {
				b.user, b.pass = "alice", "s3cret"
				b.reply = func([]byte) []byte { return []byte("ok") }
			})
			tr := b.transport(t, Options{})
			content := testenv.RandomContent(3<<20+1, 19)
			r := b.Request(t, "auth.bin")
			r.Credentials = []transport.Credential{serverCred(transport.SchemeBasic, "alice", "s3cret")}
			ctx := context.Background()
			session, err := tr.Begin(ctx, r, int64(len(content)))
			if err != nil {
				t.Fatal(err)
			}
			sendAll(t, tr, r, session, 0, content)
			var reply bytes.Buffer
			if err := tr.Commit(ctx, r, session, &reply); err != nil || reply.String() != "ok" {
				t.Fatalf("Commit = %v with reply %q", err, reply.String())
			}
			wantUploaded(t, b, "auth.bin", content)
			var read int64
			for _, q := range b.requests() {
				read += q.bodyRead
				if q.status == 401 && q.bodyRead != 0 {
					t.Errorf("the server read %d bytes of a fragment it refused", q.bodyRead)
				}
			}
			if read != int64(len(content)) {
				t.Errorf("the server read %d fragment bytes for a %d-byte upload: challenged fragments crossed the link", read, len(content))
			}

			r.Credentials = nil
			_, err = tr.Begin(ctx, r, int64(len(content)))
			wantHR(t, err, hresult.HTTP(401), false)
		})
	}
}

func TestUploadIdleTimeout(t *testing.T) {
	b := newBITSServer(t, false, func(b *bitsServer) { b.stall = make(chan struct{}) })
	tr := b.transport(t, Options{IdleTimeout: 300 * time.Millisecond, HeaderTimeout: 2 * time.Second})
	content := testenv.RandomContent(12<<20, 20)
	r := b.Request(t, "stall.bin")
	ctx := context.Background()
	session, err := tr.Begin(ctx, r, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	got, err := tr.Send(ctx, r, session, 0, int64(len(content)), transporttest.Section(content))
	wantHR(t, err, hresult.WINHTTP_TIMEOUT, true)
	if got != 0 {
		t.Errorf("Send confirmed %d bytes the server never read", got)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("Send took %s to notice a stalled server", took)
	}
	if tr.uploads.sizer(r.URL).next() >= firstFragment {
		t.Error("a timed-out fragment did not shrink the fragment size")
	}
}

func TestUploadCancel(t *testing.T) {
	b := newBITSServer(t, false, nil)
	tr := b.transport(t, Options{})
	content := testenv.RandomContent(2<<20, 21)
	r := b.Request(t, "cancel.bin")
	session, _ := sendHalf(t, tr, r, content)
	ctx := context.Background()
	if err := tr.Cancel(ctx, r, session); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	if left := b.Leftovers(t, "cancel.bin"); len(left) != 0 {
		t.Fatalf("the server still holds %v", left)
	}
	if err := tr.Cancel(ctx, r, session); err != nil {
		t.Errorf("a second Cancel = %v; want nil", err)
	}
	if err := tr.Cancel(ctx, r, "not a token"); err != nil {
		t.Errorf("Cancel of a token that names no session = %v; want nil", err)
	}
	b.fault(bitsFault{uploadproto.PacketCancelSession, 503, nil})
	wantHR(t, tr.Cancel(ctx, r, session), hresult.HTTP(503), true)
}

func TestUploadSourceErrorIsReturned(t *testing.T) {
	b := newBITSServer(t, false, nil)
	tr := b.transport(t, Options{})
	r := b.Request(t, "src.bin")
	session, err := tr.Begin(context.Background(), r, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk on fire")
	src := io.NewSectionReader(brokenAt{1000, boom}, 0, 100_000)
	if got, err := tr.Send(context.Background(), r, session, 0, 100_000, src); !errors.Is(err, boom) || got != 0 {
		t.Errorf("Send = %d, %v; want 0 and the source's error", got, err)
	}
	long := transporttest.Section(make([]byte, 100_001))
	got, err := tr.Send(context.Background(), r, session, 0, 100_000, long)
	wantHR(t, err, hresult.E_INVALIDARG, false)
	if got != 0 {
		t.Errorf("Send of a source longer than the upload confirmed %d", got)
	}
}

// brokenAt reads as zeros up to n, and fails with err from there.
type brokenAt struct {
	n   int64
	err error
}

func (b brokenAt) ReadAt(p []byte, off int64) (int, error) {
	k := int(min(max(b.n-off, 0), int64(len(p))))
	clear(p[:k])
	if k < len(p) {
		return k, b.err
	}
	return k, nil
}

// TestUploadHostID: a web farm's node names itself in its answer to
// Create-Session (BITS-Host-Id), and every later packet goes to it, also
// after a restart (the token keeps the host). Both nodes share the
// sessions, as a farm does.
func TestUploadHostID(t *testing.T) {
	var node *httptest.Server
	b := newBITSServer(t, false, nil)
	node = httptest.NewServer(b)
	t.Cleanup(node.Close)
	b.hostID = node.Listener.Addr().String()
	tr := b.transport(t, Options{})
	ctx := context.Background()
	content := testenv.RandomContent(2<<20+9, 41)
	size := int64(len(content))
	r := b.Request(t, "farm.bin")
	session, err := tr.Begin(ctx, r, size)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.Send(ctx, r, session, 0, size, transporttest.Section(content[:size/2]))
	if err != nil {
		t.Fatal(err)
	}
	tr = b.transport(t, Options{}) // a restart
	if held, err := tr.Resume(ctx, r, session, got, got); err != nil || held != got {
		t.Fatalf("Resume = %d, %v", held, err)
	}
	sendAll(t, tr, r, session, got, content)
	if err := tr.Commit(ctx, r, session, nil); err != nil {
		t.Fatal(err)
	}
	wantUploaded(t, b, "farm.bin", content)
	reqs := b.requests()
	for i, q := range reqs {
		wantHost := node.Listener.Addr().String()
		if i == 0 || q.packet == uploadproto.PacketCreateSession {
			wantHost = r.URL.Host // Ping and Create-Session go to the farm
		}
		if q.host != wantHost {
			t.Errorf("packet %d (%s) went to %s, want %s", i, q.packet, q.host, wantHost)
		}
	}
}

// TestUploadHostIDFallback: a named host that cannot be reached is tried
// for the fallback timeout, from the first failure; then the client goes
// back to the original URL. Without a timeout it never does.
func TestUploadHostIDFallback(t *testing.T) {
	gone := httptest.NewServer(nethttp.NotFoundHandler())
	deadHost := gone.Listener.Addr().String()
	gone.Close() // nobody listens there any more
	for _, tc := range []struct {
		name     string
		fallback string
	}{{"Timeout", "30"}, {"Never", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBITSServer(t, false, func(b *bitsServer) { b.hostID, b.hostFallback = deadHost, tc.fallback })
			tr := b.transport(t, Options{})
			var mu sync.Mutex
			now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			tr.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			later := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
			ctx := context.Background()
			content := testenv.RandomContent(100_000, 42)
			size := int64(len(content))
			r := b.Request(t, "fallback.bin")
			session, err := tr.Begin(ctx, r, size)
			if err != nil {
				t.Fatal(err)
			}
			cannotConnect := func(err error) {
				t.Helper()
				var he *hresult.Error
				if !errors.As(err, &he) || he.Code != hresult.WINHTTP_CANNOT_CONNECT || !he.Transient {
					t.Fatalf("Send to the named host = %v; want a transient WINHTTP_CANNOT_CONNECT", err)
				}
			}
			for _, wait := range []time.Duration{0, 29 * time.Second} {
				later(wait)
				_, err := tr.Send(ctx, r, session, 0, size, transporttest.Section(content))
				cannotConnect(err)
			}
			later(2 * time.Second) // 31 s after the first failure
			got, err := tr.Send(ctx, r, session, 0, size, transporttest.Section(content))
			if tc.fallback == "" {
				cannotConnect(err)
				return
			}
			if err != nil || got != size {
				t.Fatalf("Send after the fallback timeout = %d, %v; want the whole file at the original URL", got, err)
			}
			if err := tr.Commit(ctx, r, session, nil); err != nil {
				t.Fatal(err)
			}
			wantUploaded(t, b, "fallback.bin", content)
		})
	}
}

// After a restart, a server that holds more than the record is believed up
// to the reach the engine recorded before its last chunk (an earlier
// worker may have sent that far), and not beyond: with the reach at the
// record, the same answer names bytes no fragment could have carried.
func TestUploadResumeBelievesUpToTheReach(t *testing.T) {
	b := newBITSServer(t, false, nil)
	ctx := context.Background()
	content := testenv.RandomContent(3<<20+5, 24)
	size := int64(len(content))
	const recorded = 4096
	for _, tc := range []struct {
		name    string
		reach   func(half int64) int64
		believe bool
	}{
		{"within", func(half int64) int64 { return half }, true},
		{"beyond", func(int64) int64 { return recorded }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := b.Request(t, "reach-"+tc.name+".bin")
			session, half := sendHalf(t, b.transport(t, Options{}), r, content)
			tr := b.transport(t, Options{}) // a restart, the record far behind the server
			held, err := tr.Resume(ctx, r, session, recorded, tc.reach(half))
			if err != nil || held != recorded {
				t.Fatalf("Resume = %d, %v; want the record %d", held, err, recorded)
			}
			got, err := tr.Send(ctx, r, session, held, size, transporttest.Section(content[held:2*held]))
			if !tc.believe {
				if !errors.Is(err, transport.ErrSessionLost) {
					t.Fatalf("Send = %d, %v; want ErrSessionLost for a claim past the reach", got, err)
				}
				return
			}
			if err != nil || got != half {
				t.Fatalf("Send = %d, %v; want the server's %d, believed", got, err, half)
			}
			sendAll(t, tr, r, session, got, content)
			if err := tr.Commit(ctx, r, session, nil); err != nil {
				t.Fatal(err)
			}
			wantUploaded(t, b, "reach-within.bin", content)
		})
	}
}

// recordingPacer lets everything through at once but records each Wait,
// and says it allows rate bytes per second.
type recordingPacer struct {
	rate  float64
	mu    sync.Mutex
	waits []int
}

func (p *recordingPacer) Wait(_ context.Context, n int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.waits = append(p.waits, n)
	return nil
}

func (p *recordingPacer) Rate() float64 { return p.rate }

// TestUploadFragmentLeavesPaced: under a limit, a fragment's bytes go
// through the pacer as they are read for the link, in pieces of about
// 50 ms of the rate, not as one block of the fragment's size.
func TestUploadFragmentLeavesPaced(t *testing.T) {
	b := newBITSServer(t, false, nil)
	tr := b.transport(t, Options{})
	r := b.Request(t, "paced.bin")
	content := testenv.RandomContent(1<<20, 61)
	session, err := tr.Begin(context.Background(), r, int64(len(content)))
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingPacer{rate: 200e3}
	ctx := transport.WithPacer(context.Background(), p)
	if got, err := tr.Send(ctx, r, session, 0, int64(len(content)), transporttest.Section(content)); err != nil || got != int64(len(content)) {
		t.Fatalf("Send = %d, %v; want all %d bytes", got, err, len(content))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	sum, most := 0, 0
	for _, n := range p.waits {
		sum, most = sum+n, max(most, n)
	}
	if sum < len(content) {
		t.Errorf("the pacer was asked for %d bytes of the %d sent", sum, len(content))
	}
	if piece := int(p.rate * 0.05); most > piece {
		t.Errorf("the pacer let %d bytes through at once; want pieces of at most %d (50 ms at the rate)", most, piece)
	}
}
