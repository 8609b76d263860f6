package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"bits/engine/netpolicy"
	"bits/engine/transport"
	"bits/hresult"
	"bits/storage"
)

// An upload is sent in chunks, one Send each, and each ends in a checkpoint
// the server has confirmed: progress moves a chunk at a time, and a crash
// repeats no more than one. A chunk carries about chunkTime of the upload
// at the rate the last one went, in a power of two between minUploadChunk
// and maxUploadChunk, and ends at a multiple of its size: on a slow link
// progress moves every MiB, on a fast one the per-chunk costs (a round
// trip, a checkpoint) do not hold the upload back. No fragment crosses a
// chunk, and the end of a chunk is recorded (File.UploadReach) before it is
// sent, so after a restart a server's offset up to it is believed and one
// beyond it is not (see the http Send).
const (
	minUploadChunk = 1 << 20
	maxUploadChunk = 64 << 20
	chunkTime      = 250 * time.Millisecond
)

// nextChunk is the chunk size after a chunk of n bytes took d.
func nextChunk(n int64, d time.Duration) int64 {
	want := float64(n) / max(d.Seconds(), 1e-6) * chunkTime.Seconds()
	c := int64(minUploadChunk)
	for c < maxUploadChunk && float64(2*c) <= want {
		c *= 2
	}
	return c
}

// chunkEnd is where the chunk of size c that holds off ends, in a file of
// total bytes. An upload-reply job's last MiB is a chunk of its own: after
// a restart, the first fragment then carries the last byte, whose answer
// names the reply.
func chunkEnd(off, c, total int64, reply bool) int64 {
	end := min((off/c+1)*c, total)
	if last := (total - 1) / minUploadChunk * minUploadChunk; reply && off < last {
		end = min(end, last)
	}
	return end
}

// maxGoBack is how often in a row a server may send an upload back to an
// offset it had confirmed before giving up on it.
const maxGoBack = 3

// discardTimeout bounds how long cancelling an upload session may wait for
// its server.
const discardTimeout = 10 * time.Second

// uploadFile sends one file through an Uploader. The session and the bytes
// the server confirmed are recorded after each chunk, so an upload resumes
// from the server's own count after anything: a cut connection, a server
// restart, a killed worker, a reboot. The uploader paces what it sends
// through st.
func (w *worker) uploadFile(ctx context.Context, j *Job, idx int, s transport.Settings, st *netpolicy.Stream) error {
	err := w.uploadSession(ctx, j, idx, s, st)
	if errors.Is(err, transport.ErrSessionLost) {
		// The server dropped the session mid-way: start a new one now.
		w.log.Info("upload session lost; starting a new one", "job", j.ID, "file", idx)
		j.Files[idx].Session = ""
		err = w.uploadSession(ctx, j, idx, s, st)
	}
	if errors.Is(err, transport.ErrSessionLost) {
		var why *hresult.Error
		if errors.As(err, &why) {
			return why // the server broke the protocol twice: say how
		}
		err = hresult.Transient(hresult.BG_E_SESSION_NOT_FOUND, hresult.ContextRemoteFile, "the server lost the upload session twice")
	}
	return err
}

// uploadSession runs one upload session: the recorded one, or a new one.
func (w *worker) uploadSession(ctx context.Context, j *Job, idx int, s transport.Settings, st *netpolicy.Stream) error {
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
		off, err = up.Resume(ctx, r, f.Session, f.BytesTransferred, f.UploadReach)
		if errors.Is(err, transport.ErrSessionLost) || (err == nil && off > f.BytesTotal) {
			w.log.Info("upload session lost; starting a new one", "job", j.ID, "file", idx)
			f.Session, off, err = "", 0, nil
		}
		if err != nil {
			return err
		}
		if j.Type == UploadReply && off == f.BytesTotal && off > 0 {
			// The Ack that named the reply may be lost (a restart): the
			// last byte goes again, and the server names it again.
			off--
		}
	}
	if f.Session == "" {
		if f.Session, err = up.Begin(ctx, r, f.BytesTotal); err != nil {
			return err
		}
		f.UploadReach = 0
	}
	chunk := int64(minUploadChunk)
	f.BytesTransferred = off
	reply := j.Type == UploadReply
	f.UploadReach = max(f.UploadReach, chunkEnd(off, chunk, f.BytesTotal, reply))
	if err := w.record(ctx, j.ID, &f, false, false); err != nil {
		return err
	}
	if !w.transition(ctx, j.ID, EvProgress, nil) {
		return errStopped
	}
	for backs := 0; off < f.BytesTotal; {
		end := chunkEnd(off, chunk, f.BytesTotal, reply)
		if end > f.UploadReach {
			// Usually recorded with the last chunk's progress, but the
			// server may have sent the upload somewhere unforeseen.
			f.UploadReach = end
			if err := w.record(ctx, j.ID, &f, false, false); err != nil {
				return err
			}
		}
		began := time.Now()
		got, err := up.Send(transport.WithPacer(ctx, st), r, f.Session, off, f.BytesTotal, io.NewSectionReader(src, off, end-off))
		if got == end {
			chunk = nextChunk(end-off, time.Since(began))
		}
		if next := chunkEnd(got, chunk, f.BytesTotal, reply); got != f.BytesTransferred || (got < f.BytesTotal && next > f.UploadReach) {
			// Forward, or back to what the server really holds: the
			// record is always the server's last word. The next
			// chunk's end goes with it.
			progressed := got != f.BytesTransferred
			f.BytesTransferred, f.UploadReach = got, max(f.UploadReach, next)
			if rerr := w.record(ctx, j.ID, &f, false, progressed); rerr != nil {
				return rerr
			}
		}
		if ctx.Err() != nil {
			return errStopped
		}
		if err != nil {
			return err
		}
		if got < off {
			if backs++; backs > maxGoBack {
				return hresult.Transient(hresult.BG_E_INVALID_SERVER_RESPONSE, hresult.ContextRemoteFile,
					"the server sent the upload back to an earlier offset %d times in a row", backs)
			}
		} else if got > off {
			backs = 0
		}
		off = got
	}
	if j.Type == UploadReply {
		err = w.commitWithReply(ctx, j, up, r, f.Session)
	} else {
		err = up.Commit(ctx, r, f.Session, nil)
	}
	if err != nil {
		return err
	}
	f.Complete = true
	return w.record(ctx, j.ID, &f, true, true)
}

