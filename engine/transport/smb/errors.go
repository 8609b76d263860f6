package smb

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/cloudsoda/go-smb2"

	"bits/hresult"
)

// NTSTATUS codes the classification looks at ([MS-ERREF] 2.3).
const (
	statusSharingViolation     = 0xC0000043
	statusQuotaExceeded        = 0xC0000044
	statusDiskFull             = 0xC000007F
	statusBadNetworkPath       = 0xC00000BE
	statusNetworkNameDeleted   = 0xC00000C9
	statusBadNetworkName       = 0xC00000CC
	statusUserSessionDeleted   = 0xC0000203
	statusNetworkSessionExpire = 0xC000035C
)

// logonError marks a failure of the session setup, shareError one of the
// tree connect, so that a refusal there is told apart from one on a file.
type logonError struct{ err error }
type shareError struct{ err error }

func (e *logonError) Error() string { return e.err.Error() }
func (e *logonError) Unwrap() error { return e.err }
func (e *shareError) Error() string { return e.err.Error() }
func (e *shareError) Unwrap() error { return e.err }

// answered reports whether the server answered cleanly about a file or a
// share, on a session that is still good.
func answered(err error) bool {
	var re *smb2.ResponseError
	switch {
	case errors.Is(err, os.ErrNotExist), errors.Is(err, os.ErrPermission), errors.Is(err, os.ErrExist):
		return true
	case errors.As(err, &re):
		switch re.Code {
		case statusNetworkNameDeleted, statusUserSessionDeleted, statusNetworkSessionExpire:
			return false
		}
		return true
	}
	return false
}

// classify names a failure that reached the server, or else one below it.
func classify(t target, err error) error {
	var (
		re    *smb2.ResponseError
		logon *logonError
		share *shareError
	)
	fatal := func(c hresult.Code, format string, args ...any) error {
		return hresult.Fatal(c, hresult.ContextRemoteFile, format, args...)
	}
	code := uint32(0)
	if errors.As(err, &re) {
		code = re.Code
	}
	switch {
	case errors.As(err, &logon) && answered(err):
		// Any answer but success to a logon is a refusal of the account.
		return fatal(hresult.E_ACCESSDENIED, "%s refused the logon of %q: wrong user name or password, or the account may not log on (%v)",
			t.host, t.cred.user, err)
	case errors.As(err, &share) && (errors.Is(err, os.ErrNotExist) || code == statusBadNetworkName || code == statusBadNetworkPath):
		return fatal(hresult.E_PATH_NOT_FOUND, `the share \\%s\%s does not exist`, t.host, t.share)
	case errors.As(err, &share) && errors.Is(err, os.ErrPermission):
		return fatal(hresult.E_ACCESSDENIED, `access to the share \\%s\%s is denied to %q`, t.host, t.share, t.cred.user)
	case errors.Is(err, os.ErrNotExist):
		return fatal(hresult.E_FILE_NOT_FOUND, "%s was not found", t)
	case errors.Is(err, os.ErrPermission):
		return fatal(hresult.E_ACCESSDENIED, "access to %s is denied to %q", t, t.cred.user)
	case code == statusDiskFull || code == statusQuotaExceeded:
		return fatal(hresult.E_DISK_FULL, "the share %s is full (%v)", t.share, err)
	case code == statusSharingViolation:
		// Another program holds the file: it may let go.
		return hresult.Transient(hresult.E_ACCESSDENIED, hresult.ContextRemoteFile, "%s is in use (%v)", t, err)
	case re != nil && answered(err):
		return hresult.Transient(hresult.E_FAIL, hresult.ContextRemoteFile, "%s: %v", t, err)
	}
	return networkError(t, err)
}

// networkError classifies a failure below SMB: all of them may pass.
func networkError(t target, err error) error {
	transient := func(c hresult.Code) error {
		return hresult.Transient(c, hresult.ContextGeneralTransport, "%s: %v", t.addr, err)
	}
	var (
		te  *smb2.TransportError
		ir  *smb2.InvalidResponseError
		dns *net.DNSError
		op  *net.OpError
	)
	cause := err
	if errors.As(err, &te) {
		cause = te.Err // TransportError does not unwrap
	}
	switch {
	case errors.As(cause, &dns):
		return transient(hresult.BG_E_NAME_RESOLUTION_FAILURE)
	case errors.Is(cause, syscall.ECONNREFUSED):
		return transient(hresult.BG_E_CONNECT_FAILURE)
	case isTimeout(cause):
		return transient(hresult.BG_E_TIMEOUT)
	case errors.As(cause, &op) && op.Op == "dial":
		return transient(hresult.BG_E_CONNECT_FAILURE)
	case te != nil, errors.Is(cause, io.EOF), errors.Is(cause, io.ErrUnexpectedEOF),
		errors.Is(cause, syscall.ECONNRESET), errors.Is(cause, syscall.EPIPE), errors.Is(cause, net.ErrClosed):
		return transient(hresult.BG_E_CONNECTION_CLOSED)
	case errors.As(err, &ir):
		return transient(hresult.BG_E_PROTOCOL_ERROR)
	}
	return hresult.Transient(hresult.E_FAIL, hresult.ContextGeneralTransport, "%s: %v", t.addr, err)
}

func isTimeout(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if t, ok := err.(interface{ Timeout() bool }); ok && t.Timeout() {
			return true
		}
	}
	return false
}
