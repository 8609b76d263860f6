package transport

import (
	"cmp"
	"context"
	"errors"
	"net"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Dial connects to addr (host:port) with d. The programs are built without
// cgo, so Go's resolver reads /etc/hosts and asks the DNS servers of
// /etc/resolv.conf, and nothing else; a host name it cannot look up is
// asked of getent(1), which asks every module of the system's name service
// as the C library would: mDNS names (nas.local through nss-mdns), the
// machine's own name through nss-myhostname, a directory's hosts.
func Dial(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	c, err := d.DialContext(ctx, network, addr)
	var dnsErr *net.DNSError
	if err == nil || runtime.GOOS != "linux" || !errors.As(err, &dnsErr) || ctx.Err() != nil {
		return c, err
	}
	host, port, serr := net.SplitHostPort(addr)
	if serr != nil || !hostName(host) {
		return nil, err
	}
	lctx, cancel := context.WithTimeout(ctx, cmp.Or(d.Timeout, lookupTimeout))
	ips := systemLookup(lctx, host, network)
	cancel()
	for _, ip := range ips {
		if c, derr := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port)); derr == nil {
			return c, nil
		}
	}
	return nil, err
}

// lookupTimeout bounds getent when the dialer has no timeout of its own:
// the system's resolver may wait on DNS servers that do not answer.
const lookupTimeout = 30 * time.Second

// systemLookup returns the addresses `getent ahosts` gives for host that
// suit network ("tcp", "tcp4" or "tcp6"), each once, in its order.
func systemLookup(ctx context.Context, host, network string) []net.IP {
	out, err := exec.CommandContext(ctx, "getent", "ahosts", "--", host).Output()
	if err != nil {
		return nil
	}
	var ips []net.IP
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || fields[1] != "STREAM" {
			continue
		}
		ip := net.ParseIP(fields[0])
		v4 := ip.To4() != nil
		if ip == nil || (network == "tcp4" && !v4) || (network == "tcp6" && v4) {
			continue
		}
		if !slices.ContainsFunc(ips, ip.Equal) {
			ips = append(ips, ip)
		}
	}
	return ips
}

// hostName reports whether s may be a host name: letters, digits, '-',
// '_' and '.', not starting with '-'. A name from a server (a redirect)
// reaches getent only in that form.
func hostName(s string) bool {
	if s == "" || s[0] == '-' || len(s) > 253 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
