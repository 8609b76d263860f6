package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"bits/engine/netpolicy"
	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/writeback"
)

// maxRestarts bounds how often one attempt restarts a file whose remote copy
// keeps changing under it, before it reports a transient error.
const maxRestarts = 3

// downloadFile moves one file into its temporary file, resuming from the
// last checkpoint. The temporary file lives beside the final name; a
// checkpoint syncs it and then records its length, so the recorded length
// is always on disk.
//
// A file with nothing on disk yet is asked for with one GET when the
// transport can learn from it what Stat says (transport.Prefetcher): the
// size and validators come from its headers and its body is the download.
func (w *worker) downloadFile(ctx context.Context, j *Job, idx int, s transport.Settings, st *netpolicy.Stream, run fileRun) error {
	f := j.Files[idx]
	defer func() { j.Files[idx] = f }() // the runner's view: its temporary file, its progress
	r, e, err := w.m.downloader(s, f.RemoteName)
	if err != nil {
		return err
	}
	d := e.Downloader
	if e.Caps.Dynamic && (j.Dynamic || r.Method != "") {
		return w.streamFile(ctx, j.ID, &f, d, r, st, run)
	}
	var opened []transport.Body
	defer func() {
		for _, b := range opened {
			b.Close()
		}
	}()
	for restarts := 0; ; restarts++ {
		var info transport.RemoteInfo
		get := d
		if p, ok := d.(transport.Prefetcher); ok && restarts == 0 && f.Ranges == nil && f.BytesTransferred == 0 {
			var body transport.Body
			info, body, err = p.StatGet(ctx, r)
			if body != nil {
				opened = append(opened, body)
				get = &prefetched{Downloader: d, body: body, size: info.Size}
			}
		} else {
			info, err = d.Stat(ctx, r)
		}
		if err != nil {
			return err
		}
		if run.ahead() && (info.Size < 0 || info.Size > aheadSize) {
			// A big file waits for its turn; the GET it would have used
			// is dropped rather than held open meanwhile.
			if p, ok := get.(*prefetched); ok {
				p.body.Close()
				get = d
			}
			if err := run.turn(ctx); err != nil {
				return err
			}
		}
		if info.FinalURL != "" && info.FinalURL != f.RemoteName {
			// ALLOW_REPORT: the file's remote name becomes where it was found.
			if err := w.m.renameRemote(ctx, j.ID, f.Index, info.FinalURL); err != nil {
				return err
			}
			f.RemoteName = info.FinalURL
		}
		if info.Size < 0 {
			return hresult.Fatal(hresult.BG_E_MISSING_FILE_SIZE, hresult.ContextRemoteFile, "%s", f.RemoteName)
		}
		segs, total, err := segments(f.Ranges, info.Size)
		if err != nil {
			return err
		}
		if f.Validator != info.Validator || (f.BytesTotal != SizeUnknown && f.BytesTotal != total) {
			if f.BytesTransferred > 0 {
				w.log.Info("remote file changed; starting it again", "job", j.ID, "file", idx)
			}
			f.BytesTransferred = 0
		}
		f.BytesTotal, f.Validator = total, info.Validator
		if f.Ranges != nil {
			info.Digest = transport.Digest{} // a digest covers the whole file, not its ranges
		}
		tmp, err := w.openTemp(ctx, j.ID, &f, run.small(info.Size))
		if err != nil {
			return err
		}
		err = w.copyFile(ctx, j.ID, &f, tmp, get, r, info, segs, st, run)
		tmp.Close()
		if f.Ranges != nil && errors.Is(err, transport.ErrNoRanges) {
			return hresult.Fatal(hresult.BG_E_INSUFFICIENT_RANGE_SUPPORT, hresult.ContextRemoteFile,
				"%s: the server ignores byte ranges", f.RemoteName)
		}
		if !restartable(err) {
			return err
		}
		w.log.Info("starting file again from byte 0", "job", j.ID, "file", idx, "why", err)
		f.BytesTransferred = 0
		if restarts == maxRestarts && errors.Is(err, errDigestMismatch) {
			return hresult.Fatal(hresult.CRYPT_E_HASH_VALUE, hresult.ContextRemoteFile,
				"%s does not match the server's %s digest", f.RemoteName, info.Digest.Algorithm)
		}
		if restarts == maxRestarts {
			return hresult.Transient(hresult.BG_E_REMOTE_FILE_CHANGED, hresult.ContextRemoteFile, "%s kept changing", f.RemoteName)
		}
	}
}

