package pac

import (
	"strings"
	"testing"
)

// routes renders an answer as ParseResult's input would name it.
func routes(rs []Route) string {
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

func TestParseResult(t *testing.T) {
	for _, c := range []struct {
		in, want string // want "" for an error
	}{
		{"DIRECT", "DIRECT"},
		{"direct", "DIRECT"},
		{"PROXY a.example:8080; SOCKS b.example:1080; DIRECT", "http://a.example:8080 socks5://b.example:1080 DIRECT"},
		{"  proxy   a.example:3128 ;;; Direct ;", "http://a.example:3128 DIRECT"},
		{"PROXY a.example", "http://a.example:80"},
		{"HTTP a.example", "http://a.example:80"},
		{"HTTPS a.example", "https://a.example:443"},
		{"HtTpS a.example:8443", "https://a.example:8443"},
		{"SOCKS a.example", "socks5://a.example:1080"},
		{"SOCKS5 a.example:9050", "socks5://a.example:9050"},
		{"SOCKS4 a.example:1080; DIRECT", "DIRECT"},
		{"SOCKS4A a.example:1080; PROXY b.example:81", "http://b.example:81"},
		{"QUIC a.example:443; PROXY b.example", "http://b.example:80"},
		{"PROXY 192.0.2.1:8080", "http://192.0.2.1:8080"},
		{"PROXY [2001:db8::1]:8080", "http://[2001:db8::1]:8080"},
		{"PROXY [2001:db8::1]", "http://[2001:db8::1]:80"},
		{"PROXY a.example:0; DIRECT", "DIRECT"},
		{"PROXY a.example:65536; DIRECT", "DIRECT"},
		{"PROXY a.example:http; DIRECT", "DIRECT"},
		{"PROXY a.example:8080 b.example:8080; DIRECT", "DIRECT"},
		{"PROXY user@a.example:8080; DIRECT", "DIRECT"},
		{"PROXY http://a.example:8080; DIRECT", "DIRECT"},
		{"PROXY 2001:db8::1; DIRECT", "DIRECT"},
		{"DIRECT a.example; PROXY b.example:1", "http://b.example:1"},
		{"", ""},
		{"   ;  ; ", ""},
		{"SOCKS4 a.example:1080", ""},
		{"PROXY", ""},
		{"garbage", ""},
		{"<html>Not Found</html>", ""},
		{"PROXY a.example:99999", ""},
	} {
		got, err := ParseResult(c.in)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("ParseResult(%q) = %s, want an error", c.in, routes(got))
		case c.want != "" && err != nil:
			t.Errorf("ParseResult(%q): %v, want %s", c.in, err, c.want)
		case c.want != "" && routes(got) != c.want:
			t.Errorf("ParseResult(%q) = %s, want %s", c.in, routes(got), c.want)
		}
	}
}
