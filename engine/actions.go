package engine

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"bits/engine/hresult"
	"bits/storage"
)

// AddFile adds a file to a job. The remote name is an http or https URL; the
// local name is an absolute path in a folder that exists and that the caller
// may write to. The job's state does not change.
func (m *Manager) AddFile(ctx context.Context, id, remote, local string) error {
	if err := checkRemote(remote); err != nil {
		return err
	}
	local, err := checkLocal(local)
	if err != nil {
		return err
	}
	j, err := m.change(ctx, id, func(tx *storage.Tx, j *Job) error {
		if j.State.Final() {
			return errStateRefused("files cannot be added to a job in state " + j.State.String())
		}
		if j.Type != Download && len(j.Files) > 0 {
			return &hresult.Error{Code: hresult.BG_E_TOO_MANY_FILES, Msg: "an upload job holds one file"}
		}
		if len(j.Files) >= m.opts.MaxFilesPerJob {
			return &hresult.Error{Code: hresult.BG_E_TOO_MANY_FILES_IN_JOB,
				Msg: fmt.Sprintf("the limit is %d files", m.opts.MaxFilesPerJob)}
		}
		f := File{Index: len(j.Files), RemoteName: remote, LocalName: local, BytesTotal: SizeUnknown}
		j.Files = append(j.Files, f)
		j.Modified = m.opts.Now()
		return tx.InsertFile(fileRow(j.ID, f))
	})
	if err != nil {
		return err
	}
	m.wake(j)
	return nil
}

func checkRemote(remote string) error {
	if len(remote) > MaxRemoteName {
		return invalidArg("remote name longer than %d characters", MaxRemoteName)
	}
	u, err := url.Parse(remote)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return invalidArg("%q is not an http or https URL", remote)
	}
	return nil
}

func checkLocal(local string) (string, error) {
	if !filepath.IsAbs(local) {
		return "", invalidArg("%q is not an absolute path", local)
	}
	if strings.ContainsAny(local, "*?\x00") {
		return "", invalidArg("%q contains a wildcard", local)
	}
	local = filepath.Clean(local)
	if fi, err := os.Stat(local); err == nil && fi.IsDir() {
		return "", invalidArg("%q is a folder", local)
	}
	dir := filepath.Dir(local)
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return "", &hresult.Error{Code: hresult.E_PATH_NOT_FOUND, Context: hresult.ContextLocalFile,
			Msg: fmt.Sprintf("folder %q does not exist", dir)}
	}
	if err := syscall.Access(dir, 2 /* W_OK */); err != nil {
		return "", &hresult.Error{Code: hresult.E_ACCESSDENIED, Context: hresult.ContextLocalFile,
			Msg: fmt.Sprintf("cannot create files in %q", dir)}
	}
	return local, nil
}

// Resume starts or restarts a job. A job with no files cannot be resumed;
// a job that is already active is left alone.
func (m *Manager) Resume(ctx context.Context, id string) error {
	j, err := m.change(ctx, id, func(_ *storage.Tx, j *Job) error {
		if len(j.Files) == 0 && !j.State.Final() {
			return &hresult.Error{Code: hresult.BG_E_EMPTY, Msg: "the job has no files"}
		}
		if j.State == Transferred && allComplete(j) {
			return nil // nothing left to move
		}
		if err := m.fire(j, EvResume); err != nil {
			return err
		}
		if j.State == Queued {
			j.Err, j.transientSince, j.retryAt = nil, time.Time{}, time.Time{}
		}
		return nil
	})
	if err != nil {
		return err
	}
	m.wake(j)
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
		NudgeWorker(m.home)
	}
	return err
}

// Cancel ends a job and deletes its temporary files. It returns
// BG_S_UNABLE_TO_DELETE_FILES when some could not be deleted.
func (m *Manager) Cancel(ctx context.Context, id string) (hresult.Code, error) {
	var temps []string
	err := m.store.Update(ctx, func(tx *storage.Tx) error {
		j, err := loadJob(tx, id)
		if err != nil {
			return err
		}
		if err := m.fire(j, EvCancel); err != nil {
			return err
		}
		for _, f := range j.Files {
			if f.TempName != "" {
				temps = append(temps, f.TempName)
			}
		}
		return tx.DeleteJob(id)
	})
	if err != nil {
		return 0, err
	}
	NudgeWorker(m.home)
	code := hresult.S_OK
	for _, t := range temps {
		if err := os.Remove(t); err != nil && !errors.Is(err, os.ErrNotExist) {
			code = hresult.BG_S_UNABLE_TO_DELETE_FILES
		}
	}
	return code, nil
}

