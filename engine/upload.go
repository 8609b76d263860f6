package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"bits/engine/hresult"
	"bits/engine/transport"
)

// uploadChunk is how much one Send carries: each one ends in a checkpoint
// the server has confirmed, so a crash repeats at most this much.
const uploadChunk = 8 << 20

// discardTimeout bounds how long cancelling an upload session may wait for
// its server.
const discardTimeout = 10 * time.Second

// uploadFile sends one file through an Uploader. The session and the bytes
// the server confirmed are recorded after each chunk, so an upload resumes
// from the server's own count after anything: a cut connection, a server
// restart, a killed worker, a reboot.
func (w *worker) uploadFile(ctx context.Context, j *Job, idx int, s transport.Settings) error {
	f := j.Files[idx]
	defer func() { j.Files[idx] = f }()
	r, up, err := w.m.uploader(s, f.RemoteName)
	if err != nil {
		return err
	}
	src, err := os.Open(f.LocalName)
	if err != nil {
		return localError(f.LocalName, err)
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return localError(f.LocalName, err)
	}
	validator := fmt.Sprintf("%d:%d", fi.Size(), fi.ModTime().UnixNano())
	if f.Session != "" && f.Validator != validator {
		return hresult.Fatal(hresult.BG_E_LOCAL_FILE_CHANGED, hresult.ContextLocalFile,
			"%s changed after its upload began", f.LocalName)
	}
	f.BytesTotal, f.Validator = fi.Size(), validator

	off := int64(0)
	if f.Session != "" {
		off, err = up.Resume(ctx, r, f.Session)
		if errors.Is(err, transport.ErrSessionLost) || (err == nil && off > f.BytesTotal) {
			w.log.Info("upload session lost; starting a new one", "job", j.ID, "file", idx)
			f.Session, off, err = "", 0, nil
		}
		if err != nil {
			return err
		}
	}
	if f.Session == "" {
		if f.Session, err = up.Begin(ctx, r, f.BytesTotal); err != nil {
			return err
		}
	}
	f.BytesTransferred = off
	if err := w.record(ctx, j.ID, &f, false, false); err != nil {
		return err
	}
	if !w.transition(ctx, j.ID, EvProgress, nil) {
		return errStopped
	}
	for off < f.BytesTotal {
		n := min(int64(uploadChunk), f.BytesTotal-off)
		got, err := up.Send(ctx, r, f.Session, off, f.BytesTotal, io.NewSectionReader(src, off, n))
		if got > off {
			f.BytesTransferred = got
			if rerr := w.record(ctx, j.ID, &f, false, true); rerr != nil {
				return rerr
			}
			off = got
		}
		if ctx.Err() != nil {
			return errStopped
		}
		if err != nil {
			return err
		}
	}
	if err := up.Commit(ctx, r, f.Session, nil); err != nil {
		return err
	}
	f.Complete = true
	return w.record(ctx, j.ID, &f, true, true)
}

// discard removes what a job that is gone left behind: the temporary files
// of its downloads and the server's side of its upload sessions. It reports
// false when something could not be removed.
func (m *Manager) discard(ctx context.Context, j *Job, s transport.Settings) bool {
	ok := true
	for _, f := range j.Files {
		if j.Type == Download && f.TempName != "" {
			if err := os.Remove(f.TempName); err != nil && !errors.Is(err, os.ErrNotExist) {
				ok = false
			}
		}
		if j.Type != Download && f.Session != "" && !f.Complete {
			r, up, err := m.uploader(s, f.RemoteName)
			if err != nil {
				ok = false
				continue
			}
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), discardTimeout)
			if err := up.Cancel(cctx, r, f.Session); err != nil && !errors.Is(err, transport.ErrSessionLost) {
				ok = false
			}
			cancel()
		}
	}
	return ok
}
