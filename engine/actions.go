package engine

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"bits/engine/spawn"
	"bits/engine/transport"
	"bits/hresult"
	"bits/storage"
)

// FileSpec is a file to add: remote and local names, and optionally the
// byte ranges to fetch and the SHA-256 the file must have, in hexadecimal
// (download jobs only).
type FileSpec struct {
	Remote, Local string
	Ranges        []Range
	SHA256        string
}

// AddFile adds a file to a job. The remote name is one that a transport of
// the registry reads (a URL, a UNC path, a local path); the local name is
// an absolute path in a folder that exists and that the caller may write
// to. The job's state does not change.
func (m *Manager) AddFile(ctx context.Context, id, remote, local string) error {
	return m.AddFiles(ctx, id, []FileSpec{{Remote: remote, Local: local}})
}

// AddFileWithRanges adds a file of which only the given ranges are fetched;
// the local file holds them one after another in offset order.
func (m *Manager) AddFileWithRanges(ctx context.Context, id, remote, local string, ranges []Range) error {
	if len(ranges) == 0 {
		return invalidArg("no ranges")
	}
	return m.AddFiles(ctx, id, []FileSpec{{Remote: remote, Local: local, Ranges: ranges}})
}

// AddFiles adds several files at once: all of them, or none when one is
// refused.
func (m *Manager) AddFiles(ctx context.Context, id string, specs []FileSpec) error {
	f := newFolders()
	if err := m.checkSpecs(specs, f); err != nil {
		return err
	}
	j, err := m.change(ctx, id, func(tx *storage.Tx, j *Job) error {
		added, err := m.attach(j, specs, f)
		if err != nil {
			return err
		}
		if err := tx.InsertFiles(fileRows(j.ID, added)); err != nil {
			return err
		}
		j.Modified = m.opts.Now()
		return nil
	})
	if err != nil {
		return err
	}
	m.wake(j)
	return nil
}

// checkSpecs checks and cleans what a file's names and ranges must be on
// their own, whatever the job.
func (m *Manager) checkSpecs(specs []FileSpec, f *folders) error {
	for i := range specs {
		if err := m.checkSpec(&specs[i], f); err != nil {
			return err
		}
	}
	return nil
}

// attach adds files that checkSpecs passed to j, under the rules that
// depend on the job: its state, type, settings and file limit. It returns
// the files added, for the caller to store; the store is not read, so a
// new job's files are checked before its transaction.
func (m *Manager) attach(j *Job, specs []FileSpec, dirs *folders) ([]File, error) {
	if j.State.Final() {
		return nil, errStateRefused("files cannot be added to a job in state " + j.State.String())
	}
	first := len(j.Files)
	for _, sp := range specs {
		if j.Type != Download && len(j.Files) > 0 {
			return nil, &hresult.Error{Code: hresult.BG_E_TOO_MANY_FILES, Msg: "an upload job holds one file"}
		}
		if len(j.Files) >= m.opts.MaxFilesPerJob {
			return nil, &hresult.Error{Code: hresult.BG_E_TOO_MANY_FILES_IN_JOB,
				Msg: fmt.Sprintf("the limit is %d files", m.opts.MaxFilesPerJob)}
		}
		if sp.Ranges != nil && j.Type != Download {
			return nil, &hresult.Error{Code: hresult.E_NOTIMPL, Msg: "only download jobs take file ranges"}
		}
		if j.Type == Download {
			if err := dirs.writable(filepath.Dir(sp.Local)); err != nil {
				return nil, err
			}
		} else {
			if err := checkSource(sp.Local); err != nil {
				return nil, err
			}
			if _, e, _ := m.opts.Transports.Resolve(sp.Remote); j.Type == UploadReply && !e.Caps.UploadReply {
				return nil, invalidArg("upload-reply jobs need an http or https server")
			}
		}
		if sp.SHA256 != "" && (j.Type != Download || sp.Ranges != nil) {
			return nil, invalidArg("a SHA-256 is checked on a whole downloaded file: not with ranges, not for uploads")
		}
		if sp.Ranges != nil && j.Dynamic {
			return nil, &hresult.Error{Code: hresult.BG_E_UNSUPPORTED_JOB_CONFIGURATION, Msg: "dynamic content cannot have file ranges"}
		}
		f := File{Index: len(j.Files), RemoteName: sp.Remote, LocalName: sp.Local, BytesTotal: SizeUnknown, Ranges: sp.Ranges, SHA256: sp.SHA256}
		j.Files = append(j.Files, f)
	}
	return j.Files[first:], nil
}

