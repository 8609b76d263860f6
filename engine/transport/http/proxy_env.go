package http

import (
	"errors"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// envProxies are the proxies the environment names, read the way curl
// reads them (see docs/transports.md):
//
//   - http_proxy or HTTP_PROXY for http URLs, https_proxy or HTTPS_PROXY for
//     https URLs, all_proxy or ALL_PROXY for either when its own is unset;
//     the lower-case name wins.
//   - A value is [scheme://][user:password@]host[:port]; the scheme is http
//     when absent (https, socks5 and socks5h are known too) and the port
//     1080, as curl has it (443 for an https proxy).
//   - no_proxy or NO_PROXY lists what goes direct (noProxyRule).
//
// Unlike Go's http.ProxyFromEnvironment, loopback addresses and localhost
// are proxied like any other host unless no_proxy names them.
type envProxies struct {
	http, https *url.URL
	noProxy     []noProxyRule
}

// environmentProxies reads the variables through getenv; nil means no
// proxy is set.
func environmentProxies(getenv func(string) string) (*envProxies, error) {
	first := func(names ...string) (string, string) {
		for _, n := range names {
			if v := strings.TrimSpace(getenv(n)); v != "" {
				return n, v
			}
		}
		return "", ""
	}
	e := &envProxies{}
	for _, v := range []struct {
		dst   **url.URL
		names []string
	}{
		{&e.http, []string{"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"}},
		{&e.https, []string{"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}},
	} {
		name, value := first(v.names...)
		if value == "" {
			continue
		}
		u, err := parseEnvProxy(value)
		if err != nil {
			// The value may hold a password: name the variable only.
			return nil, invalidProxy("the environment variable %s is not a proxy URL", name)
		}
		*v.dst = u
	}
	if e.http == nil && e.https == nil {
		return nil, nil
	}
	_, list := first("no_proxy", "NO_PROXY")
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			e.noProxy = append(e.noProxy, parseNoProxy(s))
		}
	}
	return e, nil
}

func parseEnvProxy(v string) (*url.URL, error) {
	if !strings.Contains(v, "://") {
		v = "http://" + v
	}
	u, err := url.Parse(v)
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.ToLower(u.Scheme)
	def, ok := map[string]string{"http": "1080", "https": "443", "socks5": "1080", "socks5h": "1080"}[u.Scheme]
	if !ok || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, errBadProxyURL
	}
	port := u.Port()
	if port == "" {
		port = def
	}
	return &url.URL{Scheme: u.Scheme, User: u.User, Host: net.JoinHostPort(u.Hostname(), port)}, nil
}

var errBadProxyURL = errors.New("not a proxy URL")

func (e *envProxies) route(u *url.URL) []*url.URL {
	proxy := e.http
	if u.Scheme == "https" {
		proxy = e.https
	}
	if proxy == nil {
		return nil
	}
	for _, r := range e.noProxy {
		if r.matches(u) {
			return nil
		}
	}
	return []*url.URL{proxy}
}

// noProxyRule is one entry of no_proxy, which curl matches as follows:
//
//   - "*" alone matches every host;
//   - a host name matches itself and every name below it: "example.com"
//     and ".example.com" both match example.com and www.example.com, not
//     notexample.com;
//   - an IP address matches that address only, and a CIDR block
//     (192.168.0.0/16, fd00::/8) the addresses inside it; names never
//     match addresses, nor addresses names (no DNS look-up);
//   - beyond curl, as Go has it, host:port or [v6]:port matches that port
//     only.
//
// Comparisons ignore case and a trailing dot.
type noProxyRule struct {
	all    bool
	name   string       // a host name, without its leading dot
	prefix netip.Prefix // an address (a /32 or /128) or a block
	port   string       // "" matches any
}

func parseNoProxy(s string) noProxyRule {
	if s == "*" {
		return noProxyRule{all: true}
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		return noProxyRule{prefix: p.Masked()}
	}
	host, port := s, ""
	if h, p, ok := splitServer(s, ""); ok {
		host, port = h, p
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return noProxyRule{prefix: netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), port: port}
	}
	host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "."), "."))
	return noProxyRule{name: host, port: port}
}

func (r noProxyRule) matches(u *url.URL) bool {
	if r.all {
		return true
	}
	if r.port != "" && r.port != urlPort(u) {
		return false
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if a, err := netip.ParseAddr(host); err == nil {
		return r.prefix.IsValid() && r.prefix.Contains(a.Unmap())
	}
	return r.name != "" && (host == r.name || strings.HasSuffix(host, "."+r.name))
}
