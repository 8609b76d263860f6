package file_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"bits/engine/transport"
	"bits/engine/transport/file"
	"bits/hresult"
	"bits/internal/testenv"
	"bits/internal/testenv/transporttest"
)

var ctx = context.Background()

// names reads this transport's remote names as the engine's registry does.
var names = transport.NewRegistry(file.New().Entry())

// request names p, a local file or, for the transport to refuse, another
// transport's URL.
func request(t testing.TB, p string) *transport.Request {
	t.Helper()
	u, err := names.Parse(p)
	if err != nil {
		if u, err = url.Parse(p); err != nil {
			t.Fatal(err)
		}
	}
	return &transport.Request{URL: u}
}

func writeFile(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// wantHR fails unless err is an *hresult.Error about the remote file with
// code and transience.
func wantHR(t *testing.T, err error, code hresult.Code, transient bool) {
	t.Helper()
	var he *hresult.Error
	if !errors.As(err, &he) {
		t.Fatalf("err = %v (%T), want hresult 0x%08x", err, err, uint32(code))
	}
	if he.Code != code || he.Transient != transient || he.Context != hresult.ContextRemoteFile {
		t.Fatalf("err = 0x%08x transient=%v context=%d (%v), want 0x%08x transient=%v context=%d",
			uint32(he.Code), he.Transient, he.Context, he, uint32(code), transient, hresult.ContextRemoteFile)
	}
}

func TestStat(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.bin")
	writeFile(t, p, []byte("hello"))
	when := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	if err := os.Chtimes(p, when, when); err != nil {
		t.Fatal(err)
	}
	tr := file.New()
	info, err := tr.Stat(ctx, request(t, "file://"+p))
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != 5 || !info.Ranges || !info.ModTime.Equal(when) || info.Validator == "" {
		t.Fatalf("Stat = %+v, want size 5, ranges, time %s and a validator", info, when)
	}

	// Touching the file, same size and same inode, is a new version.
	later := when.Add(time.Millisecond)
	if err := os.Chtimes(p, later, later); err != nil {
		t.Fatal(err)
	}
	again, err := tr.Stat(ctx, request(t, p))
	if err != nil {
		t.Fatal(err)
	}
	if again.Validator == info.Validator {
		t.Fatalf("the validator %q did not change with the modification time", info.Validator)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	denied := filepath.Join(dir, "denied")
	writeFile(t, denied, []byte("secret"))
	if err := os.Chmod(denied, 0); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	notDir := filepath.Join(dir, "plain")
	writeFile(t, notDir, nil)
	tr := unprivileged{file.New()}

	for _, tc := range []struct {
		name string
		path string
		code hresult.Code
	}{
		{"missing file", filepath.Join(dir, "nothing"), hresult.E_FILE_NOT_FOUND},
		{"missing folder", filepath.Join(dir, "no", "thing"), hresult.E_PATH_NOT_FOUND},
		{"file used as a folder", filepath.Join(notDir, "x"), hresult.E_PATH_NOT_FOUND},
		{"no permission", denied, hresult.E_ACCESSDENIED},
		{"a folder", dir, hresult.E_ACCESSDENIED},
		{"a FIFO, not waited on", fifo, hresult.E_INVALIDARG},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tr.Stat(ctx, request(t, tc.path))
			wantHR(t, err, tc.code, false)
			var buf bytes.Buffer
			_, err = tr.Download(ctx, request(t, tc.path), 0, -1, transport.RemoteInfo{Size: -1}, &buf)
			wantHR(t, err, tc.code, false)
		})
	}

	t.Run("not a file URL", func(t *testing.T) {
		_, err := tr.Stat(ctx, request(t, "https://example.com/x"))
		wantHR(t, err, hresult.E_INVALIDARG, false)
	})
	t.Run("upload into a missing folder", func(t *testing.T) {
		_, err := tr.Begin(ctx, request(t, filepath.Join(dir, "no", "thing")), 10)
		wantHR(t, err, hresult.E_PATH_NOT_FOUND, false)
	})
	t.Run("upload over a folder", func(t *testing.T) {
		_, err := tr.Begin(ctx, request(t, dir), 10)
		wantHR(t, err, hresult.E_ACCESSDENIED, false)
	})
}

// rewriter changes the file it is copied from after the first chunk.
type rewriter struct {
	bytes.Buffer
	change func()
}

func (w *rewriter) Write(p []byte) (int, error) {
	if w.change != nil {
		w.change()
		w.change = nil
	}
	return w.Buffer.Write(p)
}

