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

	"github.com/hirochachacha/go-smb2"

	"bits/engine/hresult"
	"bits/engine/transport"
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
	t, err := parseTarget(r)
	if err != nil {
		return "", err
	}
	o := tr.start(ctx)
	defer o.end()
	sh, sess, err := tr.share(o.ctx, t)
	if err != nil {
		return "", tr.fail(ctx, o, t, sess, err)
	}
	for range 64 {
		name := path.Join(t.folder(), fmt.Sprintf("BIT%04X.tmp", rand.IntN(0x10000)))
		f, err := sh.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		switch {
		case errors.Is(err, os.ErrExist):
			continue
		case errors.Is(err, os.ErrNotExist):
			return "", hresult.Fatal(hresult.E_PATH_NOT_FOUND, hresult.ContextRemoteFile, "the folder of %s was not found", t)
		case err != nil:
			return "", tr.fail(ctx, o, t, sess, err)
		}
		if err := f.Close(); err != nil {
			return "", tr.fail(ctx, o, t, sess, err)
		}
		return name, nil
	}
	return "", hresult.Transient(hresult.E_FAIL, hresult.ContextRemoteFile, "no free temporary file name beside %s", t)
}

// Resume reports the temporary file's size.
func (tr *Transport) Resume(ctx context.Context, r *transport.Request, session string) (int64, error) {
	t, tmp, err := parseSession(r, session)
	if err != nil {
		return 0, err
	}
	o := tr.start(ctx)
	defer o.end()
	sh, sess, err := tr.share(o.ctx, t)
	if err != nil {
		return 0, tr.fail(ctx, o, t, sess, err)
	}
	fi, err := sh.Stat(tmp)
	if err != nil {
		return 0, tr.sessionError(ctx, o, t, sess, err)
	}
	return fi.Size(), nil
}

// Send writes src at off into the temporary file, dropping whatever the
// file held past off, and flushes it to the server's disk before it
// confirms an offset. After a failure it returns the last flushed offset.
func (tr *Transport) Send(ctx context.Context, r *transport.Request, session string, off, size int64, src io.Reader) (int64, error) {
	t, tmp, err := parseSession(r, session)
	if err != nil {
		return off, err
	}
	if off < 0 {
		return 0, errorf("negative offset %d", off)
	}
	o := tr.start(ctx)
	defer o.end()
	sh, sess, err := tr.share(o.ctx, t)
	if err != nil {
		return off, tr.fail(ctx, o, t, sess, err)
	}
	f, err := sh.OpenFile(tmp, os.O_WRONLY, 0)
	if err != nil {
		return off, tr.sessionError(ctx, o, t, sess, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return off, tr.fail(ctx, o, t, sess, err)
	}
	if fi.Size() < off {
		return fi.Size(), hresult.Transient(hresult.E_FAIL, hresult.ContextRemoteFile,
			"the server holds %d bytes of the upload, not %d", fi.Size(), off)
	}
	if fi.Size() > off {
		if err := f.Truncate(off); err != nil {
			return off, tr.fail(ctx, o, t, sess, err)
		}
	}
	if size >= 0 {
		src = io.LimitReader(src, max(size-off, 0))
	}
	return tr.copyUp(ctx, o, t, sess, f, off, src)
}

// copyUp copies src into f from off, flushing every syncEvery bytes and
// at the end, and returns the last flushed offset.
func (tr *Transport) copyUp(ctx context.Context, o *op, t target, sess *session, f *smb2.File, off int64, src io.Reader) (int64, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	confirmed, pos := off, off
	flush := func() error {
		o.alive()
		if err := f.Sync(); err != nil {
			return tr.fail(ctx, o, t, sess, err)
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
				return confirmed, tr.fail(ctx, o, t, sess, err)
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

// Commit renames the temporary file over the remote name. SMB2's rename
// as go-smb2 sends it does not replace, so an existing file is deleted
// first; the upload stays in the temporary file until the rename is done,
// so a failed Commit can be retried.
func (tr *Transport) Commit(ctx context.Context, r *transport.Request, session string, reply io.Writer) error {
	t, tmp, err := parseSession(r, session)
	if err != nil {
		return err
	}
	o := tr.start(ctx)
	defer o.end()
	sh, sess, err := tr.share(o.ctx, t)
	if err != nil {
		return tr.fail(ctx, o, t, sess, err)
	}
	if _, err := sh.Stat(tmp); err != nil {
		return tr.sessionError(ctx, o, t, sess, err)
	}
	for range 3 {
		err = sh.Rename(tmp, t.file)
		if !errors.Is(err, os.ErrExist) {
			break
		}
		fi, serr := sh.Lstat(t.file)
		if serr == nil && fi.IsDir() {
			return hresult.Fatal(hresult.E_ACCESSDENIED, hresult.ContextRemoteFile, "%s is a folder, not a file", t)
		}
		if err = sh.Remove(t.file); err != nil && !os.IsNotExist(err) {
			break
		}
	}
	if err != nil {
		return tr.fail(ctx, o, t, sess, err)
	}
	return nil
}

// Cancel deletes the temporary file; one already gone is not an error.
func (tr *Transport) Cancel(ctx context.Context, r *transport.Request, session string) error {
	t, tmp, err := parseSession(r, session)
	if err != nil {
		return err
	}
	o := tr.start(ctx)
	defer o.end()
	sh, sess, err := tr.share(o.ctx, t)
	if err != nil {
		return tr.fail(ctx, o, t, sess, err)
	}
	if err := sh.Remove(tmp); err != nil && !os.IsNotExist(err) {
		return tr.fail(ctx, o, t, sess, err)
	}
	return nil
}

// sessionError is fail, except that a missing temporary file means the
// session is lost.
func (tr *Transport) sessionError(ctx context.Context, o *op, t target, sess *session, err error) error {
	if os.IsNotExist(err) && ctx.Err() == nil {
		return transport.ErrSessionLost
	}
	return tr.fail(ctx, o, t, sess, err)
}

// parseSession reads the request and checks that the session token names
// a temporary file beside the remote name, so that a token can neither
// leave the remote file's folder nor name any other file.
func parseSession(r *transport.Request, session string) (target, string, error) {
	t, err := parseTarget(r)
	if err != nil {
		return target{}, "", err
	}
	base := path.Base(session)
	if path.Clean(session) != session || path.Dir(session) != path.Dir(t.file) || !isTempName(base) {
		return target{}, "", errorf("the upload session %q is not a temporary file beside %s", session, t)
	}
	return t, session, nil
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
