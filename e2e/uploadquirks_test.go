package e2e

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bits/internal/testenv"
)

// TestUploadToServersWithQuirks uploads through bitsadmin to an upload
// server double with the quirks of real servers, none written by this
// project: IIS's strictness, a lax public server that takes whatever a
// fragment claims, sessions that live only as long as one connection,
// GoBITS' spelling of its offset header, session ids that are not GUIDs, a
// server that closes the connection after every answer. Each time the
// worker is killed twice mid-upload (with its supervisor: a command brings
// it back) and the connection is cut once. The file on the server must be
// the source, byte for byte; TRANSFERRED with another file would be silent
// data loss. Every packet carries Content-Length.
func TestUploadToServersWithQuirks(t *testing.T) {
	const size = 6 << 20
	src, _ := uploadSource(t, size)
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		opts []testenv.UploadOption
	}{
		{"IISStrict", nil},
		{"Answer411", []testenv.UploadOption{testenv.Answer411()}},
		{"Lax", []testenv.UploadOption{testenv.Lax()}},
		{"PerConnectionSessions", []testenv.UploadOption{testenv.PerConnectionSessions()}},
		{"GoBITSSpelling", []testenv.UploadOption{testenv.MisspelledReceived()}},
		{"NonGUIDSessions", []testenv.UploadOption{testenv.NonGUIDSessions()}},
		{"CloseAfterEveryAnswer", []testenv.UploadOption{testenv.CloseAfterEveryAnswer()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each its own user and server; most of its time is the retry delay
			u := newUser(t)
			srv := testenv.NewUploadServer(t, append(tc.opts, testenv.UploadRateLimit(2<<20))...)
			u.ok("/create", "/upload", "quirk")
			u.ok("/addfile", "quirk", srv.URL("/up/quirk.bin"), src)
			u.ok("/setminretrydelay", "quirk", "5")
			u.ok("/resume", "quirk")
			for _, at := range []int64{size / 4, size / 2} {
				testenv.Eventually(t, "upload progress", func() bool { return u.bytesDone("quirk") > at })
				u.killAll()
				u.raw("/getstate", "quirk") // any command brings the worker back
			}
			seen := len(srv.Packets())
			srv.CutNextFragment(64 << 10)
			testenv.Eventually(t, "the cut", func() bool {
				for _, p := range srv.Packets()[seen:] {
					if p.Type == "Fragment" && p.Status == 0 {
						return true
					}
				}
				return false
			})
			testenv.Eventually(t, "the end of the job", func() bool {
				s := u.raw("/getstate", "quirk")
				return s == "TRANSFERRED" || s == "ERROR"
			})
			if s := u.raw("/getstate", "quirk"); s != "TRANSFERRED" {
				t.Fatalf("the job ended in %s:\n%s", s, u.ok("/info", "quirk", "/verbose"))
			}
			got, ok := srv.File("/up/quirk.bin")
			if !ok || !bytes.Equal(got, want) {
				t.Fatalf("TRANSFERRED, but the server holds %d bytes (committed: %v) that are not the %d-byte source", len(got), ok, len(want))
			}
			u.ok("/complete", "quirk")
			for _, p := range srv.Packets() {
				if !p.HasContentLength {
					t.Errorf("a %s packet without Content-Length", p.Type)
				}
				// Progress is recorded after every 1 MiB chunk, which no
				// fragment crosses.
				var first, last, total int64
				if _, err := fmt.Sscanf(p.ContentRange, "bytes %d-%d/%d", &first, &last, &total); err == nil && first>>20 != last>>20 {
					t.Errorf("fragment %s crosses a 1 MiB chunk", p.ContentRange)
				}
			}
			if !strings.Contains(tc.name, "PerConnection") && srv.OpenSessions() != 0 {
				t.Errorf("%d sessions left open on the server", srv.OpenSessions())
			}
		})
	}
}

// TestUploadReplyToServersWithQuirks runs upload-reply jobs against the
// strict and the lax server doubles, the worker killed in the middle: the
// reply file holds what the server's application answered, and the
// server the whole upload.
func TestUploadReplyToServersWithQuirks(t *testing.T) {
	const size = 3 << 20
	src, _ := uploadSource(t, size)
	want, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	replyTo := func(path string, body []byte) []byte {
		sum := sha256.Sum256(body)
		return []byte(fmt.Sprintf("%s: %x", path, sum))
	}
	for _, tc := range []struct {
		name string
		opts []testenv.UploadOption
	}{{"IISStrict", nil}, {"Lax", []testenv.UploadOption{testenv.Lax()}}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each its own user and server; most of its time is the retry delay
			u := newUser(t)
			srv := testenv.NewUploadServer(t, append(tc.opts, testenv.UploadReply(replyTo), testenv.UploadRateLimit(2<<20))...)
			reply := filepath.Join(t.TempDir(), "reply.txt")
			u.ok("/create", "/upload-reply", "form")
			u.ok("/addfile", "form", srv.URL("/up/form.bin"), src)
			u.ok("/setreplyfilename", "form", reply)
			u.ok("/setminretrydelay", "form", "5")
			u.ok("/resume", "form")
			testenv.Eventually(t, "upload progress", func() bool { return u.bytesDone("form") > size/2 })
			u.killAll()
			u.waitState("form", "TRANSFERRED")
			u.ok("/complete", "form")
			if got, ok := srv.File("/up/form.bin"); !ok || !bytes.Equal(got, want) {
				t.Fatalf("the server holds %d bytes (committed: %v), not the %d-byte source", len(got), ok, len(want))
			}
			if got, err := os.ReadFile(reply); err != nil || !bytes.Equal(got, replyTo("/up/form.bin", want)) {
				t.Fatalf("reply %q (%v), want %q", got, err, replyTo("/up/form.bin", want))
			}
		})
	}
}