// prefetched is a Downloader with the open answer of a StatGet: the
// download of the whole file reads it instead of asking again.
type prefetched struct {
	transport.Downloader
	body transport.Body
	size int64
}

func (p *prefetched) Download(ctx context.Context, r *transport.Request, off, end int64, want transport.RemoteInfo, w io.Writer) (int64, error) {
	if b := p.body; b != nil && off == 0 && end == p.size && want.Size == p.size {
		p.body = nil
		return b.Copy(ctx, w)
	}
	return p.Downloader.Download(ctx, r, off, end, want, w)
}

// restartable says whether a transfer error means "fetch the file again
// from byte 0" rather than a failure of the attempt.
func restartable(err error) bool {
	return errors.Is(err, transport.ErrChanged) || errors.Is(err, transport.ErrNoRanges) || errors.Is(err, errDigestMismatch)
}

// streamFile fetches a file whose size is not known in advance (dynamic
// content) or that a custom method returns: one request from byte 0 to the
// end of the body. It cannot resume: every attempt starts again.
func (w *worker) streamFile(ctx context.Context, jobID string, f *File, d transport.Downloader, r *transport.Request, st *netpolicy.Stream, run fileRun) error {
	if err := run.turn(ctx); err != nil { // its size is not known: it may be big
		return err
	}
	f.BytesTransferred, f.BytesTotal, f.Validator = 0, SizeUnknown, ""
	tmp, err := w.openTemp(ctx, jobID, f, false)
	if err != nil {
		return err
	}
	defer tmp.Close()
	return w.copyFile(ctx, jobID, f, tmp, d, r, transport.RemoteInfo{Size: -1}, []segment{{off: 0, end: -1, at: 0}}, st, run)
}

// A segment is a run of remote bytes that lands at local offset at in the
// temporary file: the whole file, or one of the file's ranges, which BITS
// stores one after another in offset order.
type segment struct {
	off, end, at int64
}

// segments resolves a file's ranges against the remote size and returns
// them with the local file's total size. A range that starts past the end
// is BG_E_INVALID_RANGE; one that runs past it is cut at the end.
func segments(ranges []Range, size int64) ([]segment, int64, error) {
	if ranges == nil {
		return []segment{{off: 0, end: size, at: 0}}, size, nil
	}
	var segs []segment
	var at int64
	for _, r := range ranges {
		if r.Offset > uint64(size) || (r.Offset == uint64(size) && r.Length != 0 && r.Length != ToEOF) {
			return nil, 0, hresult.Fatal(hresult.BG_E_INVALID_RANGE, hresult.ContextRemoteFile,
				"range %d:%d is past the end of the %d-byte file", r.Offset, r.Length, size)
		}
		end := size
		if r.Length != ToEOF && r.Offset+r.Length < uint64(size) {
			end = int64(r.Offset + r.Length)
		}
		segs = append(segs, segment{off: int64(r.Offset), end: end, at: at})
		at += end - int64(r.Offset)
	}
	return segs, at, nil
}

// openTemp opens the file's temporary file at its checkpoint, creating it
// (BIT<hex>.tmp beside the final name) when there is none, and records it:
// a new one, when later, with the next transaction (recordLater).
func (w *worker) openTemp(ctx context.Context, jobID string, f *File, later bool) (*os.File, error) {
	var tmp *os.File
	var err error
	if f.TempName != "" {
		tmp, err = reopenTemp(f.TempName, f.TempID, os.O_RDWR)
		switch {
		case errors.Is(err, os.ErrNotExist):
			tmp, f.TempName, f.TempID, f.BytesTransferred = nil, "", "", 0
		case errors.Is(err, errNotOurs):
			// Left alone: it may be someone's file. The transfer starts
			// again under a new name.
			w.log.Warn("temporary file replaced while the job was away; starting the file again", "job", jobID, "err", err)
			tmp, f.TempName, f.TempID, f.BytesTransferred = nil, "", "", 0
		case err != nil:
			return nil, localError(f.TempName, err)
		}
	}
	if tmp == nil {
		dir := filepath.Dir(f.LocalName)
		if tmp, f.TempID, err = createTemp(dir); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, hresult.Transient(hresult.E_PATH_NOT_FOUND, hresult.ContextLocalFile,
					"the folder %s is missing: the file starts when it is back", dir)
			}
			return nil, localError(f.LocalName, err)
		}
		f.TempName, f.BytesTransferred = tmp.Name(), 0 // empty: nothing to cut or pass
		if later {
			w.recordLater(jobID, *f)
			return tmp, nil
		}
	} else if err := resumeAt(tmp, f); err != nil {
		tmp.Close()
		return nil, localError(f.TempName, err)
	}
	if err := w.record(ctx, jobID, f, false, false); err != nil {
		tmp.Close()
		if errors.Is(err, errStopped) {
			os.Remove(f.TempName) // the job went away while we created it
		}
		return nil, err
	}
	return tmp, nil
}

