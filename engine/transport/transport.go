// Package transport defines how the engine moves bytes: one small interface
// that each protocol (http, later smb and file) implements, and the facts a
// transport reports about a remote file. Transports know nothing of jobs,
// states or storage; they return *hresult.Error values that say whether a
// failure is worth retrying.
package transport

import (
	"context"
	"errors"
	"io"
	"net/url"
	"time"
)

// RemoteInfo is what a server says about a file before the transfer.
type RemoteInfo struct {
	Size      int64     // bytes; -1 when the server did not say
	Validator string    // strong ETag, else Last-Modified; empty when neither was sent
	ModTime   time.Time // Last-Modified, zero when not sent
	Ranges    bool      // the server advertised byte ranges (Accept-Ranges: bytes)
}

// A Downloader reads remote files.
type Downloader interface {
	// Stat asks the server for the file's size and validators.
	Stat(ctx context.Context, u *url.URL) (RemoteInfo, error)

	// Download writes the file's bytes from offset off up to end (exclusive;
	// end < 0 means the end of the file) to w and returns how many it wrote.
	// want is what Stat said when the transfer began: when the server's copy
	// no longer matches it, Download returns ErrChanged; when the server
	// cannot send the bytes from off (it ignores ranges), it returns
	// ErrNoRanges. In both cases it has written nothing, and the caller
	// restarts the file from byte 0 with a fresh Stat. It never writes more
	// than end-off bytes, nor past want.Size.
	Download(ctx context.Context, u *url.URL, off, end int64, want RemoteInfo, w io.Writer) (int64, error)
}

var (
	// ErrChanged means the remote file is not the one the transfer began on.
	ErrChanged = errors.New("the remote file changed")
	// ErrNoRanges means the server sent the whole file instead of the
	// requested range.
	ErrNoRanges = errors.New("the server ignored the byte range")
)
