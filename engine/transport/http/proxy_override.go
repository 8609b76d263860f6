package http

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// overrideProxies is a job's OVERRIDE proxy list and bypass list.
type overrideProxies struct {
	proxies []proxyEntry
	bypass  []bypassRule
}

// proxyEntry is one proxy of the list and the request scheme it serves.
type proxyEntry struct {
	serves string   // "http", "https", or "" for both
	url    *url.URL // scheme://host:port, nothing else
}

// bypassRule is one entry of the bypass list.
type bypassRule struct {
	local  bool   // <local>: a name without a dot
	scheme string // "" matches both
	host   string // lower case, '*' matches any run of characters
	port   string // "" matches any
}

// parseOverride reads BITS' lists. Entries are separated by spaces (and,
// as bitsadmin and WinHTTP also accept, by commas or semicolons).
func parseOverride(list, bypass string) (*overrideProxies, error) {
	o := &overrideProxies{}
	for _, s := range splitProxyList(list) {
		e, err := parseProxyEntry(s)
		if err != nil {
			return nil, err
		}
		o.proxies = append(o.proxies, e)
	}
	if len(o.proxies) == 0 {
		return nil, invalidProxy("the proxy usage is OVERRIDE but the proxy list is empty")
	}
	for _, s := range splitProxyList(bypass) {
		r, err := parseBypass(s)
		if err != nil {
			return nil, err
		}
		o.bypass = append(o.bypass, r)
	}
	return o, nil
}

// route returns the proxies that serve u's scheme, in list order; none
// when u bypasses them or when no entry serves its scheme.
func (o *overrideProxies) route(u *url.URL) []*url.URL {
	for _, r := range o.bypass {
		if r.matches(u) {
			return nil
		}
	}
	var out []*url.URL
	for _, e := range o.proxies {
		if e.serves == "" || e.serves == u.Scheme {
			out = append(out, e.url)
		}
	}
	return out
}

func splitProxyList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == ',' || r == ';'
	})
}

// parseProxyEntry reads [<scheme>=][<scheme>://]<server>[:<port>].
func parseProxyEntry(s string) (proxyEntry, error) {
	var e proxyEntry
	rest := s
	if sel, after, ok := strings.Cut(rest, "="); ok {
		e.serves = strings.ToLower(sel)
		if e.serves != "http" && e.serves != "https" {
			return e, invalidProxy("the proxy entry %q is for %q requests; only http= and https= are known", quoteSafe(s), sel)
		}
		rest = after
	}
	scheme := "http"
	if sch, after, ok := strings.Cut(rest, "://"); ok {
		scheme = strings.ToLower(sch)
		rest = after
	}
	if _, ok := proxyDefaultPort[scheme]; !ok {
		return e, invalidProxy("the proxy entry %q uses the protocol %q; http, https, socks5 and socks5h are known", quoteSafe(s), scheme)
	}
	rest = strings.TrimSuffix(rest, "/")
	if strings.ContainsAny(rest, "@/?#%") {
		// User names belong in the job's credentials, not in a list that
		// bitsadmin shows; paths mean nothing to a proxy.
		return e, invalidProxy("the proxy entry %q must be only a server and a port", quoteSafe(s))
	}
	host, port, ok := splitServer(rest, proxyDefaultPort[scheme])
	if !ok || !validHost(host) {
		return e, invalidProxy("the proxy entry %q does not name a server and a port", quoteSafe(s))
	}
	e.url = &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}
	return e, nil
}

// proxyDefaultPort is the port of a proxy named without one, as WinHTTP
// has it for http, and as curl has it for the others.
var proxyDefaultPort = map[string]string{"http": "80", "https": "443", "socks5": "1080", "socks5h": "1080"}

// parseBypass reads <local> or [<scheme>://]<host pattern>[:<port>].
func parseBypass(s string) (bypassRule, error) {
	if strings.EqualFold(s, "<local>") {
		return bypassRule{local: true}, nil
	}
	var r bypassRule
	rest := s
	if sch, after, ok := strings.Cut(rest, "://"); ok {
		r.scheme = strings.ToLower(sch)
		if r.scheme != "http" && r.scheme != "https" {
			return r, invalidProxy("the bypass entry %q names the scheme %q; only http and https are known", quoteSafe(s), sch)
		}
		rest = after
	}
	rest = strings.TrimSuffix(rest, "/")
	host, port, ok := splitServer(rest, "")
	if !ok || strings.ContainsAny(host, "@/?#%") || !validHost(strings.ReplaceAll(host, "*", "x")) {
		return r, invalidProxy("the bypass entry %q is not a host name pattern", quoteSafe(s))
	}
	r.host, r.port = strings.ToLower(strings.TrimSuffix(host, ".")), port
	return r, nil
}

// matches reports whether u should not go through the proxies. <local>
// matches a name without a dot; IP addresses are never <local>, not even
// loopback ones: list them (127.0.0.1, [::1], 127.*) to bypass them.
func (r bypassRule) matches(u *url.URL) bool {
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if r.local {
		return !strings.Contains(host, ".") && net.ParseIP(host) == nil
	}
	if r.scheme != "" && r.scheme != u.Scheme {
		return false
	}
	if r.port != "" && r.port != urlPort(u) {
		return false
	}
	return wildcardMatch(r.host, host)
}

// urlPort returns u's port, or its scheme's default.
func urlPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// wildcardMatch matches s against pattern, where '*' stands for any run of
// characters, dots included.
func wildcardMatch(pattern, s string) bool {
	star, restart := -1, 0 // the last '*' seen, and where s resumes after it
	p, i := 0, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, restart = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			restart++
			p, i = star+1, restart
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// splitServer splits host[:port] or [v6][:port]; port is def when absent.
// A port must be a number from 1 to 65535.
func splitServer(s, def string) (host, port string, ok bool) {
	switch {
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		host, port = s[1:len(s)-1], def
		if net.ParseIP(host) == nil {
			return "", "", false
		}
	case strings.Count(s, ":") > 1 && !strings.HasPrefix(s, "["):
		return "", "", false // an IPv6 address needs brackets
	case strings.Contains(s, ":"):
		var err error
		if host, port, err = net.SplitHostPort(s); err != nil {
			return "", "", false
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || strings.TrimLeft(port, "0123456789") != "" {
			return "", "", false
		}
	default:
		host, port = s, def
	}
	return host, port, host != ""
}

// validHost accepts host names (letters, digits, '-', '_' and dots) and IP
// addresses.
func validHost(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || strings.HasPrefix(h, ".") || strings.Contains(h, "..") {
		return false
	}
	for _, c := range h {
		ok := c == '-' || c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !ok {
			return false
		}
	}
	return true
}

// quoteSafe keeps anything that looks like a password out of messages.
func quoteSafe(s string) string {
	if at := strings.LastIndex(s, "@"); at >= 0 {
		return "…" + s[at:]
	}
	return s
}