func (m *Manager) checkSpec(sp *FileSpec, f *folders) error {
	if err := m.checkRemote(sp.Remote); err != nil {
		return err
	}
	local, err := checkLocalIn(sp.Local, f)
	if err != nil {
		return err
	}
	sp.Local = local
	if sp.SHA256 != "" {
		if b, err := hex.DecodeString(sp.SHA256); err != nil || len(b) != sha256.Size {
			return invalidArg("SHA-256 %q: want 64 hexadecimal digits", sp.SHA256)
		}
		sp.SHA256 = strings.ToLower(sp.SHA256)
	}
	if sp.Ranges == nil {
		return nil
	}
	if len(sp.Ranges) > m.opts.MaxRangesPerFile {
		return &hresult.Error{Code: hresult.BG_E_TOO_MANY_RANGES_IN_FILE, Msg: fmt.Sprintf("the limit is %d ranges", m.opts.MaxRangesPerFile)}
	}
	rs := slices.Clone(sp.Ranges)
	slices.SortStableFunc(rs, func(a, b Range) int { return cmp.Compare(a.Offset, b.Offset) })
	for i := 1; i < len(rs); i++ {
		prev, cur := rs[i-1], rs[i]
		// BITS also refuses a zero-length range that shares an offset.
		if cur.Offset == prev.Offset || prev.Length == ToEOF || cur.Offset < prev.Offset+prev.Length {
			return &hresult.Error{Code: hresult.BG_E_OVERLAPPING_RANGES}
		}
	}
	sp.Ranges = rs
	return nil
}

