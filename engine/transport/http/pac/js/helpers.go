package js

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// helpersProgram defines the helper functions that need neither the
// network nor the clock, in JavaScript, with the semantics of Mozilla's
// ascii_pac_utils.js: case-sensitive name comparisons, and isInNet
// resolving a name through dnsResolve.
var helpersProgram = goja.MustCompile("pac-helpers.js", `
function isPlainHostName(host) {
	return String(host).search(/[.:]/) == -1;
}
function dnsDomainIs(host, domain) {
	host = String(host); domain = String(domain);
	return host.length >= domain.length &&
		host.substring(host.length - domain.length) == domain;
}
function localHostOrDomainIs(host, hostdom) {
	host = String(host); hostdom = String(hostdom);
	return host == hostdom || hostdom.lastIndexOf(host + '.', 0) == 0;
}
function dnsDomainLevels(host) {
	return String(host).split('.').length - 1;
}
function isValidIpAddress(s) {
	var m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
	return m != null && m[1] <= 255 && m[2] <= 255 && m[3] <= 255 && m[4] <= 255;
}
function convert_addr(ipchars) {
	var b = String(ipchars).split('.');
	return ((b[0] & 0xff) << 24) | ((b[1] & 0xff) << 16) | ((b[2] & 0xff) << 8) | (b[3] & 0xff);
}
function isInNet(ipaddr, pattern, maskstr) {
	if (!isValidIpAddress(pattern) || !isValidIpAddress(maskstr)) {
		return false;
	}
	if (!isValidIpAddress(ipaddr)) {
		ipaddr = dnsResolve(ipaddr);
		if (ipaddr == null) {
			return false;
		}
	}
	var mask = convert_addr(maskstr);
	return (convert_addr(ipaddr) & mask) == (convert_addr(pattern) & mask);
}
function isResolvable(host) {
	return dnsResolve(host) != null;
}
function isResolvableEx(host) {
	return dnsResolveEx(host) != "";
}
`, false)

// register defines the helpers written in Go: those that look up names,
// read the clock or the machine's addresses, and shExpMatch, whose
// pattern Mozilla turns into a regular expression with only the dots
// escaped (so that "a+b" or "(x)" mean something else than they say).
func (s *Script) register(rt *runtime) error {
	vm := rt.vm
	arg := func(c goja.FunctionCall, i int) (string, bool) {
		v := c.Argument(i)
		if goja.IsUndefined(v) || goja.IsNull(v) {
			return "", false
		}
		return v.String(), true
	}
	fns := map[string]func(goja.FunctionCall) goja.Value{
		"alert": func(goja.FunctionCall) goja.Value { return goja.Undefined() },
		"getClientVersion": func(goja.FunctionCall) goja.Value {
			return vm.ToValue("1.0")
		},
		"dnsResolve": func(c goja.FunctionCall) goja.Value {
			host, ok := arg(c, 0)
			if !ok {
				return goja.Null()
			}
			for _, a := range s.lookup(rt, "ip4", host) {
				if a.Is4() {
					return vm.ToValue(a.String())
				}
			}
			return goja.Null()
		},
		"dnsResolveEx": func(c goja.FunctionCall) goja.Value {
			host, ok := arg(c, 0)
			if !ok {
				return vm.ToValue("")
			}
			return vm.ToValue(joinAddrs(s.lookup(rt, "ip", host)))
		},
		"myIpAddress": func(goja.FunctionCall) goja.Value {
			return vm.ToValue(s.env.myIP().String())
		},
		"myIpAddressEx": func(goja.FunctionCall) goja.Value {
			addrs := s.env.myIPs()
			if len(addrs) == 0 {
				addrs = []netip.Addr{s.env.myIP()}
			}
			return vm.ToValue(joinAddrs(addrs))
		},
		"isInNetEx": func(c goja.FunctionCall) goja.Value {
			host, ok1 := arg(c, 0)
			prefix, ok2 := arg(c, 1)
			if !ok1 || !ok2 {
				return vm.ToValue(false)
			}
			p, err := netip.ParsePrefix(strings.TrimSpace(prefix))
			if err != nil {
				return vm.ToValue(false)
			}
			p = p.Masked()
			for _, a := range s.lookup(rt, "ip", host) {
				if p.Addr().Is4() {
					a = a.Unmap()
				}
				if p.Contains(a) {
					return vm.ToValue(true)
				}
			}
			return vm.ToValue(false)
		},
		"sortIpAddressList": func(c goja.FunctionCall) goja.Value {
			list, _ := arg(c, 0)
			if sorted, ok := sortIPList(list); ok {
				return vm.ToValue(sorted)
			}
			return vm.ToValue(false)
		},
		"shExpMatch": func(c goja.FunctionCall) goja.Value {
			str, ok1 := arg(c, 0)
			pattern, ok2 := arg(c, 1)
			return vm.ToValue(ok1 && ok2 && shExpMatch(str, pattern))
		},
		"weekdayRange": func(c goja.FunctionCall) goja.Value {
			return vm.ToValue(weekdayRange(s.clock(c.Arguments)))
		},
		"dateRange": func(c goja.FunctionCall) goja.Value {
			return vm.ToValue(dateRange(s.clock(c.Arguments)))
		},
		"timeRange": func(c goja.FunctionCall) goja.Value {
			return vm.ToValue(timeRange(s.clock(c.Arguments)))
		},
	}
	for name, f := range fns {
		if err := vm.Set(name, f); err != nil {
			return err
		}
	}
	return nil
}

