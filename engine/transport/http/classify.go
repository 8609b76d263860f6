package http

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"bits/hresult"
)

// classify maps a network error to the WinHTTP code BITS would report, and
// decides whether retrying can help. Errors that already carry a code (from
// the redirect policy, the client certificate) pass through; cancellation is
// returned as context.Canceled so the caller can tell it from a failure.
//
// connected says whether the request had a connection when it failed. A
// failure before that (resolving, connecting, the proxy, the TLS handshake)
// is in the general transport context; a failure after it is the remote
// file's.
func classify(err error, connected bool) error {
	var (
		he  *hresult.Error
		dns *net.DNSError
		op  *net.OpError
	)
	where := hresult.ContextRemoteFile
	if !connected || connecting(err) {
		where = hresult.ContextGeneralTransport
	}
	fail := func(c hresult.Code, transient bool) error {
		return &hresult.Error{Code: c, Context: where, Msg: err.Error(), Transient: transient}
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
		return fail(certErrorCode(err), false)
	case isTLSAlert(err):
		return fail(alertCode(err), false)
	case errors.As(err, &dns):
		return fail(hresult.WINHTTP_NAME_NOT_RESOLVED, true)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fail(hresult.WINHTTP_CANNOT_CONNECT, true)
	case isTimeout(err):
		return fail(hresult.WINHTTP_TIMEOUT, true)
	case errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect"):
		// Unreachable host or network: the network may come back.
		return fail(hresult.WINHTTP_CANNOT_CONNECT, true)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed):
		return fail(hresult.WINHTTP_CONNECTION_ERROR, true)
	default:
		// What is left is mostly a reply net/http could not parse.
		return fail(hresult.WINHTTP_INVALID_SERVER_RESPONSE, true)
	}
}

// connecting says whether err can only happen while a connection is made,
// whatever the request trace saw.
func connecting(err error) bool {
	var (
		dns *net.DNSError
		op  *net.OpError
	)
	return errors.As(err, &dns) || (errors.As(err, &op) && (op.Op == "dial" || op.Op == "proxyconnect")) ||
		isCertError(err) || isTLSAlert(err)
}

func isCertError(err error) bool {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		revoked  *revocationError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) ||
		errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &revoked)
}

// certErrorCode names the class of a certificate failure as WinHTTP does,
// one code for each class a BG_SSL_IGNORE_* flag can waive.
func certErrorCode(err error) hresult.Code {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		revoked  *revocationError
	)
	switch {
	case errors.As(err, &revoked):
		return revoked.code
	case errors.As(err, &hostname):
		return hresult.WINHTTP_SECURE_CERT_CN_INVALID
	case errors.As(err, &unknown):
		return hresult.WINHTTP_SECURE_INVALID_CA
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return hresult.WINHTTP_SECURE_CERT_DATE_INVALID
	case errors.As(err, &invalid) && invalid.Reason == x509.IncompatibleUsage:
		return hresult.WINHTTP_SECURE_CERT_WRONG_USAGE
	}
	return hresult.WINHTTP_SECURE_FAILURE
}

// isTLSAlert reports an alert the server sent during or right after the
// TLS handshake; crypto/tls reports those as a "remote error".
func isTLSAlert(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "remote error"
}

// clientCertAlerts are the alerts a server sends when it wants a client
// certificate and got none, or none it accepts (TLS 1.3's "certificate
// required", and the older ones servers send instead).
var clientCertAlerts = []string{
	"tls: certificate required", "tls: bad certificate", "tls: unknown certificate authority",
	"tls: unsupported certificate", "tls: revoked certificate", "tls: expired certificate",
	"tls: unknown certificate",
}

// alertCode maps a server's TLS alert: one about certificates means the
// server did not accept ours (or wanted one), anything else is a TLS
// failure. crypto/tls exports no type for alerts, so the text decides.
func alertCode(err error) hresult.Code {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		for _, a := range clientCertAlerts {
			if strings.EqualFold(op.Err.Error(), a) {
				return hresult.WINHTTP_CLIENT_AUTH_CERT_NEEDED
			}
		}
	}
	return hresult.WINHTTP_SECURE_FAILURE
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
