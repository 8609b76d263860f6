package smb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path"
	"strings"

	"github.com/cloudsoda/go-smb2"

	"bits/engine/transport"
	"bits/hresult"
)

// An upload goes into a temporary file BITxxxx.tmp beside the remote name,
// as BITS does for downloads on the local side. The session token is that
// file's path in the share; Commit renames it over the remote name, so the
// file never appears under its name half-written.

// syncEvery is how many bytes Send writes between flushes to the server's
// disk: each flush makes the confirmed offset move on.
const syncEvery = 8 << 20

// Begin creates an empty temporary file beside the remote name, one that
// did not exist before, and returns its path in the share.
func (tr *Transport) Begin(ctx context.Context, r *transport.Request, size int64) (string, error) {
	o, err := tr.start(ctx, r)
	if err != nil {
		return "", err
	}
	defer o.end()
	sh, err := o.share()
	if err != nil {
		return "", err
	}
	for range 64 {
		name := path.Join(o.t.folder(), fmt.Sprintf("BIT%04X.tmp", rand.IntN(0x10000)))
		f, err := sh.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		switch {
		case errors.Is(err, os.ErrExist):
			continue
		case errors.Is(err, os.ErrNotExist):
			return "", hresult.Fatal(hresult.E_PATH_NOT_FOUND, hresult.ContextRemoteFile, "the folder of %s was not found", o.t)
		case err != nil:
			return "", o.fail(err)
		}
		if err := f.Close(); err != nil {
			return "", o.fail(err)
		}
		return name, nil
	}
	return "", hresult.Transient(hresult.E_FAIL, hresult.ContextRemoteFile, "no free temporary file name beside %s", o.t)
}

// Resume reports the temporary file's size.
func (tr *Transport) Resume(ctx context.Context, r *transport.Request, session string, _, _ int64) (int64, error) {
	o, sh, err := tr.startSession(ctx, r, session)
	if err != nil {
		return 0, err
	}
	defer o.end()
	fi, err := sh.Stat(session)
	if err != nil {
		return 0, o.sessionError(err)
	}
	return fi.Size(), nil
}

// Send writes src at off into the temporary file, dropping whatever the
// file held past off, and flushes it to the server's disk before it
// confirms an offset. After a failure it returns the last flushed offset.
func (tr *Transport) Send(ctx context.Context, r *transport.Request, session string, off, size int64, src *io.SectionReader) (int64, error) {
	if off < 0 {
		return 0, hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextGeneralTransport, "negative offset %d", off)
	}
	o, sh, err := tr.startSession(ctx, r, session)
	if err != nil {
		return off, err
	}
	defer o.end()
	// Read access too: the size is read through the same handle.
	f, err := sh.OpenFile(session, os.O_RDWR, 0)
	if err != nil {
		return off, o.sessionError(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return off, o.fail(err)
	}
	if fi.Size() < off {
		return fi.Size(), hresult.Transient(hresult.E_FAIL, hresult.ContextRemoteFile,
			"the server holds %d bytes of the upload, not %d", fi.Size(), off)
	}
	if fi.Size() > off {
		if err := f.Truncate(off); err != nil {
			return off, o.fail(err)
		}
	}
	var in io.Reader = src
	if size >= 0 {
		in = io.LimitReader(src, max(size-off, 0))
	}
	return o.copyUp(f, off, transport.PacedReader(ctx, in))
}

// copyUp copies src into f from off, flushing every syncEvery bytes and
// at the end, and returns the last flushed offset.
func (o *op) copyUp(f *smb2.File, off int64, src io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	confirmed, pos := off, off
	flush := func() error {
		o.alive()
		if err := f.Sync(); err != nil {
			return o.fail(err)
		}
		confirmed = pos
		return nil
	}
	for {
		o.pause() // reading the local file is not the server's delay
		nr, rerr := io.ReadFull(src, *bp)
		if nr > 0 {
			o.alive()
			if _, err := f.WriteAt((*bp)[:nr], pos); err != nil {
				return confirmed, o.fail(err)
			}
			pos += int64(nr)
		}
		switch {
		case rerr == io.EOF || rerr == io.ErrUnexpectedEOF:
			if err := flush(); err != nil {
				return confirmed, err
			}
			return pos, nil
		case rerr != nil:
			if err := flush(); err != nil {
				return confirmed, err
			}
			return confirmed, rerr // the caller's file failed: its error, unchanged
		case pos-confirmed >= syncEvery:
			if err := flush(); err != nil {
				return confirmed, err
			}
		}
	}
}

// Commit renames the temporary file over the remote name, replacing a
// file there in one step (go-smb2 asks with ReplaceIfExists). A server
// that still answers that the name exists gets the old file deleted, then
// the rename again. The upload stays in the temporary file until the
// rename is done, so a failed Commit can be retried.
func (tr *Transport) Commit(ctx context.Context, r *transport.Request, session string, reply io.Writer) error {
	o, sh, err := tr.startSession(ctx, r, session)
	if err != nil {
		return err
	}
	defer o.end()
	if _, err := sh.Stat(session); err != nil {
		return o.sessionError(err)
	}
	for range 3 {
		err = sh.Rename(session, o.t.file)
		if !errors.Is(err, os.ErrExist) {
			break
		}
		if fi, serr := sh.Lstat(o.t.file); serr == nil && fi.IsDir() {
			return hresult.Fatal(hresult.E_ACCESSDENIED, hresult.ContextRemoteFile, "%s is a folder, not a file", o.t)
		}
		if err = sh.Remove(o.t.file); err != nil && !os.IsNotExist(err) {
			break
		}
	}
	if err != nil {
		return o.fail(err)
	}
	return nil
}

// Cancel deletes the temporary file; one already gone is not an error.
func (tr *Transport) Cancel(ctx context.Context, r *transport.Request, session string) error {
	o, sh, err := tr.startSession(ctx, r, session)
	if err != nil {
		return err
	}
	defer o.end()
	if err := sh.Remove(session); err != nil && !os.IsNotExist(err) {
		return o.fail(err)
	}
	return nil
}

// startSession starts an op on an upload session and mounts its share. It
// checks that the session token names a temporary file beside the remote
// name, so that a token can neither leave the remote file's folder nor
// name any other file: any other token is a session never begun, lost.
func (tr *Transport) startSession(ctx context.Context, r *transport.Request, session string) (*op, *smb2.Share, error) {
	o, err := tr.start(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	if path.Clean(session) != session || path.Dir(session) != path.Dir(o.t.file) || !isTempName(path.Base(session)) {
		o.end()
		return nil, nil, transport.ErrSessionLost
	}
	sh, err := o.share()
	if err != nil {
		o.end()
		return nil, nil, err
	}
	return o, sh, nil
}

// sessionError is fail, except that a missing temporary file means the
// session is lost.
func (o *op) sessionError(err error) error {
	if os.IsNotExist(err) && o.caller.Err() == nil {
		return transport.ErrSessionLost
	}
	return o.fail(err)
}

// isTempName matches BITxxxx.tmp with four upper-case hex digits.
func isTempName(s string) bool {
	if len(s) != len("BIT0000.tmp") || s[:3] != "BIT" || s[7:] != ".tmp" {
		return false
	}
	for _, c := range s[3:7] {
		if !strings.ContainsRune("0123456789ABCDEF", c) {
			return false
		}
	}
	return true
}
