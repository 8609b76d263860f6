// Package transporttest is the conformance suite that every transport
// passes against a real server: RunDownloader for its transport.Entry's
// Downloader, RunUploader for its Uploader. A transport's own test
// supplies a Server that stores files where its transport reaches them (a
// folder, an SMB share, an HTTP origin) and runs the suite against it.
// Besides moving bytes, the suite checks that the transport uses what the
// engine passes in a request's context: the connection observer and the
// uploads' pacer.
//
// The suite checks only what the transport API promises, so that it holds
// for every protocol; each transport pins its exact codes in its own tests.
// Only tests import this package.
package transporttest

import (
	"testing"

	"bits/engine/transport"
	"bits/hresult"
)

// A Server is the real server a transport is tested against, with the
// controls the suite needs. Names are plain file names such as "full.bin";
// the server decides where they live. Methods report their own failures
// with t.Fatal. The suite runs its cases one after another, each with its
// own names, and calls the Server only from the test goroutine.
type Server interface {
	// Put stores content under name, replacing any earlier file, and
	// returns a request naming it.
	Put(t testing.TB, name string, content []byte) *transport.Request

	// Request returns a request naming name, which need not exist: a
	// missing file, or an upload's destination.
	Request(t testing.TB, name string) *transport.Request

	// Deny takes away the transport's right to read name and to create or
	// replace it, the way the server's own permissions would (a mode, an
	// ACL, a 403), keeping its content.
	Deny(t testing.TB, name string)

	// Change replaces name's content. The server makes sure the file's
	// validator changes even when the size does not (a new modification
	// time, a new ETag), as it would for an edited file.
	Change(t testing.TB, name string, content []byte)

	// CutNext arranges for the connection that carries the transport's
	// next transfer of name to break after about n bytes of the file have
	// crossed it, and returns true. A cut armed before the transfer is
	// deterministic, where cutting one in flight is not: loopback socket
	// buffers can hold a whole test file. A server whose transport has no
	// connection to break (local files) returns false, and the suite then
	// checks that the transfer simply completes.
	CutNext(t testing.TB, name string, n int64) bool
}

// An UploadServer is a Server that can also show what uploads left on it.
type UploadServer interface {
	Server

	// Read returns the content stored under name, or an error matching
	// fs.ErrNotExist when there is no file of that name.
	Read(t testing.TB, name string) ([]byte, error)

	// Leftovers lists what the server holds of unfinished uploads to name
	// (temporary files, session folders): empty once a session is
	// committed or cancelled.
	Leftovers(t testing.TB, name string) []string
}

// missingCodes are the codes a transport may give for a file that does not
// exist: Win32's file and path not found (file, SMB), BITS' own, and HTTP
// 404 and 410. Every one of them is fatal.
var missingCodes = []hresult.Code{
	hresult.E_FILE_NOT_FOUND, hresult.E_PATH_NOT_FOUND, hresult.BG_E_FILE_NOT_FOUND,
	hresult.HTTP(404), hresult.HTTP(410),
}

// deniedCodes are the codes a transport may give for a file it may not
// read or write: E_ACCESSDENIED (file, SMB) and HTTP 401 and 403.
var deniedCodes = []hresult.Code{
	hresult.E_ACCESSDENIED, hresult.HTTP(401), hresult.HTTP(403),
}
