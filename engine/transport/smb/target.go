package smb

import (
	"net"
	"path"
	"strconv"
	"strings"

	"bits/engine/transport"
	"bits/hresult"
)

// DefaultPort is SMB over TCP.
const DefaultPort = 445

// A target is a request's file: where the server is, the share, the path
// inside it (slash-separated, cleaned, never climbing out) and who to log
// on as.
type target struct {
	host  string
	addr  string // host:port
	share string
	file  string
	cred  credential
}

// parseTarget reads a request's smb URL and finds its credentials.
func parseTarget(r *transport.Request) (target, error) {
	u := r.URL
	if u == nil || u.Scheme != "smb" {
		return target{}, hresult.Fatal(hresult.WINHTTP_UNRECOGNIZED_SCHEME, hresult.ContextRemoteFile,
			"the SMB transport takes smb URLs only")
	}
	host, port := u.Hostname(), DefaultPort
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return target{}, hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile, "the SMB port %q is not valid", p)
		}
		port = n
	}
	// A backslash is a separator to the server: treat it as one here too,
	// so that splitShare resolves every ".." inside the share.
	v := *u
	v.Path = strings.ReplaceAll(u.Path, `\`, "/")
	share, file := splitShare(&v)
	if host == "" || share == "" || file == "" || strings.ContainsAny(share, `:*?"<>|`) {
		return target{}, hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile,
			`an SMB name needs a server, a share and a file: smb://server/share/path`)
	}
	cred, err := credentialsFor(host, &r.Settings)
	if err != nil {
		return target{}, err
	}
	return target{host: host, addr: net.JoinHostPort(host, strconv.Itoa(port)), share: share, file: file, cred: cred}, nil
}

// String names the file for messages: \\server\share\path.
func (t target) String() string {
	return `\\` + t.host + `\` + t.share + `\` + strings.ReplaceAll(t.file, "/", `\`)
}

// folder is the path of the file's folder inside the share; "" for its root.
func (t target) folder() string {
	if d := path.Dir(t.file); d != "." {
		return d
	}
	return ""
}
