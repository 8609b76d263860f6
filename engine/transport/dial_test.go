package transport

import "testing"

// Only what may be a host name reaches getent: a name from a server's
// redirect must not pass as one of its options, nor carry anything else.
func TestHostName(t *testing.T) {
	for s, want := range map[string]bool{
		"nas.local": true, "printer": true, "my_host-2.example.com": true,
		"": false, "-s": false, "--help": false, "a b": false, "a\nb": false, "a;b": false, "ä.local": false,
	} {
		if got := hostName(s); got != want {
			t.Errorf("hostName(%q) = %v, want %v", s, got, want)
		}
	}
}