// lookup returns host's addresses: host itself when it is an address
// literal (brackets allowed), none when the look-up fails or the call's
// time is up. network is "ip4" or "ip".
func (s *Script) lookup(rt *runtime, network, host string) []netip.Addr {
	host = strings.TrimSpace(host)
	if a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")); err == nil {
		return []netip.Addr{a.Unmap().WithZone("")}
	}
	if host == "" || rt.ctx == nil {
		return nil
	}
	addrs, err := s.env.resolver.LookupNetIP(rt.ctx, network, host)
	if err != nil {
		return nil
	}
	for i, a := range addrs {
		addrs[i] = a.Unmap().WithZone("")
	}
	return addrs
}

func joinAddrs(addrs []netip.Addr) string {
	s := make([]string, len(addrs))
	for i, a := range addrs {
		s[i] = a.String()
	}
	return strings.Join(s, ";")
}

// sortIPList sorts a semicolon-separated list of addresses, IPv6 ones
// first, each family in ascending order, as Chrome does; false when the
// list is empty or holds something else than an address.
func sortIPList(list string) (string, bool) {
	var addrs []netip.Addr
	for _, f := range strings.Split(list, ";") {
		a, err := netip.ParseAddr(strings.TrimSpace(f))
		if err != nil {
			return "", false
		}
		addrs = append(addrs, a)
	}
	slices.SortStableFunc(addrs, func(a, b netip.Addr) int {
		if a.Is6() != b.Is6() {
			if a.Is6() {
				return -1
			}
			return 1
		}
		return a.Compare(b)
	})
	return joinAddrs(addrs), true
}

// shExpMatch matches s against a shell pattern where '*' stands for any
// run of characters and '?' for one character; everything else, dots
// and brackets included, stands for itself.
func shExpMatch(s, pattern string) bool {
	str, pat := []rune(s), []rune(pattern)
	star, restart := -1, 0
	p, i := 0, 0
	for i < len(str) {
		switch {
		case p < len(pat) && pat[p] == '*':
			star, restart = p, i
			p++
		case p < len(pat) && (pat[p] == '?' || pat[p] == str[i]):
			p++
			i++
		case star >= 0:
			restart++
			p, i = star+1, restart
		default:
			return false
		}
	}
	for p < len(pat) && pat[p] == '*' {
		p++
	}
	return p == len(pat)
}

// clock returns the time the date helpers compare with, in local time or,
// when the last argument is "GMT", in UTC, and the arguments before it.
func (s *Script) clock(args []goja.Value) (time.Time, []goja.Value) {
	now := s.env.now()
	if n := len(args); n > 0 && strings.EqualFold(args[n-1].String(), "GMT") {
		return now.UTC(), args[:n-1]
	}
	return now.In(s.env.local), args
}

