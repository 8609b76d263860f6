package http

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"syscall"

	"bits/engine/hresult"
)

// classify maps a network error to the WinHTTP code BITS would report, and
// decides whether retrying can help. Errors that already carry a code (from
// checkRedirect) pass through; cancellation is returned as context.Canceled
// so the caller can tell it from a failure.
func classify(err error) error {
	var (
		he  *hresult.Error
		dns *net.DNSError
		op  *net.OpError
	)
	remote := func(c hresult.Code, transient bool) error {
		return &hresult.Error{Code: c, Context: hresult.ContextRemoteFile, Msg: err.Error(), Transient: transient}
	}
	switch {
	case err == nil:
		return nil
	case errors.As(err, &he):
		return he
	// Not DeadlineExceeded: net/http's header timeout also matches it, and
	// the caller checks its own context before calling classify.
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case isCertError(err):
		// A certificate will not fix itself; the security flags that could
		// waive it are the user's call.
		return remote(hresult.WINHTTP_SECURE_FAILURE, false)
	case errors.As(err, &dns):
		return remote(hresult.WINHTTP_NAME_NOT_RESOLVED, true)
	case errors.Is(err, syscall.ECONNREFUSED):
		return remote(hresult.WINHTTP_CANNOT_CONNECT, true)
	case isTimeout(err):
		return remote(hresult.WINHTTP_TIMEOUT, true)
	case errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect"):
		// Unreachable host or network: the network may come back.
		return remote(hresult.WINHTTP_CANNOT_CONNECT, true)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return remote(hresult.WINHTTP_CONNECTION_ERROR, true)
	default:
		// What is left is mostly a reply net/http could not parse.
		return remote(hresult.WINHTTP_INVALID_SERVER_RESPONSE, true)
	}
}

func isCertError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) ||
		errors.As(err, &hostname) || errors.As(err, &invalid)
}

// isTimeout looks for a timeout anywhere in the chain: a *url.Error only
// reports one its direct cause reports.
func isTimeout(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if t, ok := err.(interface{ Timeout() bool }); ok && t.Timeout() {
			return true
		}
	}
	return false
}