// ReplaceRemotePrefix changes the remote names of a download job's files
// that start with old (compared with case) to start with new instead. It
// returns how many changed; none is BITS' S_FALSE, not an error. A file
// whose new server has another copy starts again when the transfer checks
// its size and validator.
func (m *Manager) ReplaceRemotePrefix(ctx context.Context, id, old, new string) (int, error) {
	if old == "" || new == "" {
		return 0, invalidArg("empty prefix")
	}
	n := 0
	j, err := m.change(ctx, id, func(tx *storage.Tx, j *Job) error {
		if j.State.Final() {
			return errStateRefused("the job is in state " + j.State.String())
		}
		if j.Type != Download {
			return &hresult.Error{Code: hresult.E_NOTIMPL, Msg: "only download jobs"}
		}
		for _, f := range j.Files {
			if !strings.HasPrefix(f.RemoteName, old) {
				continue
			}
			remote := new + strings.TrimPrefix(f.RemoteName, old)
			if err := m.checkRemote(remote); err != nil {
				return err
			}
			if err := tx.UpdateFileNames(j.ID, f.Index, remote, int(f.Validation)); err != nil {
				return err
			}
			n++
		}
		if n > 0 {
			j.Modified = m.opts.Now()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	m.wake(j)
	return n, nil
}

// renameRemote records where a redirect led a file, for the redirect
// policy that reports it; the file's progress is left as it is.
func (m *Manager) renameRemote(ctx context.Context, id string, idx int, remote string) error {
	return m.store.Update(ctx, func(tx *storage.Tx) error {
		files, err := tx.Files(id)
		if err != nil || idx >= len(files) {
			return err
		}
		return tx.UpdateFileNames(id, idx, remote, files[idx].Validation)
	})
}

// SetValidationState records an application's verdict on a transferred
// file. A file marked not valid sends the job to ERROR with
// BG_E_VALIDATION_FAILED and starts again from byte 0 at the next Resume.
func (m *Manager) SetValidationState(ctx context.Context, id string, idx int, valid bool) error {
	if m.owner != nil && !valid {
		return refused(hresult.ContextLocalFile, "marking a file of user %s's not valid deletes it: only that user may", m.owner.Name)
	}
	_, err := m.change(ctx, id, func(tx *storage.Tx, j *Job) error {
		if j.State.Final() {
			return errStateRefused("the job is in state " + j.State.String())
		}
		if idx < 0 || idx >= len(j.Files) {
			return &hresult.Error{Code: hresult.E_INVALIDARG, Msg: fmt.Sprintf("the job has no file %d", idx)}
		}
		f := j.Files[idx]
		if !f.Complete {
			return errStateRefused(fmt.Sprintf("file %d is not transferred yet", idx))
		}
		v := Valid
		if !valid {
			v = Invalid
			if f.TempName != "" {
				removeTemp(f.TempName, f.TempID)
			}
			if _, err := tx.SetFileProgress(j.ID, idx, storage.FileProgress{BytesTotal: SizeUnknown}); err != nil {
				return err
			}
			m.enter(j, Error)
			j.ErrorCount++
			j.Err = &JobError{Code: hresult.BG_E_VALIDATION_FAILED, Context: hresult.ContextLocalFile,
				Msg: "the file was marked not valid", FileIndex: idx}
			j.TransferCompleted = time.Time{}
		}
		j.Modified = m.opts.Now()
		return tx.UpdateFileNames(j.ID, idx, f.RemoteName, int(v))
	})
	return err
}

func (m *Manager) checkRemote(remote string) error {
	if len(remote) > MaxRemoteName {
		return invalidArg("remote name longer than %d characters", MaxRemoteName)
	}
	// Errors do not echo the name: it may hold a password.
	if _, err := m.opts.Transports.Parse(remote); err != nil {
		return invalidArg("%v", err)
	}
	return nil
}

// checkSource checks the local file an upload reads: it must be a regular
// file the caller can read.
func checkSource(local string) error {
	f, err := os.Open(local)
	if err != nil {
		code := localCode(err)
		if errors.Is(err, os.ErrNotExist) {
			code = hresult.E_FILE_NOT_FOUND
		}
		return &hresult.Error{Code: code, Context: hresult.ContextLocalFile, Msg: fmt.Sprintf("%s: %v", local, errors.Unwrap(err))}
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return invalidArg("%q is not a regular file", local)
	}
	return nil
}

func checkLocal(local string) (string, error) { return checkLocalIn(local, nil) }

// checkLocalIn is checkLocal with what f learnt of the folders: the files
// of a job are often in one folder.
func checkLocalIn(local string, f *folders) (string, error) {
	if !filepath.IsAbs(local) {
		return "", invalidArg("%q is not an absolute path", local)
	}
	if strings.ContainsAny(local, "*?\x00") {
		return "", invalidArg("%q contains a wildcard", local)
	}
	local = filepath.Clean(local)
	if f.isFolder(local) {
		return "", invalidArg("%q is a folder", local)
	}
	return local, f.exists(filepath.Dir(local))
}

func checkFolder(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return &hresult.Error{Code: hresult.E_PATH_NOT_FOUND, Context: hresult.ContextLocalFile,
			Msg: fmt.Sprintf("folder %q does not exist", dir)}
	}
	return nil
}

// checkWritable checks that a download can create its files beside local.
func checkWritable(local string) error { return checkWritableFolder(filepath.Dir(local)) }

func checkWritableFolder(dir string) error {
	if err := syscall.Access(dir, 2 /* W_OK */); err != nil {
		return &hresult.Error{Code: hresult.E_ACCESSDENIED, Context: hresult.ContextLocalFile,
			Msg: fmt.Sprintf("cannot create files in %q", dir)}
	}
	return nil
}

// Resume starts or restarts a job. A job with no files cannot be resumed;
// a job that is already active is left alone. When no worker runs and none
// can be started, the job is resumed all the same (it waits in QUEUED for
// the next worker) and the error, CO_E_SERVER_EXEC_FAILURE, says why.
func (m *Manager) Resume(ctx context.Context, id string) error {
	j, err := m.change(ctx, id, func(_ *storage.Tx, j *Job) error { return m.resume(j) })
	if err != nil {
		return err
	}
	return m.wake(j)
}

// resume applies Resume to j in memory.
func (m *Manager) resume(j *Job) error {
	if len(j.Files) == 0 && !j.State.Final() {
		return &hresult.Error{Code: hresult.BG_E_EMPTY, Msg: "the job has no files"}
	}
	if j.State == Transferred && allComplete(j) {
		return nil // nothing left to move
	}
	if err := m.fire(j, EvResume); err != nil {
		return err
	}
	j.Resumed = true
	recordUserEnv(j)
	if j.State == Queued {
		j.Err, j.transientSince, j.retryAt = nil, time.Time{}, time.Time{}
		j.TransferTime = 0 // as in BITS, Resume restarts the maximum download time
	}
	return nil
}

func allComplete(j *Job) bool {
	for _, f := range j.Files {
		if !f.Complete {
			return false
		}
	}
	return true
}

// Suspend pauses a job; its temporary files and progress are kept.
func (m *Manager) Suspend(ctx context.Context, id string) error {
	_, err := m.change(ctx, id, func(_ *storage.Tx, j *Job) error {
		return m.fire(j, EvSuspend)
	})
	if err == nil {
		spawn.Nudge(m.home)
	}
	return err
}

// Cancel ends a job and deletes its temporary files. It returns
// BG_S_UNABLE_TO_DELETE_FILES when some could not be deleted. The job's
// row and credentials are erased from the store's files too (scrub).
func (m *Manager) Cancel(ctx context.Context, id string) (hresult.Code, error) {
	if m.owner != nil {
		return m.asOwner(ctx, "cancel", id) // its files go with its owner's rights
	}
	var j *Job
	var s transport.Settings
	err := m.store.Update(ctx, func(tx *storage.Tx) error {
		var err error
		if j, err = loadJob(tx, id); err != nil {
			return err
		}
		if err := m.fire(j, EvCancel); err != nil {
			return err
		}
		creds, err := tx.Credentials(id)
		if err != nil {
			return err
		}
		s = transportSettings(j, creds, m.home)
		return tx.DeleteJob(id)
	})
	if err != nil {
		return 0, err
	}
	m.scrub(ctx)
	spawn.Nudge(m.home)
	if !m.discard(ctx, j, s) {
		return hresult.BG_S_UNABLE_TO_DELETE_FILES, nil
	}
	return hresult.S_OK, nil
}

// Complete makes a job's files visible under their final names and ends the
// job. Each finished temporary file (synced first if the job left it
// unsynced) is renamed, then its folder is synced; unfinished ones (a
// download completed early, or bytes a boot before this one held unsynced)
// are deleted and BG_S_PARTIAL_COMPLETE is returned. Upload jobs complete
// only when TRANSFERRED. If a rename fails the job stays as it was and
// Complete can be tried again. The job's row and credentials are erased as
// by Cancel.
func (m *Manager) Complete(ctx context.Context, id string) (hresult.Code, error) {
	if m.owner != nil {
		return m.asOwner(ctx, "complete", id) // its files go with its owner's rights
	}
	code := hresult.S_OK
	err := m.store.Update(ctx, func(tx *storage.Tx) error {
		j, err := loadJob(tx, id)
		if err != nil {
			return err
		}
		if j.Type != Download && j.State != Transferred {
			return errInvalidState(j.State, EvComplete)
		}
		if err := m.fire(j, EvComplete); err != nil {
			return err
		}
		if j.Type == UploadReply && j.Reply.TempName != "" {
			if err := commitAll([]File{{TempName: j.Reply.TempName, LocalName: j.ReplyName()}}); err != nil {
				return err
			}
		}
		if j.Type != Download {
			return tx.DeleteJob(id) // the server has had the file since TRANSFERRED
		}
		var done []File
		for _, f := range j.Files {
			// Bytes that a boot before this one held unsynced may be
			// lost: such a file is not done.
			if !f.Complete || (f.Unsynced != "" && f.Unsynced != bootID()) {
				code = hresult.BG_S_PARTIAL_COMPLETE
				if f.TempName != "" {
					_ = os.Remove(f.TempName)
				}
				continue
			}
			done = append(done, f)
		}
		// Files left unsynced (the job is completed before TRANSFERRED)
		// are synced before they take their names.
		if err := syncFiles(done); err != nil {
			return err
		}
		if err := commitAll(done); err != nil {
			return err
		}
		return tx.DeleteJob(id)
	})
	if err != nil {
		return 0, err
	}
	m.scrub(ctx)
	spawn.Nudge(m.home)
	return code, nil
}

// commitAll moves finished temporary files to their final names, in order,
// then syncs each folder, which makes the renames durable. Each folder is
// opened once (openFolder) and every name is looked up in it, so a folder
// cannot be swapped between one file and the next. The error is that of the
// first file that failed; the files moved before it stay so (the next
// Complete skips them), and no folder is synced.
func commitAll(files []File) error {
	dirs := map[string]*os.File{}
	var order []*os.File
	defer func() {
		for _, d := range order {
			d.Close()
		}
	}()
	for _, f := range files {
		name := filepath.Dir(f.LocalName)
		dir := dirs[name]
		if dir == nil {
			fd, err := openFolder(name)
			if err != nil {
				return commitError(f, err)
			}
			dir = os.NewFile(uintptr(fd), name)
			dirs[name] = dir
			order = append(order, dir)
		}
		if err := commitIn(int(dir.Fd()), f); err != nil {
			return commitError(f, err)
		}
	}
	for _, d := range order {
		if err := d.Sync(); err != nil {
			return &hresult.Error{Code: hresult.E_FAIL, Context: hresult.ContextLocalFile, Msg: err.Error()}
		}
	}
	return nil
}

// openFolder opens the folder of files to commit: for root as
// openFolderAsRoot finds it, for anyone else as their rights let them.
func openFolder(dir string) (int, error) {
	if os.Geteuid() == 0 {
		return openFolderAsRoot(dir)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return fd, nil
}

// commitIn moves a finished temporary file to its final name in dir, the
// folder of both, if the temporary file is still the one the job made. A
// temporary file that is gone while the final name exists was moved by an
// earlier Complete whose transaction did not land.
func commitIn(dir int, f File) error {
	tempBase, localBase := filepath.Base(f.TempName), filepath.Base(f.LocalName)
	fd, err := unix.Openat(dir, tempBase, unix.O_RDWR|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		var st unix.Stat_t
		if unix.Fstatat(dir, localBase, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			return nil
		}
	}
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("%w (%s is a link)", errNotOurs, f.TempName)
	}
	if err != nil {
		return &os.PathError{Op: "open", Path: f.TempName, Err: err}
	}
	tf := os.NewFile(uintptr(fd), f.TempName)
	defer tf.Close()
	id, err := identity(tf)
	if err == nil && !sameFile(f.TempID, id) {
		err = fmt.Errorf("%w (%s)", errNotOurs, f.TempName)
	}
	if err != nil {
		return err
	}
	// No sync: the content is on disk (see Complete), and its mode and
	// name are metadata, which the sync of the folder after the renames
	// makes durable (journaling file systems keep metadata changes in
	// order).
	if err := tf.Chmod(finalMode(dir, localBase)); err != nil {
		return err
	}
	return unix.Renameat(dir, tempBase, dir, localBase)
}

// commitError is the error of a file that could not be committed.
func commitError(f File, err error) error {
	var he *hresult.Error
	if errors.As(err, &he) {
		return err
	}
	return &hresult.Error{Code: localCode(err), Context: hresult.ContextLocalFile, Msg: fmt.Sprintf("%s: %v", f.LocalName, err)}
}

// localCode maps a local file system error to its HRESULT.
func localCode(err error) hresult.Code {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.ENOSPC, syscall.EDQUOT:
			return hresult.E_DISK_FULL
		case syscall.EACCES, syscall.EPERM, syscall.EROFS:
			return hresult.E_ACCESSDENIED
		case syscall.ENOENT:
			return hresult.E_PATH_NOT_FOUND
		case syscall.ENOTDIR:
			return hresult.E_PATH_NOT_FOUND
		}
	}
	return hresult.E_FAIL
}
