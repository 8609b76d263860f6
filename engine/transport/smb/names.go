package smb

import (
	"fmt"
	"net/url"
	"path"
	"strings"

	"bits/engine/transport"
)

// Entry describes the transport to a transport.Registry: it serves smb
// URLs both ways, and reads UNC paths and file URLs that name a server.
func (tr *Transport) Entry() transport.Entry {
	return transport.Entry{
		Schemes:    []string{"smb"},
		Paths:      "a UNC path",
		Parse:      parseName,
		Downloader: tr,
		Uploader:   tr,
		Caps:       transport.Caps{Network: true},
	}
}

// parseName reads the names of SMB files:
//
//	smb://server[:port]/share/path        as given
//	\\server\share\path, //server/share/path   smb://server/share/path
//	file://server/share/path              smb://server/share/path
func parseName(name string, u *url.URL) (*url.URL, error) {
	switch {
	case u == nil && strings.HasPrefix(name, `\\`):
		return uncURL(strings.ReplaceAll(name[2:], `\`, "/"))
	case u == nil && strings.HasPrefix(name, "//"):
		return uncURL(name[2:])
	case u == nil:
		return nil, nil
	case u.Scheme == "smb":
		return checkShare(u)
	case u.Scheme == "file" && u.Host != "" && !strings.EqualFold(u.Host, "localhost"):
		return checkShare(u)
	}
	return nil, nil
}

func uncURL(rest string) (*url.URL, error) {
	host, p, _ := strings.Cut(rest, "/")
	if strings.Contains(host, "@") {
		return nil, transport.ErrCredentialsInName
	}
	return checkShare(&url.URL{Scheme: "smb", Host: host, Path: "/" + p})
}

// checkShare requires a server, a share and a file below it, and returns
// the smb URL of u's server and path.
func checkShare(u *url.URL) (*url.URL, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("the SMB name has no server")
	}
	share, file := splitShare(u)
	if share == "" || file == "" {
		return nil, fmt.Errorf(`an SMB name needs a share and a file: \\server\share\path`)
	}
	return &url.URL{Scheme: "smb", Host: u.Host, Path: "/" + share + "/" + file}, nil
}

// splitShare returns the share and the path inside it of an smb URL, with
// "." and ".." resolved inside the share (they cannot climb out of it).
func splitShare(u *url.URL) (share, file string) {
	p := strings.TrimPrefix(u.Path, "/")
	share, file, _ = strings.Cut(p, "/")
	file = strings.TrimPrefix(path.Clean("/"+file), "/")
	return share, file
}