// Complete makes a job's files visible under their final names and ends the
// job. Each finished temporary file is synced and renamed, then its folder
// is synced; unfinished ones (a download completed early) are deleted and
// BG_S_PARTIAL_COMPLETE is returned. Upload jobs complete only when
// TRANSFERRED. If a rename fails the job stays as it was and Complete can be
// tried again.
func (m *Manager) Complete(ctx context.Context, id string) (hresult.Code, error) {
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
		dirs := map[string]bool{}
		for _, f := range j.Files {
			if !f.Complete {
				code = hresult.BG_S_PARTIAL_COMPLETE
				if f.TempName != "" {
					_ = os.Remove(f.TempName)
				}
				continue
			}
			if err := commitFile(f); err != nil {
				return err
			}
			dirs[filepath.Dir(f.LocalName)] = true
		}
		for d := range dirs {
			if err := syncDir(d); err != nil {
				return &hresult.Error{Code: hresult.E_FAIL, Context: hresult.ContextLocalFile, Msg: err.Error()}
			}
		}
		return tx.DeleteJob(id)
	})
	if err != nil {
		return 0, err
	}
	NudgeWorker(m.home)
	return code, nil
}

// commitFile moves a finished temporary file to its final name. A temporary
// file that is gone while the final one exists was moved by an earlier
// Complete whose transaction did not land.
func commitFile(f File) error {
	fail := func(err error) error {
		return &hresult.Error{Code: localCode(err), Context: hresult.ContextLocalFile,
			Msg: fmt.Sprintf("%s: %v", f.LocalName, err)}
	}
	tf, err := os.OpenFile(f.TempName, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(f.LocalName); serr == nil {
			return nil
		}
	}
	if err != nil {
		return fail(err)
	}
	err = tf.Sync()
	if cerr := tf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	if err := os.Rename(f.TempName, f.LocalName); err != nil {
		return fail(err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
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

// Props are job settings to change; nil fields stay as they are.
type Props struct {
	DisplayName       *string
	Description       *string
	Priority          *Priority
	MinRetryDelay     *time.Duration
	NoProgressTimeout *time.Duration
	MaxDownloadTime   *time.Duration
	NotifyFlags       *uint32
}

// Set changes job settings, all or none.
func (m *Manager) Set(ctx context.Context, id string, p Props) error {
	j, err := m.change(ctx, id, func(_ *storage.Tx, j *Job) error {
		if j.State.Final() {
			return errStateRefused("settings cannot change in state " + j.State.String())
		}
		if err := p.apply(j); err != nil {
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

func (p Props) apply(j *Job) error {
	if p.DisplayName != nil {
		if len([]rune(*p.DisplayName)) > MaxDisplayName {
			return &hresult.Error{Code: hresult.BG_E_STRING_TOO_LONG, Msg: "display name longer than 256 characters"}
		}
		j.DisplayName = *p.DisplayName
	}
	if p.Description != nil {
		if len([]rune(*p.Description)) > MaxDescription {
			return &hresult.Error{Code: hresult.BG_E_STRING_TOO_LONG, Msg: "description longer than 1024 characters"}
		}
		j.Description = *p.Description
	}
	if p.Priority != nil {
		if *p.Priority < Foreground || *p.Priority > Low {
			return invalidArg("priority %d", *p.Priority)
		}
		j.Priority = *p.Priority
	}
	if p.MinRetryDelay != nil {
		d := *p.MinRetryDelay
		if d < 0 {
			return invalidArg("negative retry delay")
		}
		j.MinRetryDelay = max(d.Truncate(time.Second), MinRetryDelayFloor) // BITS raises small values silently
	}
	if p.NoProgressTimeout != nil {
		if *p.NoProgressTimeout < 0 {
			return invalidArg("negative no-progress timeout")
		}
		j.NoProgressTimeout = p.NoProgressTimeout.Truncate(time.Second)
	}
	if p.MaxDownloadTime != nil {
		if *p.MaxDownloadTime < 0 {
			return invalidArg("negative maximum download time")
		}
		j.MaxDownloadTime = p.MaxDownloadTime.Truncate(time.Second)
	}
	if p.NotifyFlags != nil {
		if *p.NotifyFlags&^0x3F != 0 {
			return invalidArg("notify flags 0x%x", *p.NotifyFlags)
		}
		j.NotifyFlags = *p.NotifyFlags
	}
	return nil
}
