package file

import (
	"fmt"
	"net/url"
	"path"
	"strings"

	"bits/engine/transport"
)

// Entry describes the transport to a transport.Registry: it serves file
// URLs both ways and reads absolute paths, without a network.
func (t *Transport) Entry() transport.Entry {
	return transport.Entry{
		Schemes:    []string{"file"},
		Paths:      "an absolute path",
		Parse:      parseName,
		Downloader: t,
		Uploader:   t,
	}
}

// parseName reads the names of local files, /path and file:///path (or
// file://localhost/path), as file:///path. A file URL that names another
// server is an SMB name, which the smb transport reads.
func parseName(name string, u *url.URL) (*url.URL, error) {
	switch {
	case u == nil && strings.HasPrefix(name, "/") && !strings.HasPrefix(name, "//"):
		return &url.URL{Scheme: "file", Path: path.Clean(name)}, nil
	case u == nil || u.Scheme != "file" || (u.Host != "" && !strings.EqualFold(u.Host, "localhost")):
		return nil, nil
	case !strings.HasPrefix(u.Path, "/"):
		return nil, fmt.Errorf("a file URL needs an absolute path")
	}
	return &url.URL{Scheme: "file", Path: path.Clean(u.Path)}, nil
}
