// Package file copies local files for jobs whose remote name is a file URL
// or an absolute path (file:///srv/x, as its Entry reads them).
// It implements transport.Downloader and transport.Uploader the way BITS
// treats UNC paths: size and timestamp validate a resumed copy, and an
// upload lands in a BIT<hex>.tmp file beside the destination that is
// renamed over it only when the job commits.
//
// Every failure is an *hresult.Error in the remote file context, except
// the API's own signals (transport.ErrChanged, transport.ErrSessionLost)
// and the caller's own failures: a cancelled context is returned as
// ctx.Err(), and the errors of the writer a download copies to, or of the
// reader an upload sends from, are returned unchanged. It must not import
// the engine, storage or any front end.
package file

import (
	"path/filepath"
	"sync"

	"bits/engine/transport"
	"bits/hresult"
)

// chunkSize is how much a copy moves between checks of its context: big
// enough for few syscalls, small enough to stop within milliseconds.
const chunkSize = 1 << 20

// Transport reads and writes local files. It holds no state of its own, so
// one Transport serves any number of concurrent transfers.
type Transport struct{}

var (
	_ transport.Downloader = (*Transport)(nil)
	_ transport.Uploader   = (*Transport)(nil)
)

// New returns a Transport.
func New() *Transport { return &Transport{} }

// bufPool shares copy buffers between transfers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// localPath returns the path a file request names.
func localPath(r *transport.Request) (string, error) {
	u := r.URL
	switch {
	case u == nil || u.Scheme != "file":
		scheme := ""
		if u != nil {
			scheme = u.Scheme
		}
		return "", hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile,
			"the file transport cannot open %q URLs", scheme)
	case u.Host != "" && u.Host != "localhost":
		return "", hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile,
			"a file URL with a server name is an SMB name")
	case !filepath.IsAbs(u.Path):
		return "", hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile,
			"a file URL needs an absolute path")
	}
	return filepath.Clean(u.Path), nil
}