func TestDownloadSeesRewriteDuringCopy(t *testing.T) {
	content := testenv.RandomContent(3<<20, 2)
	for _, tc := range []struct {
		name   string
		change func(f *os.File) error
	}{
		{"appended", func(f *os.File) error { _, err := f.WriteAt([]byte("more"), int64(len(content))); return err }},
		{"edited in place", func(f *os.File) error { _, err := f.WriteAt([]byte("edit"), 2<<20); return err }},
		{"truncated", func(f *os.File) error { return f.Truncate(1 << 20) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "a.bin")
			writeFile(t, p, content)
			// An mtime well in the past, so the edit's own time differs
			// even on a coarse clock.
			past := time.Now().Add(-time.Hour)
			if err := os.Chtimes(p, past, past); err != nil {
				t.Fatal(err)
			}
			tr := file.New()
			r := request(t, p)
			info, err := tr.Stat(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			w := &rewriter{change: func() {
				f, err := os.OpenFile(p, os.O_WRONLY, 0)
				if err == nil {
					err = tc.change(f)
					f.Close()
				}
				if err != nil {
					panic(err)
				}
			}}
			_, err = tr.Download(ctx, r, 0, -1, info, w)
			if !errors.Is(err, transport.ErrChanged) {
				t.Fatalf("Download of a file rewritten mid-copy: %v, want ErrChanged", err)
			}
		})
	}
}

func TestDownloadOffsetPastEnd(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.bin")
	writeFile(t, p, []byte("short"))
	var buf bytes.Buffer
	n, err := file.New().Download(ctx, request(t, p), 10, -1, transport.RemoteInfo{Size: -1}, &buf)
	if !errors.Is(err, transport.ErrChanged) || n != 0 {
		t.Fatalf("Download from past the end = %d, %v; want 0, ErrChanged", n, err)
	}
}

func TestDownloadReturnsWriterError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "a.bin")
	writeFile(t, p, []byte("content"))
	tr := file.New()
	info, err := tr.Stat(ctx, request(t, p))
	if err != nil {
		t.Fatal(err)
	}
	full := errors.New("local disk full")
	_, err = tr.Download(ctx, request(t, p), 0, -1, info, failingWriter{full})
	if err != full {
		t.Fatalf("Download = %v, want the writer's own error", err)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

// upload begins a session for dest and sends b from 0.
func upload(t *testing.T, tr *file.Transport, dest string, b []byte) (*transport.Request, string) {
	t.Helper()
	r := request(t, dest)
	session, err := tr.Begin(ctx, r, int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := tr.Send(ctx, r, session, 0, int64(len(b)), transporttest.Section(b)); err != nil || n != int64(len(b)) {
		t.Fatalf("Send = %d, %v", n, err)
	}
	return r, session
}

func TestSendFromAnEarlierOffsetDropsTheRest(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "a.bin")
	tr := file.New()
	r, session := upload(t, tr, dest, []byte("0123456789"))
	n, err := tr.Send(ctx, r, session, 4, 10, transporttest.Section([]byte("ab")))
	if err != nil || n != 6 {
		t.Fatalf("Send at 4 = %d, %v; want 6", n, err)
	}
	if held, err := tr.Resume(ctx, r, session, 0, 0); err != nil || held != 6 {
		t.Fatalf("Resume = %d, %v; want 6", held, err)
	}
	if err := tr.Commit(ctx, r, session, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dest); string(got) != "0123ab" {
		t.Fatalf("uploaded %q, want %q", got, "0123ab")
	}
}

func TestSendRefusesAGap(t *testing.T) {
	tr := file.New()
	r, session := upload(t, tr, filepath.Join(t.TempDir(), "a.bin"), []byte("0123"))
	n, err := tr.Send(ctx, r, session, 8, 10, transporttest.Section([]byte("89")))
	wantHR(t, err, hresult.E_INVALIDARG, false)
	if n != 4 {
		t.Fatalf("Send past the held bytes confirmed %d, want the 4 held", n)
	}
}

func TestSendWritesNoMoreThanSize(t *testing.T) {
	tr := file.New()
	dest := filepath.Join(t.TempDir(), "a.bin")
	r := request(t, dest)
	session, err := tr.Begin(ctx, r, 4)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := tr.Send(ctx, r, session, 0, 4, transporttest.Section([]byte("0123456789"))); err != nil || n != 4 {
		t.Fatalf("Send = %d, %v; want 4", n, err)
	}
}

// The engine sends a file in chunks, each Send given the chunk's length
// and a section of the local file; callers that give the whole file's size
// with the rest of the file are served as well.
func TestSendChunks(t *testing.T) {
	content := testenv.RandomContent(3<<20+5, 3)
	total := int64(len(content))
	const chunk = 1 << 20
	for _, tc := range []struct {
		name string
		size func(off, n int64) int64
	}{
		{"chunk length", func(off, n int64) int64 { return n }},
		{"file size", func(off, n int64) int64 { return total }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "a.bin")
			tr := file.New()
			r := request(t, dest)
			session, err := tr.Begin(ctx, r, total)
			if err != nil {
				t.Fatal(err)
			}
			for off := int64(0); off < total; {
				n := min(chunk, total-off)
				got, err := tr.Send(ctx, r, session, off, tc.size(off, n), io.NewSectionReader(bytes.NewReader(content), off, n))
				if err != nil || got != off+n {
					t.Fatalf("Send(%d, %d) = %d, %v; want %d", off, n, got, err, off+n)
				}
				off = got
			}
			if err := tr.Commit(ctx, r, session, nil); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(dest); !bytes.Equal(got, content) {
				t.Fatalf("uploaded %d bytes that differ from the %d sent", len(got), len(content))
			}
		})
	}
}