// commitWithReply ends an upload-reply job's session and writes the
// server's reply into a temporary file beside the reply file name, where
// Complete finds it. The job stays TRANSFERRING until the reply is on disk.
func (w *worker) commitWithReply(ctx context.Context, j *Job, up transport.Uploader, r *transport.Request, session string) error {
	name := j.ReplyName()
	if j.Reply.TempName != "" {
		os.Remove(j.Reply.TempName) // a reply an earlier attempt began
	}
	tmp, _, err := createTemp(filepath.Dir(name))
	if err != nil {
		return localError(name, err)
	}
	j.Reply = Reply{TempName: tmp.Name(), BytesTotal: SizeUnknown}
	if err := w.recordReply(j); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	cw := &countingWriter{w: tmp, first: make(chan struct{})}
	err = up.Commit(ctx, r, session, cw)
	if err == nil && cw.err != nil {
		err = localError(tmp.Name(), cw.err)
	}
	if err == nil {
		err = tmp.Sync()
	}
	tmp.Close()
	if err != nil {
		return err
	}
	n := cw.n.Load()
	j.Reply.BytesTotal, j.Reply.BytesTransferred = n, n
	return w.recordReply(j)
}

func (w *worker) recordReply(j *Job) error {
	return w.m.store.Update(context.Background(), func(tx *storage.Tx) error {
		return tx.SetReplyProgress(j.ID, j.Reply.TempName, j.Reply.BytesTotal, j.Reply.BytesTransferred)
	})
}

// MaxReplyData is the largest reply ReplyData returns, as in BITS.
const MaxReplyData = 1 << 20

// ReplyData returns an upload-reply job's reply, once it is TRANSFERRED.
func (m *Manager) ReplyData(ctx context.Context, id string) ([]byte, error) {
	j, err := m.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	switch {
	case j.Type != UploadReply:
		return nil, &hresult.Error{Code: hresult.E_NOTIMPL, Msg: "only upload-reply jobs have a reply"}
	case j.State != Transferred || j.Reply.TempName == "":
		return nil, errStateRefused("the reply has not arrived: the job is in state " + j.State.String())
	case j.Reply.BytesTotal > MaxReplyData:
		return nil, &hresult.Error{Code: hresult.BG_E_TOO_LARGE, Msg: fmt.Sprintf("the reply has %d bytes; at most %d are returned", j.Reply.BytesTotal, MaxReplyData)}
	}
	b, err := os.ReadFile(j.Reply.TempName)
	if err != nil {
		return nil, localError(j.Reply.TempName, err)
	}
	return b, nil
}

// discard removes what a job that is gone left behind: the temporary files
// of its downloads and the server's side of its upload sessions. It reports
// false when something could not be removed.
func (m *Manager) discard(ctx context.Context, j *Job, s transport.Settings) bool {
	ok := true
	if j.Reply.TempName != "" {
		if err := os.Remove(j.Reply.TempName); err != nil && !errors.Is(err, os.ErrNotExist) {
			ok = false
		}
	}
	for _, f := range j.Files {
		if j.Type == Download && f.TempName != "" {
			if err := removeTemp(f.TempName, f.TempID); err != nil && !errors.Is(err, os.ErrNotExist) {
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