var weekdays = map[string]int{"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

var months = map[string]int{
	"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
	"JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12,
}

// inRange reports whether lo <= v <= hi, or, when lo > hi, whether v lies
// in the range that wraps around (FRI to MON, DEC to JAN, 22 to 6 hours).
func inRange(v, lo, hi int) bool {
	if lo <= hi {
		return lo <= v && v <= hi
	}
	return v >= lo || v <= hi
}

// weekdayRange(wd1[, wd2][, "GMT"]): today is wd1, or between wd1 and wd2.
func weekdayRange(now time.Time, args []goja.Value) bool {
	if len(args) < 1 || len(args) > 2 {
		return false
	}
	lo, ok1 := weekdays[strings.ToUpper(args[0].String())]
	hi, ok2 := lo, true
	if len(args) == 2 {
		hi, ok2 = weekdays[strings.ToUpper(args[1].String())]
	}
	return ok1 && ok2 && inRange(int(now.Weekday()), lo, hi)
}

// dateField is one argument of dateRange: a day of the month (1 to 31),
// a month name, or a year (32 and above).
type dateField struct {
	kind  int // fieldYear, fieldMonth or fieldDay: its weight in a key
	value int
}

const (
	fieldDay   = 1
	fieldMonth = 100
	fieldYear  = 10000
)

func parseDateField(v goja.Value) (dateField, bool) {
	s := strings.TrimSpace(v.String())
	if m, ok := months[strings.ToUpper(s)]; ok {
		return dateField{fieldMonth, m}, true
	}
	n, err := strconv.Atoi(s)
	switch {
	case err != nil || n < 1:
		return dateField{}, false
	case n < 32:
		return dateField{fieldDay, n}, true
	default:
		return dateField{fieldYear, n}, true
	}
}

// dateRange(date[, "GMT"]) or dateRange(start, end[, "GMT"]): a date is
// one to three of a day, a month and a year, in that order, and a range
// gives the same kinds at both ends. Today must match every field of a
// date, or lie between the start and the end, both included; a range of
// days or months may wrap around (25 to 5, DEC to JAN). Mozilla's
// implementation takes dateRange(24, "DEC") for a range from the 24th
// of January; this one, as the Netscape specification has it, for
// Christmas Eve. It compares the fields given and no others, so that
// dateRange("JAN", "FEB") holds on the 29th of February.
func dateRange(now time.Time, args []goja.Value) bool {
	n := len(args)
	if n < 1 || n > 6 {
		return false
	}
	fields := make([]dateField, n)
	for i, a := range args {
		f, ok := parseDateField(a)
		if !ok {
			return false
		}
		fields[i] = f
	}
	current := map[int]int{fieldYear: now.Year(), fieldMonth: int(now.Month()), fieldDay: now.Day()}
	if distinctKinds(fields) {
		for _, f := range fields {
			if current[f.kind] != f.value {
				return false
			}
		}
		return true
	}
	start, end := fields[:n/2], fields[n/2:]
	if n%2 != 0 || !distinctKinds(start) {
		return false
	}
	var lo, hi, v int
	for i := range start {
		k := start[i].kind
		if end[i].kind != k {
			return false
		}
		lo += k * start[i].value
		hi += k * end[i].value
		v += k * current[k]
	}
	return inRange(v, lo, hi)
}

// distinctKinds reports whether fields name no kind twice.
func distinctKinds(fields []dateField) bool {
	seen := map[int]bool{}
	for _, f := range fields {
		if seen[f.kind] {
			return false
		}
		seen[f.kind] = true
	}
	return true
}

// timeRange(hour | hour1, hour2 | hour1, min1, hour2, min2 | hour1, min1,
// sec1, hour2, min2, sec2[, "GMT"]): now is within that hour, or between
// the start and the end, the end's whole hour or minute included; the
// range may wrap around midnight.
func timeRange(now time.Time, args []goja.Value) bool {
	n := len(args)
	if n != 1 && n != 2 && n != 4 && n != 6 {
		return false
	}
	x := make([]int, n)
	for i, a := range args {
		v, err := strconv.Atoi(strings.TrimSpace(a.String()))
		if err != nil || v < 0 || v > 59 || (i%(max(n/2, 1)) == 0 && v > 23) {
			return false
		}
		x[i] = v
	}
	h, m, sec := now.Clock()
	switch n {
	case 1:
		return h == x[0]
	case 2:
		return inRange(h, x[0], x[1])
	case 4:
		return inRange(h*60+m, x[0]*60+x[1], x[2]*60+x[3])
	default:
		return inRange(h*3600+m*60+sec, x[0]*3600+x[1]*60+x[2], x[3]*3600+x[4]*60+x[5])
	}
}

// outboundAddr is the address of the interface that reaches the outside:
// connecting a UDP socket chooses it without sending anything. 192.0.2.1
// is a documentation address that nothing answers; 127.0.0.1 when there
// is no route.
func outboundAddr() netip.Addr {
	if c, err := net.Dial("udp4", "192.0.2.1:9"); err == nil {
		defer c.Close()
		if u, ok := c.LocalAddr().(*net.UDPAddr); ok {
			if a, ok := netip.AddrFromSlice(u.IP); ok && !a.Unmap().IsUnspecified() {
				return a.Unmap()
			}
		}
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

// interfaceAddrs are the machine's addresses but loopback and link-local
// ones, which a PAC file has no use for: IPv4 ones first, as scripts
// written for myIpAddress look at the first.
func interfaceAddrs() []netip.Addr {
	ifAddrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, ia := range ifAddrs {
		p, err := netip.ParsePrefix(ia.String())
		if err != nil {
			continue
		}
		a := p.Addr().Unmap()
		if a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() {
			continue
		}
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b netip.Addr) int { return cmp.Compare(btoi(a.Is6()), btoi(b.Is6())) })
	return out
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
