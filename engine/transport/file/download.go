package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"bits/engine/transport"
	"bits/hresult"
)

// Stat opens the file, so that one the service may not read fails here as
// an HTTP HEAD would, and reports its size, time and validator.
func (t *Transport) Stat(ctx context.Context, r *transport.Request) (transport.RemoteInfo, error) {
	none := transport.RemoteInfo{Size: -1}
	if err := ctx.Err(); err != nil {
		return none, err
	}
	p, err := localPath(r)
	if err != nil {
		return none, err
	}
	f, fi, err := openSource(p)
	if err != nil {
		return none, err
	}
	f.Close()
	return transport.RemoteInfo{Size: fi.Size(), Validator: validator(fi), ModTime: fi.ModTime(), Ranges: true}, nil
}

// Download copies the file's bytes from off up to end to w, as
// transport.Downloader says. A file that no longer matches want is
// ErrChanged before anything is written. A file rewritten while it is
// copied (its size, time or inode differ afterwards, or it ends early) is
// ErrChanged too, after the bytes copied so far: the caller restarts the
// file from byte 0 and discards them either way.
func (t *Transport) Download(ctx context.Context, r *transport.Request, off, end int64, want transport.RemoteInfo, w io.Writer) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	p, err := localPath(r)
	if err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile, "negative offset %d", off)
	}
	f, fi, err := openSource(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if (want.Size >= 0 && want.Size != fi.Size()) || (want.Validator != "" && want.Validator != validator(fi)) {
		return 0, transport.ErrChanged
	}
	size := fi.Size()
	if off > size {
		return 0, transport.ErrChanged // the local copy is longer than the file
	}
	if end < 0 || end > size {
		end = size
	}
	n, err := copyRange(ctx, f, off, end, w)
	if err != nil {
		return n, err
	}
	if after, err := f.Stat(); err != nil || validator(after) != validator(fi) {
		return n, transport.ErrChanged
	}
	return n, nil
}

// copyRange copies f's bytes from off to end to w, checking ctx between
// chunks.
func copyRange(ctx context.Context, f *os.File, off, end int64, w io.Writer) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	for off+n < end {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		p := buf[:min(int64(len(buf)), end-off-n)]
		nr, rerr := f.ReadAt(p, off+n)
		if rerr == io.EOF && nr < len(p) {
			return n, transport.ErrChanged // the file was cut short while we copied
		}
		if rerr != nil && rerr != io.EOF {
			return n, remoteError(rerr, hresult.E_FILE_NOT_FOUND)
		}
		nw, werr := w.Write(p[:nr])
		n += int64(nw)
		if werr != nil {
			return n, werr
		}
		if nw != nr {
			return n, io.ErrShortWrite
		}
	}
	return n, nil
}

// openSource opens a file to read and returns what fstat says of it. It
// opens without blocking, so that a FIFO is refused rather than waited on.
func openSource(p string) (*os.File, fs.FileInfo, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		missing := hresult.E_FILE_NOT_FOUND
		if _, derr := os.Stat(filepath.Dir(p)); errors.Is(derr, fs.ErrNotExist) {
			missing = hresult.E_PATH_NOT_FOUND // as Windows tells a missing folder from a missing file
		}
		return nil, nil, remoteError(err, missing)
	}
	fi, err := f.Stat()
	switch {
	case err != nil:
		err = remoteError(err, hresult.E_FILE_NOT_FOUND)
	case fi.IsDir():
		// As Windows answers a folder opened as a file.
		err = hresult.Fatal(hresult.E_ACCESSDENIED, hresult.ContextRemoteFile, "%s is a folder", p)
	case !fi.Mode().IsRegular():
		err = hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile, "%s is not a regular file", p)
	}
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// validator identifies a version of a file by its size, its modification
// time to the nanosecond and its inode: an edit in place moves the time, a
// replacement (a new file renamed over the old) changes the inode even
// within one tick of the clock.
func validator(fi fs.FileInfo) string {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = st.Ino
	}
	return fmt.Sprintf("%d-%d-%d", fi.Size(), fi.ModTime().UnixNano(), ino)
}
