package transport

import (
	"fmt"
	"net/url"
	"path"
	"strings"
)

// ParseRemote reads a remote name in any form a job accepts and returns it
// as a URL:
//
//	http://host/path, https://host/path   as given
//	smb://server[:port]/share/path        as given
//	\\server\share\path, //server/share/path   smb://server/share/path
//	file:///path, /path                   file:///path (a local file)
//	file://server/share/path              smb://server/share/path
//
// It refuses names that carry a user name or password, since remote names
// are shown and logged: those belong in the job's credentials. Errors
// never quote the name, for the same reason.
func ParseRemote(name string) (*url.URL, error) {
	if strings.ContainsRune(name, 0) {
		return nil, fmt.Errorf("the remote name contains a NUL character")
	}
	switch {
	case strings.HasPrefix(name, `\\`):
		return uncURL(strings.ReplaceAll(name[2:], `\`, "/"))
	case strings.HasPrefix(name, "//"):
		return uncURL(name[2:])
	case strings.HasPrefix(name, "/"):
		return &url.URL{Scheme: "file", Path: path.Clean(name)}, nil
	}
	u, err := url.Parse(name)
	if err != nil || u.Opaque != "" {
		return nil, fmt.Errorf("the remote name is not a URL, a UNC path or an absolute path")
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.User != nil {
		return nil, fmt.Errorf("a remote name may not carry a user name or password: use the job's credentials")
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return nil, fmt.Errorf("the URL has no host")
		}
		return u, nil
	case "smb":
		return checkShare(u)
	case "file":
		if u.Host != "" && !strings.EqualFold(u.Host, "localhost") {
			u.Scheme = "smb"
			return checkShare(u)
		}
		if !strings.HasPrefix(u.Path, "/") {
			return nil, fmt.Errorf("a file URL needs an absolute path")
		}
		return &url.URL{Scheme: "file", Path: path.Clean(u.Path)}, nil
	}
	return nil, fmt.Errorf("the remote name is not an http, https, smb or file URL, a UNC path or an absolute path")
}

func uncURL(rest string) (*url.URL, error) {
	host, p, _ := strings.Cut(rest, "/")
	if strings.Contains(host, "@") {
		return nil, fmt.Errorf("a remote name may not carry a user name or password: use the job's credentials")
	}
	return checkShare(&url.URL{Scheme: "smb", Host: host, Path: "/" + p})
}

// checkShare requires a server, a share and a file below it.
func checkShare(u *url.URL) (*url.URL, error) {
	if u.Host == "" {
		return nil, fmt.Errorf("the SMB name has no server")
	}
	share, file := SplitShare(u)
	if share == "" || file == "" {
		return nil, fmt.Errorf(`an SMB name needs a share and a file: \\server\share\path`)
	}
	return &url.URL{Scheme: "smb", Host: u.Host, Path: "/" + share + "/" + file}, nil
}

// SplitShare returns the share and the path inside it of an smb URL, with
// "." and ".." resolved inside the share (they cannot climb out of it).
func SplitShare(u *url.URL) (share, file string) {
	p := strings.TrimPrefix(u.Path, "/")
	share, file, _ = strings.Cut(p, "/")
	file = strings.TrimPrefix(path.Clean("/"+file), "/")
	return share, file
}
