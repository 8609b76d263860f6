// Package smb reads and writes files on SMB2/3 shares, for remote names
// of the form smb://server[:port]/share/path. It logs on with NTLM, from
// the job's SERVER credential or a mount.cifs-style credentials file, and
// keeps one session per server, port and logon for all jobs. It imports
// only the transport API and the error model, never the engine.
package smb

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/cloudsoda/go-smb2"

	"bits/engine/transport"
	"bits/hresult"
)

// Defaults for the zero values of Options.
const (
	DefaultDialTimeout = 30 * time.Second
	DefaultIdleTimeout = 60 * time.Second
)

// bufSize is the copy buffer: one SMB read or write of the largest size
// go-smb2 sends.
const bufSize = 1 << 20

// Options configure a Transport. Zero values take the defaults above.
type Options struct {
	// DialTimeout bounds connecting and logging on.
	DialTimeout time.Duration
	// IdleTimeout aborts an operation when the server has not answered
	// for this long, so a dead server does not hang a transfer.
	IdleTimeout time.Duration
}

// Transport is an SMB Downloader and Uploader. It is safe for concurrent
// use; share one between jobs so that they share sessions.
type Transport struct {
	o Options

	mu    sync.Mutex
	slots map[sessionKey]*slot
}

var (
	_ transport.Downloader = (*Transport)(nil)
	_ transport.Uploader   = (*Transport)(nil)
)

// New returns a Transport with o's settings.
func New(o Options) *Transport {
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	return &Transport{o: o, slots: map[sessionKey]*slot{}}
}

// validator changes whenever the file's size or modification time does.
func validator(fi os.FileInfo) string {
	return fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano())
}

// Stat opens the file for reading, so that a file the user may not read
// fails here, and reports its size and time.
func (tr *Transport) Stat(ctx context.Context, r *transport.Request) (transport.RemoteInfo, error) {
	o, err := tr.start(ctx, r)
	if err != nil {
		return transport.RemoteInfo{}, err
	}
	defer o.end()
	f, fi, err := o.open()
	if err != nil {
		return transport.RemoteInfo{}, err
	}
	f.Close()
	return transport.RemoteInfo{Size: fi.Size(), ModTime: fi.ModTime(), Validator: validator(fi), Ranges: true}, nil
}

// open opens the op's file for reading and stats it. A missing file in a
// missing folder is reported as the folder's absence.
func (o *op) open() (*smb2.File, os.FileInfo, error) {
	sh, err := o.share()
	if err != nil {
		return nil, nil, err
	}
	f, err := sh.Open(o.t.file)
	if err != nil {
		if os.IsNotExist(err) && !folderExists(sh, o.t) {
			return nil, nil, hresult.Fatal(hresult.E_PATH_NOT_FOUND, hresult.ContextRemoteFile, "the folder of %s was not found", o.t)
		}
		return nil, nil, o.fail(err)
	}
	fi, err := f.Stat()
	if err == nil && fi.IsDir() {
		err = hresult.Fatal(hresult.E_ACCESSDENIED, hresult.ContextRemoteFile, "%s is a folder, not a file", o.t)
	}
	if err != nil {
		f.Close()
		return nil, nil, o.fail(err)
	}
	return f, fi, nil
}

// folderExists reports whether t's folder is there; when it cannot tell,
// it says yes, leaving the file's own error to speak.
func folderExists(sh *smb2.Share, t target) bool {
	if t.folder() == "" {
		return true
	}
	fi, err := sh.Stat(t.folder())
	return err != nil && !os.IsNotExist(err) || err == nil && fi.IsDir()
}

// Download copies the file from off to end (or its end) to w. The copy
// is checked against want when the file is opened: a different size or
// time is ErrChanged, before anything is written; a file that shrinks
// during the copy is ErrChanged after what was read. Errors are
// *hresult.Error for the server's failures, ctx.Err() when ctx ends, and
// w.Write's own error, unchanged, for the caller's disk.
func (tr *Transport) Download(ctx context.Context, r *transport.Request, off, end int64, want transport.RemoteInfo, w io.Writer) (int64, error) {
	if off < 0 {
		return 0, hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextGeneralTransport, "negative offset %d", off)
	}
	o, err := tr.start(ctx, r)
	if err != nil {
		return 0, err
	}
	defer o.end()
	f, fi, err := o.open()
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if want.Size >= 0 && (fi.Size() != want.Size || (want.Validator != "" && validator(fi) != want.Validator)) {
		return 0, transport.ErrChanged
	}
	if want.Size < 0 {
		off = 0
	}
	if off > fi.Size() {
		return 0, transport.ErrChanged
	}
	if end < 0 || end > fi.Size() {
		end = fi.Size()
	}

	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	var n int64
	for off+n < end {
		p := (*bp)[:min(int64(len(*bp)), end-off-n)]
		o.alive()
		nr, rerr := f.ReadAt(p, off+n)
		o.pause()
		if nr > 0 {
			nw, werr := w.Write(p[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
			if nw != nr {
				return n, io.ErrShortWrite
			}
		}
		switch {
		case rerr == io.EOF || (rerr == nil && nr < len(p)):
			return n, transport.ErrChanged // the file is shorter than it was
		case rerr != nil:
			return n, o.fail(rerr)
		}
	}
	return n, nil
}

// bufPool shares copy buffers between transfers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}
