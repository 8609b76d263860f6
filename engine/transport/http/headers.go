package http

import (
	nethttp "net/http"
	"net/textproto"
	"strings"

	"bits/hresult"
)

// ownHeaders are request headers the transport sets itself: a job's custom
// header of the same name is left out, since ranges, validators and the
// identity encoding are what make resuming safe.
var ownHeaders = map[string]bool{"Range": true, "If-Range": true, "Accept-Encoding": true}

// setCustomHeaders adds a job's "Name: value" headers to req. A custom
// header replaces the transport's default of the same name (User-Agent,
// Accept); repeated names are all sent; Host sets the request's host. A
// malformed header is a fatal E_INVALIDARG that names the header by its
// position only: custom headers often hold secrets.
func setCustomHeaders(req *nethttp.Request, lines []string) error {
	custom := nethttp.Header{}
	for i, line := range lines {
		name, value, ok := strings.Cut(line, ":")
		value = strings.Trim(value, " \t")
		isHost := strings.EqualFold(name, "Host")
		if !ok || !isToken(name) || !isFieldValue(value) || (isHost && !isHostValue(value)) {
			return hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile,
				`custom header %d of %d is not a valid "Name: value" line`, i+1, len(lines))
		}
		name = textproto.CanonicalMIMEHeaderKey(name)
		switch {
		case ownHeaders[name]:
		case isHost:
			req.Host = value
		default:
			custom.Add(name, value)
		}
	}
	for name, values := range custom {
		req.Header[name] = values
	}
	return nil
}

// isToken checks a field name against RFC 9110's token grammar.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// isFieldValue refuses control characters (CR and LF above all, which
// would split the header) but allows tabs and bytes above 0x7F.
func isFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0x7F || (c < 0x20 && c != '\t') {
			return false
		}
	}
	return true
}

// isHostValue accepts a host with an optional port, and nothing that
// would make net/http refuse the request.
func isHostValue(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t/?#@\\%")
}
