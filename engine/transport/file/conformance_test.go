package file_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"bits/engine/transport"
	"bits/engine/transport/file"
	"bits/internal/testenv"
	"bits/internal/testenv/transporttest"
)

func TestConformance(t *testing.T) {
	checkUnprivilegedThread(t)
	s := folderServer{root: t.TempDir()}
	tr := unprivileged{file.New()}
	e := tr.tr.Entry()
	e.Downloader, e.Uploader = tr, tr
	t.Run("Downloader", func(t *testing.T) { transporttest.RunDownloader(t, e, s) })
	t.Run("Uploader", func(t *testing.T) { transporttest.RunUploader(t, e, s) })
}

// folderServer keeps each name in a folder of its own under root, so that
// Deny can forbid creating files beside one name and leave the others be.
type folderServer struct{ root string }

func (s folderServer) path(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(s.root, name+".d")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, name)
}

func (s folderServer) Put(t testing.TB, name string, content []byte) *transport.Request {
	t.Helper()
	if err := os.WriteFile(s.path(t, name), content, 0o644); err != nil {
		t.Fatal(err)
	}
	return s.Request(t, name)
}

func (s folderServer) Request(t testing.TB, name string) *transport.Request {
	t.Helper()
	u, err := names.Parse(s.path(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return &transport.Request{URL: u}
}

func (s folderServer) Read(t testing.TB, name string) ([]byte, error) {
	return os.ReadFile(s.path(t, name))
}

func (s folderServer) Leftovers(t testing.TB, name string) []string {
	return testenv.TempFiles(t, filepath.Dir(s.path(t, name)))
}

// Deny takes every permission from the file and write permission from its
// folder. The transport meets them because it runs without root's
// override (see unprivileged).
func (s folderServer) Deny(t testing.TB, name string) {
	t.Helper()
	p := s.path(t, name)
	if err := os.Chmod(p, 0); err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Dir(p), 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.Chmod(filepath.Dir(p), 0o755)
		os.Chmod(p, 0o644)
	})
}

// Change replaces the file as an editor saving it would: a new file renamed
// over the old, with a later modification time.
func (s folderServer) Change(t testing.TB, name string, content []byte) {
	t.Helper()
	p := s.path(t, name)
	old, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	next := p + ".next"
	if err := os.WriteFile(next, content, 0o644); err != nil {
		t.Fatal(err)
	}
	later := old.ModTime().Add(time.Second)
	if err := os.Chtimes(next, later, later); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, p); err != nil {
		t.Fatal(err)
	}
}

// CutNext has no connection to cut: local files are read directly.
func (folderServer) CutNext(testing.TB, string, int64) bool { return false }

// unprivileged runs each call of a file Transport on an OS thread without
// CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH (on Linux; elsewhere the test
// runs as a user, see unprivileged_other_test.go). The tests run as root,
// whom file modes do not stop; without these two capabilities root is held
// to the owner's bits like any user, so the kernel itself answers EACCES
// for a file Deny made unreadable. Everything else the suite does works the
// same, since root owns the files it creates.
type unprivileged struct{ tr *file.Transport }

func (u unprivileged) Stat(ctx context.Context, r *transport.Request) (info transport.RemoteInfo, err error) {
	onUnprivilegedThread(func() { info, err = u.tr.Stat(ctx, r) })
	return info, err
}

func (u unprivileged) Download(ctx context.Context, r *transport.Request, off, end int64, want transport.RemoteInfo, w io.Writer) (n int64, err error) {
	onUnprivilegedThread(func() { n, err = u.tr.Download(ctx, r, off, end, want, w) })
	return n, err
}

func (u unprivileged) Begin(ctx context.Context, r *transport.Request, size int64) (session string, err error) {
	onUnprivilegedThread(func() { session, err = u.tr.Begin(ctx, r, size) })
	return session, err
}

func (u unprivileged) Resume(ctx context.Context, r *transport.Request, session string, recorded, reach int64) (n int64, err error) {
	onUnprivilegedThread(func() { n, err = u.tr.Resume(ctx, r, session, recorded, reach) })
	return n, err
}

func (u unprivileged) Send(ctx context.Context, r *transport.Request, session string, off, size int64, src *io.SectionReader) (n int64, err error) {
	onUnprivilegedThread(func() { n, err = u.tr.Send(ctx, r, session, off, size, src) })
	return n, err
}

func (u unprivileged) Commit(ctx context.Context, r *transport.Request, session string, reply io.Writer) (err error) {
	onUnprivilegedThread(func() { err = u.tr.Commit(ctx, r, session, reply) })
	return err
}

func (u unprivileged) Cancel(ctx context.Context, r *transport.Request, session string) (err error) {
	onUnprivilegedThread(func() { err = u.tr.Cancel(ctx, r, session) })
	return err
}
