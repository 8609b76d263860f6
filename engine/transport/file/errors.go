package file

import (
	"context"
	"errors"
	"syscall"

	"bits/hresult"
)

// remoteError turns a failed file operation into an *hresult.Error about
// the remote file. missing is the code for ENOENT: file not found for a
// file being read, path not found for a folder an upload goes into.
// Cancellation passes through as itself.
func remoteError(err error, missing hresult.Code) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	code, transient := classify(err, missing)
	return &hresult.Error{Code: code, Context: hresult.ContextRemoteFile, Msg: err.Error(), Transient: transient}
}

// classify maps an errno to the Win32 code Windows reports for the same
// failure on a share. What the user must fix (a name, a permission, free
// space) is fatal; what may pass (I/O errors and time-outs of a network
// file system, memory, open-file limits) is transient.
func classify(err error, missing hresult.Code) (code hresult.Code, transient bool) {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return hresult.E_FAIL, true
	}
	switch errno {
	case syscall.ENOENT:
		return missing, false
	case syscall.ENOTDIR:
		return hresult.E_PATH_NOT_FOUND, false
	case syscall.EACCES, syscall.EPERM, syscall.EROFS, syscall.EISDIR:
		// Windows answers a folder opened as a file with access denied.
		return hresult.E_ACCESSDENIED, false
	case syscall.ENOSPC, syscall.EDQUOT:
		return hresult.E_DISK_FULL, false
	case syscall.EFBIG:
		return hresult.BG_E_TOO_LARGE, false
	case syscall.ENAMETOOLONG, syscall.ELOOP, syscall.EINVAL:
		return hresult.E_INVALIDARG, false
	case syscall.ENOMEM:
		return hresult.E_OUTOFMEMORY, true
	case syscall.ETIMEDOUT:
		return hresult.BG_E_TIMEOUT, true
	}
	return hresult.E_FAIL, true
}