// resumeAt cuts an existing temporary file at its checkpoint and moves to
// it; a file shorter than the checkpoint resumes from its end, since only
// what is on disk counts.
func resumeAt(tmp *os.File, f *File) error {
	if st, err := tmp.Stat(); err == nil && st.Size() < f.BytesTransferred {
		f.BytesTransferred = st.Size()
	}
	if err := tmp.Truncate(f.BytesTransferred); err != nil {
		return err
	}
	_, err := tmp.Seek(f.BytesTransferred, io.SeekStart)
	return err
}

func localError(path string, err error) error {
	return &hresult.Error{Code: localCode(err), Context: hresult.ContextLocalFile, Msg: fmt.Sprintf("%s: %v", path, err)}
}

// record is recordAll of one file.
func (w *worker) record(ctx context.Context, jobID string, f *File, complete, progressed bool) error {
	return w.recordAll(ctx, jobID, []*File{f}, complete, progressed)
}

// copyFile runs one transfer of f from its checkpoint to the end, segment
// by segment, saving a checkpoint every o.Checkpoint. A file of unknown size
// (one segment that ends at -1) runs until the server stops sending. The
// bytes pass st, which paces them: holding a write back holds the read
// from the connection back, and the server slows down. The file is synced
// when its last byte is in, and recorded complete in its turn (see
// fileRun.finish).
func (w *worker) copyFile(ctx context.Context, jobID string, f *File, tmp *os.File, d transport.Downloader, r *transport.Request, info transport.RemoteInfo, segs []segment, st *netpolicy.Stream, run fileRun) error {
	unknown := f.BytesTotal == SizeUnknown
	if unknown || f.BytesTransferred < f.BytesTotal {
		cw := &countingWriter{w: tmp, first: make(chan struct{})}
		cw.n.Store(f.BytesTransferred)
		cw.behind = f.BytesTransferred
		tctx, stop := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.checkpoints(tctx, stop, jobID, *f, tmp, cw, run)
		}()
		var err error
		for _, s := range segs {
			done := cw.n.Load()
			if s.end >= 0 && done >= s.at+(s.end-s.off) {
				continue // this segment is on disk already
			}
			if _, err = d.Download(tctx, r, s.off+(done-s.at), s.end, info, st.Writer(tctx, cw)); err != nil {
				break
			}
		}
		halted := cw.halted.Load()
		stop()
		wg.Wait()
		if cw.gone.Load() {
			return w.tempGone(jobID, f)
		}
		if cw.err != nil {
			return localError(f.TempName, cw.err)
		}
		if errors.Is(err, transport.ErrChanged) || errors.Is(err, transport.ErrNoRanges) {
			return err
		}
		n := cw.n.Load()
		if ctx.Err() != nil || halted {
			if !run.ahead() {
				w.checkpoint(jobID, f, tmp, n) // suspended or stopping: keep what arrived
			}
			return errStopped
		}
		if err == nil && !unknown && n != f.BytesTotal {
			err = hresult.Transient(hresult.WINHTTP_CONNECTION_ERROR, hresult.ContextRemoteFile,
				"got %d of %d bytes", n, f.BytesTotal)
		}
		if err != nil {
			if !run.ahead() {
				w.checkpoint(jobID, f, tmp, n) // keep what arrived before the failure
			}
			return err
		}
		f.BytesTransferred, f.BytesTotal = n, n
	}
	run.bytesIn()
	f.Unsynced = ""
	if run.syncLater(f) {
		f.Unsynced = bootID()
	} else if err := tmp.Sync(); err != nil {
		return localError(f.TempName, err)
	}
	if !linked(tmp) {
		return w.tempGone(jobID, f)
	}
	if info.Digest.Algorithm != "" {
		alg, err := verify(tmp, info.Digest)
		if err != nil {
			return err
		}
		f.Verified = alg
	}
	if f.SHA256 != "" {
		if err := checkSum(tmp, f.SHA256); err != nil {
			return err
		}
	}
	if !info.ModTime.IsZero() {
		os.Chtimes(f.TempName, info.ModTime, info.ModTime) // as BITS does with Last-Modified
	}
	// When the file before it failed, or the job stops, this one is
	// fetched again next time, as it would not have started.
	return run.finish(ctx, f, func(fs []*File) error {
		for _, f := range fs {
			f.Complete = true
		}
		return w.recordAll(ctx, jobID, fs, true, true)
	})
}

