package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"

	"bits/engine/transport"
	"bits/hresult"
)

// An upload session is a temporary file beside the destination, named
// BIT<four hex digits>.tmp as BITS names its own; the session token is that
// base name. It is created with mode 0600, so that no one reads a half
// written file, and takes its final mode at Commit.

// newFileMode is the mode of an uploaded file that replaces none. One that
// replaces a file keeps that file's permission bits.
const newFileMode = 0o644

// Begin creates the session's empty temporary file and makes its name
// durable, so that the token the engine records finds it after a crash.
func (t *Transport) Begin(ctx context.Context, r *transport.Request, size int64) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	dest, err := localPath(r)
	if err != nil {
		return "", err
	}
	if size < 0 {
		return "", hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile, "negative upload size %d", size)
	}
	if fi, err := os.Stat(dest); err == nil && fi.IsDir() {
		return "", hresult.Fatal(hresult.E_ACCESSDENIED, hresult.ContextRemoteFile, "%s is a folder", dest)
	}
	dir := filepath.Dir(dest)
	for range 1000 {
		name := fmt.Sprintf("BIT%04X.tmp", rand.IntN(0x10000))
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", remoteError(err, hresult.E_PATH_NOT_FOUND)
		}
		f.Close()
		if err := syncDir(dir); err != nil {
			os.Remove(f.Name())
			return "", err
		}
		return name, nil
	}
	return "", hresult.Transient(hresult.E_FAIL, hresult.ContextRemoteFile, "no free temporary file name in %s", dir)
}

// Resume reports the temporary file's size. Send makes every byte it
// confirms durable before it returns, and file systems grow a file's size
// only once the bytes are written, so the size is what the session holds.
func (t *Transport) Resume(ctx context.Context, r *transport.Request, session string, _, _ int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	tmp, err := tempPath(r, session)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(tmp)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, transport.ErrSessionLost
	}
	if err != nil {
		return 0, remoteError(err, hresult.E_PATH_NOT_FOUND)
	}
	if !fi.Mode().IsRegular() {
		return 0, transport.ErrSessionLost
	}
	return fi.Size(), nil
}

// Send writes src's bytes at off and syncs them before it confirms them.
// Bytes the session held past off are dropped first, so that the temporary
// file is always exactly what was confirmed. It reads at most size bytes
// from src: whether a caller means size as this call's length (as the
// engine does, with src a section of that length) or as the whole file's
// (src then ends first), nothing past the upload is written. It stops
// between chunks when ctx ends, and returns src's own errors unchanged.
func (t *Transport) Send(ctx context.Context, r *transport.Request, session string, off, size int64, src *io.SectionReader) (int64, error) {
	if err := ctx.Err(); err != nil {
		return off, err
	}
	tmp, err := tempPath(r, session)
	if err != nil {
		return off, err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, transport.ErrSessionLost
	}
	if err != nil {
		return off, remoteError(err, hresult.E_PATH_NOT_FOUND)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return off, remoteError(err, hresult.E_PATH_NOT_FOUND)
	}
	held := fi.Size()
	switch {
	case off < 0 || size < 0:
		return held, hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile, "cannot send %d bytes at %d", size, off)
	case off > held:
		return held, hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile,
			"the session holds %d bytes; cannot write at %d", held, off)
	case off < held:
		if err := f.Truncate(off); err != nil {
			return held, remoteError(err, hresult.E_PATH_NOT_FOUND)
		}
	}
	pos, err := writeFrom(ctx, f, off, size, transport.PacedReader(ctx, src))
	if serr := f.Sync(); serr != nil {
		// Past the last confirmed offset nothing is known to be on the
		// disk: cut it off, so that Resume does not count it either.
		f.Truncate(off)
		return off, remoteError(serr, hresult.E_PATH_NOT_FOUND)
	}
	return pos, err
}

// writeFrom copies at most n bytes of src into f at off, checking ctx
// between chunks, and returns the offset it reached. It writes with Write,
// not WriteAt: on a disk that fills up, WriteAt reports none of a chunk it
// wrote in part, and Write reports what it did write.
func writeFrom(ctx context.Context, f *os.File, off, n int64, src io.Reader) (int64, error) {
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return off, remoteError(err, hresult.E_PATH_NOT_FOUND)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	pos, end := off, off+n
	for pos < end {
		if err := ctx.Err(); err != nil {
			return pos, err
		}
		nr, rerr := src.Read(buf[:min(int64(len(buf)), end-pos)])
		if nr > 0 {
			nw, werr := f.Write(buf[:nr])
			pos += int64(nw)
			if werr != nil {
				return pos, remoteError(werr, hresult.E_PATH_NOT_FOUND)
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return pos, rerr
		}
	}
	return pos, nil
}

// Commit syncs the temporary file, gives it its final mode, renames it over
// the destination and syncs the folder, so that after a crash the folder
// holds either the old file or the whole new one. There is no server
// application to answer, so reply receives nothing.
func (t *Transport) Commit(ctx context.Context, r *transport.Request, session string, reply io.Writer) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tmp, err := tempPath(r, session)
	if err != nil {
		return err
	}
	dest, _ := localPath(r) // tempPath has checked it
	f, err := os.Open(tmp)
	if errors.Is(err, fs.ErrNotExist) {
		return transport.ErrSessionLost
	}
	if err != nil {
		return remoteError(err, hresult.E_PATH_NOT_FOUND)
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return remoteError(err, hresult.E_PATH_NOT_FOUND)
	}
	mode := fs.FileMode(newFileMode)
	if fi, err := os.Stat(dest); err == nil && fi.Mode().IsRegular() {
		mode = fi.Mode().Perm()
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return remoteError(err, hresult.E_PATH_NOT_FOUND)
	}
	if err := os.Rename(tmp, dest); err != nil {
		return remoteError(err, hresult.E_PATH_NOT_FOUND)
	}
	return syncDir(filepath.Dir(dest))
}

// Cancel deletes the temporary file. A session already gone is cancelled.
func (t *Transport) Cancel(ctx context.Context, r *transport.Request, session string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tmp, err := tempPath(r, session)
	if errors.Is(err, transport.ErrSessionLost) {
		return nil // a token that never named a file of ours has nothing to delete
	}
	if err != nil {
		return err
	}
	if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return remoteError(err, hresult.E_PATH_NOT_FOUND)
	}
	return nil
}

// tempPath returns the temporary file of a session. A token that is not a
// BIT<hex>.tmp name is no session of ours: refusing it also keeps a
// corrupt token from naming a file elsewhere.
func tempPath(r *transport.Request, session string) (string, error) {
	dest, err := localPath(r)
	if err != nil {
		return "", err
	}
	if !isTempName(session) {
		return "", transport.ErrSessionLost
	}
	return filepath.Join(filepath.Dir(dest), session), nil
}

func isTempName(s string) bool {
	if len(s) != len("BIT0000.tmp") || s[:3] != "BIT" || s[7:] != ".tmp" {
		return false
	}
	for _, c := range s[3:7] {
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// syncDir makes the folder's entries (a new or renamed file) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return remoteError(err, hresult.E_PATH_NOT_FOUND)
	}
	defer d.Close()
	// Some file systems cannot sync a folder (EINVAL); theirs is durable
	// as far as they can make it.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return remoteError(err, hresult.E_PATH_NOT_FOUND)
	}
	return nil
}
