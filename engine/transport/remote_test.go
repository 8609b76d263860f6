package transport

import (
	"strings"
	"testing"
)

func TestParseRemote(t *testing.T) {
	for in, want := range map[string]string{
		"http://example.com/a b":                  "http://example.com/a%20b",
		"HTTPS://example.com/x":                   "https://example.com/x",
		`\\server\share\dir\file.bin`:             "smb://server/share/dir/file.bin",
		"//server/share/dir/file.bin":             "smb://server/share/dir/file.bin",
		"smb://server:4455/share/f":               "smb://server:4455/share/f",
		"smb://server/share/a/../../b":            "smb://server/share/b",
		"file://server/share/f":                   "smb://server/share/f",
		"/var/data/f.bin":                         "file:///var/data/f.bin",
		"/var/data/../f.bin":                      "file:///var/f.bin",
		"file:///var/data/f.bin":                  "file:///var/data/f.bin",
		"file://localhost/var/data/f.bin":         "file:///var/data/f.bin",
		`\\server\share\with space\f`:             "smb://server/share/with%20space/f",
		"https://example.com:8443/p?q=1&r=2#frag": "https://example.com:8443/p?q=1&r=2#frag",
	} {
		u, err := ParseRemote(in)
		if err != nil {
			t.Errorf("ParseRemote(%q): %v", in, err)
			continue
		}
		if u.String() != want {
			t.Errorf("ParseRemote(%q) = %s, want %s", in, u, want)
		}
	}
	for _, in := range []string{
		"", "ftp://example.com/f", "relative/path", "http:///nohost", "http://user:pw@example.com/f",
		`\\user@server\share\f`, `\\server`, `\\server\share`, "smb://server/share", "smb:///share/f",
		"file:relative", "mailto:x@example.com", "/with\x00nul",
	} {
		if u, err := ParseRemote(in); err == nil {
			t.Errorf("ParseRemote(%q) = %s, want an error", in, u)
		} else if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "user@") {
			t.Errorf("ParseRemote(%q): the error quotes the name: %v", in, err)
		}
	}
}
