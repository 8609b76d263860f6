package transport_test

import (
	"strings"
	"testing"

	"bits/engine/transport"
	"bits/engine/transport/file"
	httptransport "bits/engine/transport/http"
	"bits/engine/transport/smb"
)

func registry() *transport.Registry {
	return transport.NewRegistry(httptransport.New(httptransport.Options{}).Entry(), smb.New(smb.Options{}).Entry(), file.New().Entry())
}

func TestParse(t *testing.T) {
	r := registry()
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
		"file://LOCALHOST/var/data/f.bin":         "file:///var/data/f.bin",
		`\\server\share\with space\f`:             "smb://server/share/with%20space/f",
		"https://example.com:8443/p?q=1&r=2#frag": "https://example.com:8443/p?q=1&r=2#frag",
	} {
		u, err := r.Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		if u.String() != want {
			t.Errorf("Parse(%q) = %s, want %s", in, u, want)
		}
	}
	for _, in := range []string{
		"", "ftp://example.com/f", "relative/path", "http:///nohost", "http://user:pw@example.com/f",
		`\\user@server\share\f`, `\\server`, `\\server\share`, "smb://server/share", "smb:///share/f",
		"file:relative", "file://", "mailto:x@example.com", "/with\x00nul", `\single`,
	} {
		if u, err := r.Parse(in); err == nil {
			t.Errorf("Parse(%q) = %s, want an error", in, u)
		} else if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "user@") {
			t.Errorf("Parse(%q): the error quotes the name: %v", in, err)
		}
	}
}

// The messages that list every form of name are made from the entries;
// front ends' golden files hold these.
func TestParseMessages(t *testing.T) {
	r := registry()
	for in, want := range map[string]string{
		"ftp://example.com/f":  "the remote name is not an http, https, smb or file URL, a UNC path or an absolute path",
		"relative/path":        "the remote name is not an http, https, smb or file URL, a UNC path or an absolute path",
		"mailto:x@example.com": "the remote name is not a URL, a UNC path or an absolute path",
		"http://[::1":          "the remote name is not a URL, a UNC path or an absolute path",
		"http:///nohost":       "the URL has no host",
		`\\u@server\share\f`:   "a remote name may not carry a user name or password: use the job's credentials",
		"https://u:p@host/f":   "a remote name may not carry a user name or password: use the job's credentials",
		"file:///":             "", // accepted
	} {
		_, err := r.Parse(in)
		if got := errText(err); got != want {
			t.Errorf("Parse(%q): %q, want %q", in, got, want)
		}
	}
	one := transport.NewRegistry(file.New().Entry())
	if _, err := one.Parse("http://example.com/f"); errText(err) != "the remote name is not a file URL or an absolute path" {
		t.Errorf("a file-only registry: %v", err)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestResolve(t *testing.T) {
	r := registry()
	for in, want := range map[string]transport.Caps{
		"https://example.com/f": {UploadReply: true, Dynamic: true, Network: true},
		`\\server\share\f`:      {Network: true},
		"file://server/share/f": {Network: true},
		"/srv/f":                {},
	} {
		_, e, err := r.Resolve(in)
		if err != nil || e.Caps != want || e.Downloader == nil || e.Uploader == nil {
			t.Errorf("Resolve(%q) = %+v, %v; want the caps %+v and both directions", in, e.Caps, err, want)
		}
	}
}

func TestNewRegistryRefusesASchemeServedTwice(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	transport.NewRegistry(file.New().Entry(), file.New().Entry())
}
