package pac

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Route is one entry of a PAC file's answer: go direct, or through Proxy,
// which is scheme://host:port and nothing else, with the scheme one of
// http, https and socks5.
type Route struct {
	Direct bool
	Proxy  *url.URL
}

// keywords maps the entry types of an answer to the proxy scheme and the
// port a proxy named without one listens on. SOCKS is SOCKS 5, as
// Firefox has it (Chrome takes it for SOCKS 4); net/http hands the host
// name to a socks5 proxy, as browsers do. SOCKS4, SOCKS4A, QUIC and any
// other type are left out: the transport does not speak them.
var keywords = map[string]struct{ scheme, port string }{
	"PROXY":  {"http", "80"},
	"HTTP":   {"http", "80"},
	"HTTPS":  {"https", "443"},
	"SOCKS":  {"socks5", "1080"},
	"SOCKS5": {"socks5", "1080"},
}

// ParseResult reads a FindProxyForURL answer, such as
// "PROXY a:8080; SOCKS b:1080; DIRECT": entries separated by semicolons,
// each a type and, but for DIRECT, a host[:port] or [v6][:port]. Types
// are matched without regard to case, blanks and empty entries are
// skipped, and so are malformed entries and types the transport cannot
// use, as browsers skip them; an answer with nothing usable left is an
// error, so that a broken script does not silently mean DIRECT.
func ParseResult(s string) ([]Route, error) {
	var out []Route
	for _, entry := range strings.Split(s, ";") {
		f := strings.Fields(entry)
		if len(f) == 0 {
			continue
		}
		kw := strings.ToUpper(f[0])
		if kw == "DIRECT" {
			if len(f) == 1 {
				out = append(out, Route{Direct: true})
			}
			continue
		}
		k, ok := keywords[kw]
		if !ok || len(f) != 2 {
			continue
		}
		host, port, ok := splitHostPort(f[1], k.port)
		if !ok {
			continue
		}
		out = append(out, Route{Proxy: &url.URL{Scheme: k.scheme, Host: net.JoinHostPort(host, port)}})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the PAC file answered %q, which names no usable proxy and not DIRECT", Clip(s))
	}
	return out, nil
}

// splitHostPort reads host[:port] or [v6][:port]; port is def when
// absent, and must be a number from 1 to 65535.
func splitHostPort(s, def string) (host, port string, ok bool) {
	host, port = s, def
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return "", "", false
		}
		host, rest := s[1:end], s[end+1:]
		if net.ParseIP(host) == nil || strings.Contains(host, "%") {
			return "", "", false
		}
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", "", false
			}
			port = rest[1:]
		}
		return host, port, validPort(port)
	}
	if h, p, found := strings.Cut(s, ":"); found {
		host, port = h, p
	}
	return host, port, validHost(host) && validPort(port)
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535 && p[0] != '+'
}

// validHost accepts a DNS name or an IPv4 address: letters, digits,
// hyphens, underscores and dots, not starting with a dot.
func validHost(h string) bool {
	if h == "" || len(h) > 253 || h[0] == '.' || h[0] == '-' {
		return false
	}
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}

// Clip keeps the texts a script controls to a length fit for a log line.
func Clip(s string) string {
	const max = 200
	if len(s) > max {
		return strings.ToValidUTF8(s[:max], "") + "..."
	}
	return s
}
