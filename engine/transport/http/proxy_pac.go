package http

import (
	"bufio"
	"context"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"bits/engine/transport/http/pac"
)

// pacRecheck is how long a PAC file, and where the desktop says it is, are
// trusted before they are read again: a changed PAC file or desktop
// setting reaches the next attempt.
const pacRecheck = time.Minute

// pacRouter routes requests by a proxy auto-config file: the one the
// user's desktop names (pac.Configured), and, for AUTODETECT, failing
// that, one WPAD finds by DNS. With no script, or one that cannot be
// fetched, compiled or run, requests go direct, as browsers do.
type pacRouter struct {
	locate func() []string // where to look for the script, in order
	fetch  func(ctx context.Context, pacURL string) ([]byte, error)
	now    func() time.Time

	mu      sync.Mutex
	checked time.Time
	script  *pac.Script
}

func newPACRouter(getenv func(string) string, autodetect bool) *pacRouter {
	return &pacRouter{
		locate: func() []string {
			var where []string
			if u, _ := pac.Configured(getenv); u != "" {
				where = append(where, u)
			}
			if autodetect {
				where = append(where, wpadURLs(localDomain())...)
			}
			return where
		},
		fetch: func(ctx context.Context, pacURL string) ([]byte, error) { return pac.Fetch(ctx, nil, pacURL) },
		now:   time.Now,
	}
}

// route is u's proxies by the script, up to its first DIRECT: none when
// DIRECT comes first; after proxies, it is the way to go when they cannot
// be connected to, and what follows it is never reached.
func (p *pacRouter) route(u *url.URL) []*url.URL {
	s := p.load()
	if s == nil {
		return nil
	}
	routes, err := s.Find(context.Background(), u)
	if err != nil {
		return nil
	}
	var out []*url.URL
	for _, r := range routes {
		if r.Direct {
			if len(out) > 0 {
				out = append(out, directRoute)
			}
			break
		}
		out = append(out, r.Proxy)
	}
	return out
}

// load returns the script, read again when pacRecheck has passed; nil
// when there is none.
func (p *pacRouter) load() *pac.Script {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.checked.IsZero() && p.now().Sub(p.checked) < pacRecheck {
		return p.script
	}
	if p.script != nil {
		p.script.Close()
	}
	p.checked, p.script = p.now(), nil
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, where := range p.locate() {
		src, err := p.fetch(ctx, where)
		if err != nil {
			continue
		}
		if s, err := pac.Start(src); err == nil {
			p.script = s
			break
		}
	}
	return p.script
}

// wpadURLs are the places WPAD's DNS discovery looks, as WinHTTP does:
// http://wpad.<domain>/wpad.dat for the machine's domain and each parent
// of it with at least two labels.
func wpadURLs(domain string) []string {
	labels := strings.Split(strings.Trim(domain, "."), ".")
	var out []string
	for i := 0; len(labels)-i >= 2; i++ {
		out = append(out, "http://wpad."+strings.Join(labels[i:], ".")+"/wpad.dat")
	}
	return out
}

// localDomain is the machine's DNS domain: the first of resolv.conf's
// search list, or its domain line, or what follows the host name's first
// dot; "" when none is known.
func localDomain() string {
	if f, err := os.Open("/etc/resolv.conf"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) >= 2 && (fields[0] == "search" || fields[0] == "domain") {
				return fields[1]
			}
		}
	}
	if h, err := os.Hostname(); err == nil {
		if _, domain, ok := strings.Cut(h, "."); ok {
			return domain
		}
	}
	return ""
}
