package netpolicy

import (
	"errors"
	"net"
	"syscall"
)

// Unreachable reports whether the network is gone for a transfer to host
// whose connections went to peers: the system has no route to any of them,
// or, before any connection, to host's address (to the Internet at large
// when host is a name: resolving it would need the network it asks
// about). It sends nothing: connecting a UDP socket only asks the kernel
// for a route.
func Unreachable(host string, peers []net.IP) bool {
	ips := peers
	if len(ips) == 0 {
		ip := net.ParseIP(host)
		if ip == nil {
			ip = internetProbe
		}
		ips = []net.IP{ip}
	}
	for _, ip := range ips {
		if routed(ip) {
			return false
		}
	}
	return true
}

// internetProbe is an address in TEST-NET-1 (RFC 5737): only a default
// route leads there.
var internetProbe = net.IPv4(192, 0, 2, 1)

// routed says whether the kernel has a route to ip.
func routed(ip net.IP) bool {
	c, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: ip, Port: 9})
	if err == nil {
		c.Close()
		return true
	}
	return !errors.Is(err, syscall.ENETUNREACH) && !errors.Is(err, syscall.EHOSTUNREACH) &&
		!errors.Is(err, syscall.EADDRNOTAVAIL)
}