// tempGone forgets a temporary file that lost its name, so that the next
// attempt starts the file again from byte 0, and says why.
func (w *worker) tempGone(jobID string, f *File) error {
	name := f.TempName
	f.TempName, f.TempID, f.BytesTransferred = "", "", 0
	if err := w.record(context.Background(), jobID, f, false, false); err != nil {
		return err
	}
	return errTempGone(name)
}

// checkpoints saves progress on a timer, and at once when the first bytes
// of the job's run arrive so the job shows TRANSFERRING promptly
// (run.moving says they did: a job of many files changes state once, not
// once a file). A file ahead of its turn saves none (see fileRun.ahead).
// It stops the transfer (stop) when the job is no longer active.
func (w *worker) checkpoints(ctx context.Context, stop context.CancelFunc, jobID string, f File, tmp *os.File, cw *countingWriter, run fileRun) {
	t := time.NewTicker(w.o.Checkpoint)
	defer t.Stop()
	first := cw.first
	for {
		select {
		case <-ctx.Done():
			return
		case <-first:
			first = nil
			if run.moving.Swap(true) {
				continue // another file of the run changes the state
			}
			w.log.Debug("first bytes", "job", jobID)
			// Not cancelled with the file: a small file may be done
			// before the state changes, and the job must still show it.
			if !w.transition(context.WithoutCancel(ctx), jobID, EvProgress, nil) {
				cw.halt(stop)
				return
			}
			continue
		case <-t.C:
		}
		if !linked(tmp) {
			cw.gone.Store(true)
			stop()
			return
		}
		var err error
		if n := cw.n.Load(); n != f.BytesTransferred && !run.ahead() {
			err = w.checkpoint(jobID, &f, tmp, n)
		} else {
			err = w.record(ctx, jobID, &f, false, false) // no new bytes: still check the job is active
		}
		if errors.Is(err, errStopped) {
			cw.halt(stop)
			return
		}
		if err != nil {
			w.log.Warn("checkpoint not recorded; retrying at the next one", "job", jobID, "err", err)
		}
	}
}

// checkpoint syncs the first n bytes of the temporary file, then records n.
func (w *worker) checkpoint(jobID string, f *File, tmp *os.File, n int64) error {
	if err := tmp.Sync(); err != nil {
		return err
	}
	progressed := n != f.BytesTransferred
	f.BytesTransferred = n
	return w.record(context.Background(), jobID, f, false, progressed)
}

// writeBehind is how much a download writes before it asks the kernel to
// send it to the disk: large enough to make few requests, small next to
// what the disk writes in a second.
const writeBehind = 8 << 20

// countingWriter counts the bytes written to the temporary file and keeps
// its own write error apart from the network's.
type countingWriter struct {
	w *os.File
	n atomic.Int64
	// behind is where the data not yet sent to the disk starts.
	behind int64
	err    error
	first  chan struct{} // closed at the first write
	once   sync.Once
	// halted is set when the checkpoint loop stops the transfer because
	// the job left the active states; gone, because the temporary file
	// lost its name.
	halted, gone atomic.Bool
}

func (c *countingWriter) halt(stop context.CancelFunc) {
	c.halted.Store(true)
	stop()
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	end := c.n.Add(int64(n))
	if n > 0 {
		c.once.Do(func() { close(c.first) })
	}
	if end-c.behind >= writeBehind {
		writeback.Start(c.w, c.behind, end-c.behind)
		c.behind = end
	}
	if err != nil {
		c.err = err
	}
	return n, err
}
