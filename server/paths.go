package server

import (
	"bits/hresult"
	"net/http"
	"strings"
)

const (
	// stateDirName is the folder, in each upload folder, that holds the
	// sessions in progress. No request may name it.
	stateDirName = ".bits-sessions"
	// replyDirName starts the URL path of replies under a virtual
	// directory, as IIS's BITS-Sessions/Replies does.
	replyDirName = "BITS-Sessions"
	// maxPathLen bounds an upload URL's path, maxElementLen each part.
	maxPathLen    = 2048
	maxElementLen = 255
)

// reservedElement reports whether a path element is one the server keeps
// for itself: no upload may be stored under it.
func reservedElement(el string) bool {
	return strings.EqualFold(el, stateDirName) || strings.EqualFold(el, replyDirName)
}

// hasPrivateElement reports whether a path names the state folder
// anywhere, whatever the case.
func hasPrivateElement(p string) bool {
	for _, el := range strings.Split(p, "/") {
		if strings.EqualFold(el, stateDirName) {
			return true
		}
	}
	return false
}

// uploadTarget finds the virtual directory of a BITS_POST and the name of
// the file in its folder. It refuses, with 400, anything that could mean a
// different file than it seems: "..", ".", empty parts, NUL and other
// control characters, backslashes and encoded separators.
func (s *Server) uploadTarget(r *http.Request) (*vdir, string, *refusal) {
	escaped := strings.ToLower(r.URL.EscapedPath())
	for _, enc := range []string{"%2f", "%5c", "%00"} {
		if strings.Contains(escaped, enc) {
			return nil, "", badPacket("encoded separator or NUL in the path")
		}
	}
	p := r.URL.Path
	if len(p) > maxPathLen || !strings.HasPrefix(p, "/") {
		return nil, "", badPacket("path too long or not absolute")
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; c < 0x20 || c == 0x7f || c == '\\' {
			return nil, "", badPacket("control character or backslash in the path")
		}
	}
	if p != "/" {
		for _, el := range strings.Split(p[1:], "/") {
			if el == "" || el == "." || el == ".." || len(el) > maxElementLen {
				return nil, "", badPacket("path is not canonical")
			}
		}
	}
	vd, rel := s.matchVdir(p)
	if vd == nil {
		return nil, "", refuse(http.StatusNotImplemented, hresult.E_ACCESSDENIED, "no upload folder for "+p)
	}
	if rel == "" {
		return nil, "", badPacket("the URL is the virtual directory itself")
	}
	for _, el := range strings.Split(rel, "/") {
		if reservedElement(el) {
			return nil, "", refuse(http.StatusForbidden, hresult.E_ACCESSDENIED, "reserved name "+el)
		}
	}
	return vd, rel, nil
}

// matchVdir returns the virtual directory with the longest prefix that
// holds p, and the rest of p below it without its leading slash.
func (s *Server) matchVdir(p string) (*vdir, string) {
	var best *vdir
	var rest string
	for _, vd := range s.vdirs {
		var rel string
		switch {
		case vd.Prefix == "/":
			rel = strings.TrimPrefix(p, "/")
		case p == vd.Prefix:
			rel = ""
		case strings.HasPrefix(p, vd.Prefix+"/"):
			rel = p[len(vd.Prefix)+1:]
		default:
			continue
		}
		if best == nil || len(vd.Prefix) > len(best.Prefix) {
			best, rest = vd, rel
		}
	}
	return best, rest
}

// replyTarget recognises the URL of a reply,
// <prefix>/BITS-Sessions/Replies/<session>/response, and returns its
// virtual directory and session id.
func (s *Server) replyTarget(p string) (*vdir, string, bool) {
	vd, rel := s.matchVdir(p)
	if vd == nil {
		return nil, "", false
	}
	parts := strings.Split(rel, "/")
	if len(parts) != 4 || !strings.EqualFold(parts[0], replyDirName) || !strings.EqualFold(parts[1], "Replies") || parts[3] != replyFileName {
		return nil, "", false
	}
	id, ok := parseSessionID(parts[2])
	if !ok {
		return nil, "", false
	}
	return vd, id, true
}
