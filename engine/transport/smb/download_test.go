package smb

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"bits/engine/transport"
	"bits/hresult"
)

func TestStat(t *testing.T) {
	s, tr := setup(t, Options{})
	data := randomData(1000)
	s.WriteFile("dir/a.bin", data)
	mtime := time.Date(2024, 3, 1, 12, 0, 0, 123456700, time.UTC)
	if err := os.Chtimes(filepath.Join(s.Dir(), "dir/a.bin"), mtime, mtime); err != nil {
		t.Fatal(err)
	}
	info, err := tr.Stat(context.Background(), req(t, s, "dir/a.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != 1000 || !info.ModTime.Equal(mtime) || !info.Ranges || info.Validator == "" {
		t.Fatalf("Stat = %+v, want size 1000, time %v, ranges and a validator", info, mtime)
	}
	// UNC names reach the same file.
	info2, err := tr.Stat(context.Background(), request(t, `\\`+s.Addr()+`\share\dir\a.bin`, ntlm(s.User(), s.Password())))
	if err != nil || info2.Validator != info.Validator {
		t.Fatalf("Stat by UNC name = %+v, %v; want %+v", info2, err, info)
	}
}

func TestDownloadWhole(t *testing.T) {
	s, tr := setup(t, Options{})
	data := randomData(3<<20 + 12345) // several reads, the last one short
	s.WriteFile("big.bin", data)
	download(t, tr, req(t, s, "big.bin"), data)

	s.WriteFile("empty", nil)
	download(t, tr, req(t, s, "empty"), nil)
}

func TestDownloadFromOffset(t *testing.T) {
	s, tr := setup(t, Options{})
	data := randomData(2<<20 + 7)
	s.WriteFile("f.bin", data)
	r := req(t, s, "f.bin")
	ctx := context.Background()
	info, err := tr.Stat(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ off, end int64 }{
		{1<<20 + 3, -1}, {5, 100}, {0, 1}, {int64(len(data)), -1}, {100, 1 << 30},
	} {
		var buf bytes.Buffer
		n, err := tr.Download(ctx, r, c.off, c.end, info, &buf)
		end := c.end
		if end < 0 || end > int64(len(data)) {
			end = int64(len(data))
		}
		if err != nil || n != end-c.off || !bytes.Equal(buf.Bytes(), data[c.off:end]) {
			t.Fatalf("Download(%d, %d) = %d, %v; want bytes %d..%d", c.off, c.end, n, err, c.off, end)
		}
	}
}

func TestDownloadChangedFile(t *testing.T) {
	s, tr := setup(t, Options{})
	ctx := context.Background()
	path := filepath.Join(s.Dir(), "f.bin")
	for _, c := range []struct {
		name   string
		change func()
	}{
		{"size", func() { s.WriteFile("f.bin", randomData(5000)) }},
		{"time", func() {
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(path, later, later); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s.WriteFile("f.bin", randomData(4000))
			old := time.Now().Add(-time.Hour)
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
			r := req(t, s, "f.bin")
			info, err := tr.Stat(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			c.change()
			info2, err := tr.Stat(ctx, r)
			if err != nil || info2.Validator == info.Validator {
				t.Fatalf("validator after the change = %q, %v; want other than %q", info2.Validator, err, info.Validator)
			}
			var buf bytes.Buffer
			n, err := tr.Download(ctx, r, 1000, -1, info, &buf)
			if !errors.Is(err, transport.ErrChanged) || n != 0 || buf.Len() != 0 {
				t.Fatalf("Download = %d, %v, %d bytes written; want ErrChanged and nothing", n, err, buf.Len())
			}
		})
	}
}

func TestMissingFileFolderShare(t *testing.T) {
	s, tr := setup(t, Options{})
	s.WriteFile("dir/there", []byte("x"))
	ctx := context.Background()
	_, err := tr.Stat(ctx, req(t, s, "dir/missing"))
	wantError(t, err, hresult.E_FILE_NOT_FOUND, hresult.ContextRemoteFile, false)
	_, err = tr.Download(ctx, req(t, s, "missing"), 0, -1, transport.RemoteInfo{Size: 1}, &bytes.Buffer{})
	wantError(t, err, hresult.E_FILE_NOT_FOUND, hresult.ContextRemoteFile, false)
	_, err = tr.Stat(ctx, req(t, s, "nodir/file"))
	wantError(t, err, hresult.E_PATH_NOT_FOUND, hresult.ContextRemoteFile, false)
	_, err = tr.Stat(ctx, request(t, "smb://"+s.Addr()+"/noshare/file", ntlm(s.User(), s.Password())))
	wantError(t, err, hresult.E_PATH_NOT_FOUND, hresult.ContextRemoteFile, false)
	_, err = tr.Stat(ctx, req(t, s, "dir"))
	wantError(t, err, hresult.E_ACCESSDENIED, hresult.ContextRemoteFile, false)
}

// A name cannot climb out of its share: smb.conf lies beside the share's
// folder, and must stay out of reach.
func TestPathStaysInShare(t *testing.T) {
	s, tr := setup(t, Options{})
	if _, err := os.Stat(filepath.Join(filepath.Dir(s.Dir()), "smb.conf")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"smb://" + s.Addr() + "/share/../smb.conf",
		"smb://" + s.Addr() + "/share/a/../../smb.conf",
		"smb://" + s.Addr() + "/share/%5C..%5Csmb.conf",
	} {
		_, err := tr.Stat(context.Background(), request(t, name, ntlm(s.User(), s.Password())))
		wantError(t, err, hresult.E_FILE_NOT_FOUND, hresult.ContextRemoteFile, false)
	}
}

func TestPermissionDenied(t *testing.T) {
	s, tr := setup(t, Options{})
	// Owned by root, not the share user, and readable by nobody.
	if err := os.WriteFile(filepath.Join(s.Dir(), "secret"), []byte("no"), 0); err != nil {
		t.Fatal(err)
	}
	_, err := tr.Stat(context.Background(), req(t, s, "secret"))
	he := wantError(t, err, hresult.E_ACCESSDENIED, hresult.ContextRemoteFile, false)
	if !strings.Contains(he.Msg, "secret") {
		t.Errorf("message %q does not name the file", he.Msg)
	}
}

// Cancelling the context ends a download at once, even with the server
// hung, and the transport still works afterwards.
func TestDownloadCancel(t *testing.T) {
	s, tr := setup(t, Options{})
	data := randomData(4 << 20)
	s.WriteFile("f.bin", data)
	r := req(t, s, "f.bin")
	info, err := tr.Stat(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	w := writerFunc(func(p []byte) (int, error) { cancel(); return len(p), nil })
	n, err := tr.Download(ctx, r, 0, -1, info, w)
	if !errors.Is(err, context.Canceled) || n >= int64(len(data)) {
		t.Fatalf("Download = %d, %v; want context.Canceled before the end", n, err)
	}

	s.Freeze()
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = tr.Download(ctx, r, 0, -1, info, &bytes.Buffer{})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 10*time.Second {
		t.Fatalf("Download on a hung server = %v after %v; want the context's deadline, promptly", err, time.Since(start))
	}
	s.Thaw()
	download(t, tr, r, data)
}

// A cancelled transfer retires its session, but another transfer still on
// that session runs to its end; the session closes after it.
func TestCancelSparesOtherTransfers(t *testing.T) {
	s, tr := setup(t, Options{})
	a, b := randomData(3<<20), randomData(3<<20+1)
	s.WriteFile("a", a)
	s.WriteFile("b", b)
	ra, rb := req(t, s, "a"), req(t, s, "b")
	ctx := context.Background()
	infoA, err := tr.Stat(ctx, ra)
	if err != nil {
		t.Fatal(err)
	}
	infoB, err := tr.Stat(ctx, rb)
	if err != nil {
		t.Fatal(err)
	}
	old := tr.slot(keyOf(mustTarget(t, rb))).sess

	bStarted, aDone := make(chan struct{}), make(chan struct{})
	bErr := make(chan error, 1)
	var gotB bytes.Buffer
	go func() {
		first := true
		w := writerFunc(func(p []byte) (int, error) {
			if first {
				first = false
				close(bStarted)
				<-aDone
			}
			return gotB.Write(p)
		})
		_, err := tr.Download(ctx, rb, 0, -1, infoB, w)
		bErr <- err
	}()
	<-bStarted
	actx, cancel := context.WithCancel(ctx)
	_, err = tr.Download(actx, ra, 0, -1, infoA, writerFunc(func(p []byte) (int, error) { cancel(); return len(p), nil }))
	close(aDone)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Download = %v, want context.Canceled", err)
	}
	if err := <-bErr; err != nil || !bytes.Equal(gotB.Bytes(), b) {
		t.Fatalf("the other Download = %v, %d bytes; want all %d", err, gotB.Len(), len(b))
	}
	old.mu.Lock()
	retired, users := old.retired, old.users
	old.mu.Unlock()
	if !retired || users != 0 {
		t.Fatalf("old session: retired %v, %d users; want retired and unused", retired, users)
	}
	download(t, tr, ra, a)
	if now := tr.slot(keyOf(mustTarget(t, ra))).sess; now == old || now == nil {
		t.Fatal("the retired session is still cached")
	}
}

func mustTarget(t *testing.T, r *transport.Request) target {
	t.Helper()
	tg, err := parseTarget(r)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// A server that stops answering is given up after the idle timeout, as a
// transient error, and a later call reconnects.
func TestIdleTimeout(t *testing.T) {
	s, tr := setup(t, Options{IdleTimeout: 500 * time.Millisecond})
	data := randomData(100)
	s.WriteFile("f.bin", data)
	r := req(t, s, "f.bin")
	download(t, tr, r, data)

	s.Freeze()
	start := time.Now()
	_, err := tr.Stat(context.Background(), r)
	wantError(t, err, hresult.BG_E_TIMEOUT, hresult.ContextGeneralTransport, true)
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the idle timeout took %v", d)
	}
	s.Thaw()
	download(t, tr, r, data)
}

// Many transfers share one session safely.
func TestConcurrentDownloads(t *testing.T) {
	s, tr := setup(t, Options{})
	files := make([][]byte, 6)
	for i := range files {
		files[i] = randomData(1<<20 + i*1000)
		s.WriteFile(string(rune('a'+i)), files[i])
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(files))
	for i, data := range files {
		r := req(t, s, string(rune('a'+i)))
		wg.Go(func() {
			info, err := tr.Stat(context.Background(), r)
			if err != nil {
				errs <- err
				return
			}
			var buf bytes.Buffer
			if _, err := tr.Download(context.Background(), r, 0, -1, info, &buf); err != nil {
				errs <- err
			} else if !bytes.Equal(buf.Bytes(), data) {
				errs <- errors.New("wrong bytes for " + string(rune('a'+i)))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if len(tr.slots) != 1 {
		t.Errorf("%d cached logons, want 1 for one server and user", len(tr.slots))
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
