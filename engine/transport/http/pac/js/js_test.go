package js

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"bits/engine/transport/http/pac"
)

// fakeResolver answers from a table; names it does not hold are not
// found, and "slow.example" answers only when the context ends.
type fakeResolver map[string][]string

func (r fakeResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if host == "slow.example" {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	var out []netip.Addr
	for _, s := range r[host] {
		a := netip.MustParseAddr(s)
		if network == "ip4" && !a.Is4() || network == "ip6" && !a.Is6() {
			continue
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

var testResolver = fakeResolver{
	"www.netscape.com":  {"198.95.249.79"},
	"home.netscape.com": {"198.95.249.79"},
	"db.internal.test":  {"10.1.1.1"},
	"dual.example":      {"192.0.2.10", "2001:db8::10"},
	"v6only.example":    {"2001:db8::20"},
}

// testNow is Thursday 24 December 2026, 23:30:15 GMT, which is already
// Friday 25 December, 01:30:15, in testZone.
var (
	testZone = time.FixedZone("UTC+2", 2*3600)
	testNow  = time.Date(2026, time.December, 24, 23, 30, 15, 0, time.UTC)
)

func testEnv() env {
	return env{
		resolver: testResolver,
		now:      func() time.Time { return testNow },
		local:    testZone,
		timeout:  2 * time.Second,
		myIP:     func() netip.Addr { return netip.MustParseAddr("10.1.2.3") },
		myIPs: func() []netip.Addr {
			return []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("2001:db8::3")}
		},
	}
}

func mustCompile(t *testing.T, src string, e env) *Script {
	t.Helper()
	s, err := compile([]byte(src), e)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return s
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// routes renders an answer as ParseResult's input would name it.
func routes(rs []pac.Route) string {
	var s []string
	for _, r := range rs {
		if r.Direct {
			s = append(s, "DIRECT")
		} else {
			s = append(s, r.Proxy.String())
		}
	}
	return strings.Join(s, " ")
}

// evalJS evaluates expr with the helpers of s and returns it as JSON.
func evalJS(t *testing.T, s *Script, expr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.env.timeout)
	defer cancel()
	rt, err := s.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer s.put(rt)
	rt.ctx = ctx
	v, err := rt.vm.RunString("JSON.stringify(" + expr + ")")
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
	return v.String()
}

const directScript = `function FindProxyForURL(url, host) { return "DIRECT"; }`

func TestHelpers(t *testing.T) {
	s := mustCompile(t, directScript, testEnv())
	for _, c := range []struct{ expr, want string }{
		// The examples of Netscape's specification.
		{`isPlainHostName("www")`, "true"},
		{`isPlainHostName("www.netscape.com")`, "false"},
		{`isPlainHostName("::1")`, "false"},
		{`dnsDomainIs("www.netscape.com", ".netscape.com")`, "true"},
		{`dnsDomainIs("www", ".netscape.com")`, "false"},
		{`dnsDomainIs("www.mcom.com", ".netscape.com")`, "false"},
		{`localHostOrDomainIs("www.netscape.com", "www.netscape.com")`, "true"},
		{`localHostOrDomainIs("www", "www.netscape.com")`, "true"},
		{`localHostOrDomainIs("www.mcom.com", "www.netscape.com")`, "false"},
		{`localHostOrDomainIs("home.netscape.com", "www.netscape.com")`, "false"},
		{`isResolvable("www.netscape.com")`, "true"},
		{`isResolvable("bogus.netscape.com")`, "false"},
		{`isResolvable("v6only.example")`, "false"},
		{`isInNet("www.netscape.com", "198.95.249.79", "255.255.255.255")`, "true"},
		{`isInNet("www.netscape.com", "198.95.0.0", "255.255.0.0")`, "true"},
		{`isInNet("www.netscape.com", "198.96.0.0", "255.255.0.0")`, "false"},
		{`isInNet("198.95.1.2", "198.95.0.0", "255.255.0.0")`, "true"},
		{`isInNet("10.1.1.1", "10.0.0.0", "255.0.0.0")`, "true"},
		{`isInNet("192.168.1.1", "10.0.0.0", "255.0.0.0")`, "false"},
		{`isInNet("bogus.example", "0.0.0.0", "0.0.0.0")`, "false"},
		{`isInNet("10.1.1.1", "10.0.0", "255.0.0.0")`, "false"},
		{`dnsResolve("home.netscape.com")`, `"198.95.249.79"`},
		{`dnsResolve("dual.example")`, `"192.0.2.10"`},
		{`dnsResolve("10.9.8.7")`, `"10.9.8.7"`},
		{`dnsResolve("bogus.example")`, "null"},
		{`dnsResolve("v6only.example")`, "null"},
		{`convert_addr("104.16.41.2")`, "1745889538"},
		{`myIpAddress()`, `"10.1.2.3"`},
		{`dnsDomainLevels("www")`, "0"},
		{`dnsDomainLevels("www.netscape.com")`, "2"},
		{`shExpMatch("http://home.netscape.com/people/ari/index.html", "*/ari/*")`, "true"},
		{`shExpMatch("http://home.netscape.com/people/montulli/index.html", "*/ari/*")`, "false"},
		{`shExpMatch("www.example.com", "*.example.com")`, "true"},
		{`shExpMatch("example.com", "*.example.com")`, "false"},
		{`shExpMatch("host1.example", "host?.example")`, "true"},
		{`shExpMatch("host12.example", "host?.example")`, "false"},
		{`shExpMatch("hostxexample", "host.example")`, "false"},
		{`shExpMatch("a+b(c)", "a+b(c)")`, "true"},
		{`shExpMatch("", "*")`, "true"},
		{`alert("hello")`, "undefined"},
		// Microsoft's IPv6 extensions.
		{`getClientVersion()`, `"1.0"`},
		{`dnsResolveEx("dual.example")`, `"192.0.2.10;2001:db8::10"`},
		{`dnsResolveEx("bogus.example")`, `""`},
		{`isResolvableEx("v6only.example")`, "true"},
		{`isResolvableEx("bogus.example")`, "false"},
		{`myIpAddressEx()`, `"10.1.2.3;2001:db8::3"`},
		{`isInNetEx("2001:db8::10", "2001:db8::/32")`, "true"},
		{`isInNetEx("2001:db9::10", "2001:db8::/32")`, "false"},
		{`isInNetEx("198.95.249.79", "198.95.249.79/32")`, "true"},
		{`isInNetEx("198.95.249.80", "198.95.249.79/32")`, "false"},
		{`isInNetEx("www.netscape.com", "198.95.0.0/16")`, "true"},
		{`isInNetEx("dual.example", "2001:db8::/64")`, "true"},
		{`isInNetEx("10.0.0.1", "10.0.0.0/8x")`, "false"},
		{`sortIpAddressList("10.2.3.9;2001:4898:28:3:201:2ff:feea:fc14;::1;127.0.0.1;::9")`, `"::1;::9;2001:4898:28:3:201:2ff:feea:fc14;10.2.3.9;127.0.0.1"`},
		{`sortIpAddressList("10.2.3.9;junk")`, "false"},
		{`sortIpAddressList("")`, "false"},
	} {
		if got := evalJS(t, s, c.expr); got != c.want {
			t.Errorf("%s = %s, want %s", c.expr, got, c.want)
		}
	}
}

// TestDateHelpers runs at testNow: Thursday 24 December 2026, 23:30:15
// GMT, Friday 25 December 2026, 01:30:15 local time.
func TestDateHelpers(t *testing.T) {
	s := mustCompile(t, directScript, testEnv())
	for _, c := range []struct{ expr, want string }{
		{`weekdayRange("FRI")`, "true"},
		{`weekdayRange("THU")`, "false"},
		{`weekdayRange("THU", "GMT")`, "true"},
		{`weekdayRange("FRI", "GMT")`, "false"},
		{`weekdayRange("MON", "FRI")`, "true"},
		{`weekdayRange("MON", "THU")`, "false"},
		{`weekdayRange("MON", "THU", "GMT")`, "true"},
		{`weekdayRange("SAT", "MON")`, "false"},
		{`weekdayRange("FRI", "MON")`, "true"},
		{`weekdayRange("SAT", "THU")`, "false"},
		{`weekdayRange("fri")`, "true"},
		{`weekdayRange("XYZ")`, "false"},
		{`weekdayRange()`, "false"},
		{`dateRange(25)`, "true"},
		{`dateRange(24)`, "false"},
		{`dateRange(24, "GMT")`, "true"},
		{`dateRange("DEC")`, "true"},
		{`dateRange("NOV")`, "false"},
		{`dateRange(2026)`, "true"},
		{`dateRange(2025)`, "false"},
		{`dateRange(25, "DEC")`, "true"},
		{`dateRange(24, "DEC")`, "false"},
		{`dateRange(24, "DEC", "GMT")`, "true"},
		{`dateRange(25, "DEC", 2026)`, "true"},
		{`dateRange(25, "DEC", 2025)`, "false"},
		{`dateRange(1, 15)`, "false"},
		{`dateRange(20, 31)`, "true"},
		{`dateRange(20, 5)`, "true"},
		{`dateRange(26, 24)`, "false"},
		{`dateRange("JAN", "MAR")`, "false"},
		{`dateRange("NOV", "JAN")`, "true"},
		{`dateRange(1, "JUN", 15, "AUG")`, "false"},
		{`dateRange(1, "DEC", 31, "DEC")`, "true"},
		{`dateRange(20, "DEC", 5, "JAN")`, "true"},
		{`dateRange("OCT", 2026, "MAR", 2027)`, "true"},
		{`dateRange("OCT", 2025, "MAR", 2026)`, "false"},
		{`dateRange(2025, 2027)`, "true"},
		{`dateRange(2027, 2028)`, "false"},
		{`dateRange(1, "JAN", 2026, 24, "DEC", 2026)`, "false"},
		{`dateRange(1, "JAN", 2026, 24, "DEC", 2026, "GMT")`, "true"},
		{`dateRange(1, "JAN", 2026, 24, "DEC")`, "false"},
		{`dateRange("XYZ")`, "false"},
		{`dateRange()`, "false"},
		{`timeRange(1)`, "true"},
		{`timeRange(23)`, "false"},
		{`timeRange(23, "GMT")`, "true"},
		{`timeRange(0, 2)`, "true"},
		{`timeRange(9, 17)`, "false"},
		{`timeRange(22, 2)`, "true"},
		{`timeRange(1, 30, 1, 31)`, "true"},
		{`timeRange(0, 0, 1, 30)`, "true"},
		{`timeRange(1, 31, 2, 0)`, "false"},
		{`timeRange(8, 30, 17, 0)`, "false"},
		{`timeRange(8, 30, 23, 30, "GMT")`, "true"},
		{`timeRange(1, 30, 15, 1, 30, 20)`, "true"},
		{`timeRange(1, 30, 16, 1, 31, 0)`, "false"},
		{`timeRange(0, 0, 0, 0, 0, 30)`, "false"},
		{`timeRange(1, 2, 3)`, "false"},
		{`timeRange(25)`, "false"},
		{`timeRange()`, "false"},
	} {
		if got := evalJS(t, s, c.expr); got != c.want {
			t.Errorf("%s = %s, want %s", c.expr, got, c.want)
		}
	}
	// The script's own Date reads the same clock.
	if got := evalJS(t, s, `new Date().getTime()`); got != fmt.Sprint(testNow.UnixMilli()) {
		t.Errorf("new Date() = %s, want %d", got, testNow.UnixMilli())
	}
}

func TestTimeRangeMidnight(t *testing.T) {
	e := testEnv()
	e.now = func() time.Time { return time.Date(2026, time.March, 1, 0, 0, 20, 0, testZone) }
	s := mustCompile(t, directScript, e)
	for _, c := range []struct{ expr, want string }{
		{`timeRange(0, 0, 0, 0, 0, 30)`, "true"},
		{`timeRange(0, 0, 0, 0, 0, 10)`, "false"},
		{`dateRange("JAN", "FEB")`, "false"},
		{`dateRange("FEB", "MAR")`, "true"},
		{`weekdayRange("SUN")`, "true"},
	} {
		if got := evalJS(t, s, c.expr); got != c.want {
			t.Errorf("%s = %s, want %s", c.expr, got, c.want)
		}
	}
}

// typicalScript sends the intranet direct and everything else through two
// proxies, https through another pair.
const typicalScript = `
var seen = "";
function FindProxyForURL(url, host) {
	host = host.toLowerCase();
	if (isPlainHostName(host) ||
	    dnsDomainIs(host, ".corp.example") ||
	    shExpMatch(host, "127.*") ||
	    isInNet(host, "10.0.0.0", "255.0.0.0")) {
		return "DIRECT";
	}
	if (shExpMatch(url, "*/private/*") || url.indexOf("secret") >= 0) {
		return "DIRECT";
	}
	if (url.substring(0, 6) == "https:") {
		return "PROXY secure1.example:3128; PROXY secure2.example:3128; DIRECT";
	}
	return "PROXY proxy1.example:8080; PROXY proxy2.example";
}
`

func TestFindTypical(t *testing.T) {
	s := mustCompile(t, typicalScript, testEnv())
	const proxies = "http://proxy1.example:8080 http://proxy2.example:80"
	const secure = "http://secure1.example:3128 http://secure2.example:3128 DIRECT"
	for _, c := range []struct{ url, want string }{
		{"http://intranet/file.bin", "DIRECT"},
		{"http://wiki.corp.example/x", "DIRECT"},
		{"http://WIKI.Corp.Example:8080/x", "DIRECT"},
		{"http://db.internal.test/data", "DIRECT"},
		{"http://10.20.30.40/data", "DIRECT"},
		{"http://127.0.0.1:8080/", "DIRECT"},
		{"http://www.example.org/file.bin", proxies},
		// The path, query and user are not the script's to see.
		{"http://www.example.org/private/file.bin", proxies},
		{"https://www.example.org/a?secret=1", secure},
		{"https://secret:pw@www.example.org:8443/", secure},
		{"http://[2001:db8::1]:8080/x", proxies},
	} {
		got, err := s.Find(context.Background(), mustURL(t, c.url))
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if routes(got) != c.want {
			t.Errorf("%s: %s, want %s", c.url, routes(got), c.want)
		}
	}
}

func TestFindSeesStrippedURL(t *testing.T) {
	s := mustCompile(t, `function FindProxyForURL(url, host) {
		return "PROXY " + host.replace(/:/g, "-") + ":1; PROXY " + encodeURIComponent(url).replace(/%/g, "_") + ":2";
	}`, testEnv())
	for _, c := range []struct{ url, host, seen string }{
		{"https://user:pw@WWW.Example.org/a/b?c=d#e", "www.example.org", "https://www.example.org/"},
		{"http://www.example.org:80/a", "www.example.org", "http://www.example.org/"},
		{"https://www.example.org:443/a", "www.example.org", "https://www.example.org/"},
		{"https://www.example.org:8443/a", "www.example.org", "https://www.example.org:8443/"},
		{"http://[2001:db8::1]:8080/x", "2001:db8::1", "http://[2001:db8::1]:8080/"},
	} {
		if got := strippedURL(mustURL(t, c.url)); got != c.seen {
			t.Errorf("strippedURL(%s) = %s, want %s", c.url, got, c.seen)
		}
		got, err := s.Find(context.Background(), mustURL(t, c.url))
		if err != nil {
			t.Fatalf("%s: %v", c.url, err)
		}
		wantHost := strings.ReplaceAll(c.host, ":", "-")
		wantURL := strings.ReplaceAll(url.QueryEscape(c.seen), "%", "_")
		if len(got) != 2 || got[0].Proxy.Hostname() != wantHost || got[1].Proxy.Hostname() != wantURL {
			t.Errorf("%s: the script saw %s, want host %s and URL %s", c.url, routes(got), wantHost, wantURL)
		}
	}
}

func TestFindProxyForURLExPreferred(t *testing.T) {
	s := mustCompile(t, `
		function FindProxyForURL(url, host) { return "PROXY plain.example:1"; }
		function FindProxyForURLEx(url, host) { return "PROXY ex.example:2; PROXY [2001:db8::2]:3"; }
	`, testEnv())
	got, err := s.Find(context.Background(), mustURL(t, "http://www.example.org/"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "http://ex.example:2 http://[2001:db8::2]:3"; routes(got) != want {
		t.Errorf("got %s, want %s", routes(got), want)
	}
	s = mustCompile(t, `function FindProxyForURLEx(url, host) { return "DIRECT"; }`, testEnv())
	if got, err := s.Find(context.Background(), mustURL(t, "http://www.example.org/")); err != nil || routes(got) != "DIRECT" {
		t.Errorf("FindProxyForURLEx alone: %s, %v", routes(got), err)
	}
}

func TestFindLoopInterrupted(t *testing.T) {
	e := testEnv()
	e.timeout = 300 * time.Millisecond
	s := mustCompile(t, `function FindProxyForURL(url, host) {
		if (host == "loop.example") { while (true) {} }
		return "DIRECT";
	}`, e)
	start := time.Now()
	_, err := s.Find(context.Background(), mustURL(t, "http://loop.example/"))
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if elapsed < e.timeout || elapsed > e.timeout+3*time.Second {
		t.Errorf("interrupted after %v, want about %v", elapsed, e.timeout)
	}
	// The interrupted runtime is gone; the script still answers.
	for i := 0; i < 3; i++ {
		if got, err := s.Find(context.Background(), mustURL(t, "http://other.example/")); err != nil || routes(got) != "DIRECT" {
			t.Fatalf("after the interrupt: %s, %v", routes(got), err)
		}
	}
}

func TestFindCanceled(t *testing.T) {
	s := mustCompile(t, `function FindProxyForURL(url, host) { while (true) {} }`, testEnv())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Find(ctx, mustURL(t, "http://www.example.org/")); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
}

func TestFindSlowDNS(t *testing.T) {
	e := testEnv()
	e.timeout = 200 * time.Millisecond
	s := mustCompile(t, `function FindProxyForURL(url, host) {
		return isResolvable(host) ? "DIRECT" : "PROXY p.example:1";
	}`, e)
	start := time.Now()
	_, err := s.Find(context.Background(), mustURL(t, "http://slow.example/"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
	if elapsed := time.Since(start); elapsed > e.timeout+3*time.Second {
		t.Errorf("took %v", elapsed)
	}
}

func TestCompileLoop(t *testing.T) {
	e := testEnv()
	e.timeout = 200 * time.Millisecond
	_, err := compile([]byte(`while (true) {} function FindProxyForURL() { return "DIRECT"; }`), e)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
}

func TestScriptErrors(t *testing.T) {
	for _, c := range []struct{ name, src, find string }{
		{"syntax", `function FindProxyForURL(url, host) { return "DIRECT"; `, ""},
		{"no function", `var x = 1;`, ""},
		{"not a function", `var FindProxyForURL = "DIRECT";`, ""},
		{"throws while loading", `throw new Error("boom at load");`, ""},
		{"throws", `function FindProxyForURL(url, host) { throw new Error("boom"); }`, "boom"},
		{"throws a string", `function FindProxyForURL(url, host) { throw "bang"; }`, "bang"},
		{"undefined helper", `function FindProxyForURL(url, host) { return noSuchHelper(host); }`, "noSuchHelper"},
		{"recursion", `function f(n) { return f(n + 1) + 1; } function FindProxyForURL(url, host) { return f(0); }`, ""},
		{"no answer", `function FindProxyForURL(url, host) { }`, "undefined"},
		{"number", `function FindProxyForURL(url, host) { return 42; }`, "42"},
		{"garbage", `function FindProxyForURL(url, host) { return "nonsense"; }`, "nonsense"},
		{"SOCKS4 only", `function FindProxyForURL(url, host) { return "SOCKS4 s.example:1080"; }`, "SOCKS4"},
	} {
		s, err := compile([]byte(c.src), testEnv())
		if c.find == "" && c.name != "recursion" {
			if err == nil {
				t.Errorf("%s: compiled", c.name)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got, err := s.Find(context.Background(), mustURL(t, "http://www.example.org/"))
		if err == nil {
			t.Errorf("%s: answered %s, want an error", c.name, routes(got))
		} else if !strings.Contains(err.Error(), c.find) {
			t.Errorf("%s: %v, want it to mention %q", c.name, err, c.find)
		}
	}
}

func TestFindConcurrent(t *testing.T) {
	s := mustCompile(t, `
		var calls = 0;
		function FindProxyForURL(url, host) {
			calls++;
			if (dnsDomainIs(host, ".corp.example")) return "DIRECT";
			return "PROXY " + host + ":8080";
		}`, testEnv())
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				host, want := fmt.Sprintf("h%d-%d.example", g, i), ""
				want = "http://" + host + ":8080"
				if i%3 == 0 {
					host, want = fmt.Sprintf("h%d.corp.example", g), "DIRECT"
				}
				got, err := s.Find(context.Background(), &url.URL{Scheme: "http", Host: host, Path: "/"})
				if err != nil || routes(got) != want {
					errs <- fmt.Errorf("%s: %s, %v; want %s", host, routes(got), err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := len(s.idle); n > maxIdle {
		t.Errorf("%d idle runtimes, want at most %d", n, maxIdle)
	}
}

func TestCompileDefault(t *testing.T) {
	s, err := Compile([]byte("\uFEFF" + `function FindProxyForURL(url, host) {
		var ip = myIpAddress();
		return isInNet(ip, "0.0.0.0", "0.0.0.0") && isPlainHostName("localhost") ? "DIRECT" : "PROXY p.example:1";
	}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Find(context.Background(), mustURL(t, "http://localhost/"))
	if err != nil || routes(got) != "DIRECT" {
		t.Errorf("got %s, %v", routes(got), err)
	}
	if a := outboundAddr(); !a.Is4() {
		t.Errorf("myIpAddress: %v is not IPv4", a)
	}
}

// TestFindBacktrackingInterrupted: a regular expression goja hands to
// regexp2 (a look-ahead) that backtracks for ages is one instruction,
// which the interrupt cannot stop; Find returns in time all the same.
func TestFindBacktrackingInterrupted(t *testing.T) {
	e := testEnv()
	e.timeout = 300 * time.Millisecond
	s := mustCompile(t, `function FindProxyForURL(url, host) {
		return /^(?=(a|aa)+b)/.test(host.replace(/x/g, "a")) ? "DIRECT" : "PROXY p.example:1";
	}`, e)
	start := time.Now()
	_, err := s.Find(context.Background(), mustURL(t, "http://"+strings.Repeat("x", 40)+"/"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if elapsed := time.Since(start); elapsed > e.timeout+3*time.Second {
		t.Errorf("interrupted after %v, want about %v", elapsed, e.timeout)
	}
}

// TestHostileValues: what the script answers or throws may run its code
// again (toString, getters) when the error text is made; that too is
// bounded and may fail.
func TestHostileValues(t *testing.T) {
	e := testEnv()
	e.timeout = 300 * time.Millisecond
	for _, c := range []struct{ name, src, find string }{
		{"looping toString", `function FindProxyForURL(url, host) { return {toString: function() { while (true) {} }}; }`, "within"},
		{"throwing toString", `function FindProxyForURL(url, host) { return {toString: function() { throw "no"; }}; }`, "cannot be shown"},
		{"thrown looping toString", `function FindProxyForURL(url, host) { throw {toString: function() { while (true) {} }}; }`, "within"},
		{"thrown throwing toString", `function FindProxyForURL(url, host) { throw {toString: function() { throw "no"; }}; }`, "cannot be shown"},
		{"object", `function FindProxyForURL(url, host) { return {toString: function() { return "DIRECT"; }}; }`, "not a string"},
	} {
		s := mustCompile(t, c.src, e)
		start := time.Now()
		got, err := s.Find(context.Background(), mustURL(t, "http://www.example.org/"))
		if err == nil || !strings.Contains(err.Error(), c.find) {
			t.Errorf("%s: %s, %v; want an error that says %q", c.name, routes(got), err, c.find)
		}
		if elapsed := time.Since(start); elapsed > e.timeout+3*time.Second {
			t.Errorf("%s: took %v", c.name, elapsed)
		}
	}
	for _, src := range []string{
		`Object.defineProperty(this, "FindProxyForURL", {get: function() { while (true) {} }});`,
		`throw {toString: function() { while (true) {} }};`,
	} {
		if _, err := compile([]byte(src), e); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want a deadline error", src, err)
		}
	}
	s, err := compile([]byte(`Object.defineProperty(this, "FindProxyForURL", {get: function() { throw "no"; }});
		function FindProxyForURLEx(url, host) { return "DIRECT"; }`), e)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.Find(context.Background(), mustURL(t, "http://www.example.org/")); err != nil || routes(got) != "DIRECT" {
		t.Errorf("FindProxyForURLEx beside a throwing getter: %s, %v", routes(got), err)
	}
}