func TestSendReturnsSourceError(t *testing.T) {
	tr := file.New()
	r, session := upload(t, tr, filepath.Join(t.TempDir(), "a.bin"), nil)
	bad := errors.New("local read failed")
	_, err := tr.Send(ctx, r, session, 0, 10, io.NewSectionReader(failingReader{[]byte("0123"), bad}, 0, 10))
	if err != bad {
		t.Fatalf("Send = %v, want the source's own error", err)
	}
	if held, _ := tr.Resume(ctx, r, session, 0, 0); held != 4 {
		t.Fatalf("Resume = %d, want the 4 bytes read before the failure", held)
	}
}

// failingReader holds b, and fails with err past it.
type failingReader struct {
	b   []byte
	err error
}

func (r failingReader) ReadAt(p []byte, off int64) (int, error) {
	n := copy(p, r.b[min(off, int64(len(r.b))):])
	if n < len(p) {
		return n, r.err
	}
	return n, nil
}

func TestCommitModes(t *testing.T) {
	dir := t.TempDir()
	tr := file.New()

	fresh := filepath.Join(dir, "fresh.bin")
	r, session := upload(t, tr, fresh, []byte("new"))
	fi, err := os.Stat(filepath.Join(dir, session))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the temporary file has mode %o, want 600", fi.Mode().Perm())
	}
	if err := tr.Commit(ctx, r, session, nil); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh); fi.Mode().Perm() != 0o644 {
		t.Errorf("a new file has mode %o, want 644", fi.Mode().Perm())
	}

	kept := filepath.Join(dir, "kept.bin")
	writeFile(t, kept, []byte("old"))
	if err := os.Chmod(kept, 0o640); err != nil {
		t.Fatal(err)
	}
	r, session = upload(t, tr, kept, []byte("new"))
	if err := tr.Commit(ctx, r, session, nil); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(kept); fi.Mode().Perm() != 0o640 {
		t.Errorf("a replaced file has mode %o, want the old 640", fi.Mode().Perm())
	}
}

// A Commit that fails keeps the session, so it can be retried.
func TestFailedCommitKeepsTheSession(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "a.bin")
	tr := file.New()
	r, session := upload(t, tr, dest, []byte("data"))
	if err := os.Mkdir(dest, 0o755); err != nil { // something took the name
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dest, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := tr.Commit(ctx, r, session, nil); err == nil {
		t.Fatal("Commit over a folder succeeded")
	}
	if held, err := tr.Resume(ctx, r, session, 0, 0); err != nil || held != 4 {
		t.Fatalf("Resume after a failed Commit = %d, %v; want 4", held, err)
	}
}

// Session tokens come from the job database; one that is not a temporary
// file name of ours must never reach another file.
func TestForeignSessionTokens(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	writeFile(t, victim, []byte("keep me"))
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	r := request(t, filepath.Join(dir, "sub", "a.bin"))
	tr := file.New()
	for _, token := range []string{"../victim", "victim", "BIT00zz.tmp", "bit0000.tmp", "BIT0000.tmp/..", ""} {
		if _, err := tr.Resume(ctx, r, token, 0, 0); !errors.Is(err, transport.ErrSessionLost) {
			t.Errorf("Resume(%q) = %v, want ErrSessionLost", token, err)
		}
		if err := tr.Cancel(ctx, r, token); err != nil {
			t.Errorf("Cancel(%q) = %v, want nil", token, err)
		}
		if err := tr.Commit(ctx, r, token, nil); !errors.Is(err, transport.ErrSessionLost) {
			t.Errorf("Commit(%q) = %v, want ErrSessionLost", token, err)
		}
	}
	if _, err := os.Stat(victim); err != nil {
		t.Fatalf("the victim file is gone: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sub", "a.bin")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a file appeared under the destination: %v", err)
	}
}
