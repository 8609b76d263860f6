package server

import (
	"bits/hresult"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestParseContentRange(t *testing.T) {
	for _, c := range []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-4891/4892", 0, 4891, 4892, true},
		{"Bytes 128-212/1000", 128, 212, 1000, true},
		{"BYTES  5-5/6", 5, 5, 6, true},
		{" bytes 0-0/1 ", 0, 0, 1, true},
		{"bytes 0-9223372036854775806/9223372036854775807", 0, 9223372036854775806, 9223372036854775807, true},
		{"", 0, 0, 0, false},
		{"bytes", 0, 0, 0, false},
		{"bytes=0-1/2", 0, 0, 0, false},
		{"bytes 1-0/2", 0, 0, 0, false},
		{"bytes 0-2/2", 0, 0, 0, false},
		{"bytes 0-1/*", 0, 0, 0, false},
		{"bytes */2", 0, 0, 0, false},
		{"bytes 0 - 1/2", 0, 0, 0, false},
		{"bytes -0-1/2", 0, 0, 0, false},
		{"bytes 0-1/+2", 0, 0, 0, false},
		{"bytes 0x0-1/2", 0, 0, 0, false},
		{"bytes 0-1/99999999999999999999", 0, 0, 0, false},
		{"bytes 0-1-2/3", 0, 0, 0, false},
		{"bytes 0-1/2/3", 0, 0, 0, false},
	} {
		first, last, total, ok := parseContentRange(c.in)
		if ok != c.ok || ok && (first != c.first || last != c.last || total != c.total) {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v", c.in, first, last, total, ok)
		}
	}
}

func TestOffersUpload15(t *testing.T) {
	for in, want := range map[string]bool{
		upload15:                                 true,
		"{7DF0354D-249B-430F-820D-3D2A9BEF4931}": true,
		"{00000000-0000-0000-0000-000000000000}," + upload15: true,
		"":                                     false,
		"7df0354d-249b-430f-820d-3d2a9bef4931": false,
		upload15 + "x":                         false,
	} {
		if got := offersUpload15(in); got != want {
			t.Errorf("offersUpload15(%q) = %v", in, got)
		}
	}
}

// FuzzContentRange: whatever the header, an accepted range is a real one
// and reads back the same.
func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-4891/4892", "bytes 1048576-2097151/4000000", "bytes 0-0/1", "bytes 9-5/10", "bytes -1-2/3", "bytes 0-1/*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		first, last, total, ok := parseContentRange(s)
		if !ok {
			return
		}
		if first < 0 || first > last || last >= total {
			t.Fatalf("%q gave %d-%d/%d", s, first, last, total)
		}
		if a, b, c, ok := parseContentRange(fmt.Sprintf("bytes %d-%d/%d", first, last, total)); !ok || a != first || b != last || c != total {
			t.Fatalf("%q does not read back", s)
		}
	})
}

// FuzzSessionID: a session id the server accepts is a GUID and nothing
// else, since it becomes a folder name.
func FuzzSessionID(f *testing.F) {
	for _, s := range []string{"{7DF0354D-249B-430F-820D-3D2A9BEF4931}", "7df0354d-249b-430f-820d-3d2a9bef4931", "{../../../../etc/passwd}", "", "{}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		key, ok := parseSessionID(s)
		if !ok {
			return
		}
		if len(key) != 36 || strings.Trim(key, "0123456789abcdef-") != "" || strings.Count(key, "-") != 4 {
			t.Fatalf("%q accepted as key %q", s, key)
		}
		if again, ok := parseSessionID(sessionID(key)); !ok || again != key {
			t.Fatalf("%q: key %q does not read back", s, key)
		}
	})
}

func TestAsRefusal(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   hresult.Code
	}{
		{&os.PathError{Op: "write", Path: "request", Err: syscall.ENOSPC}, 500, hresult.E_DISK_FULL},
		{&os.PathError{Op: "write", Path: "request", Err: syscall.EDQUOT}, 500, hresult.E_DISK_FULL},
		{errors.New("anything"), 500, hresult.E_FAIL},
		{badPacket("x"), 400, hresult.E_INVALIDARG},
		{sessionNotFound(), 500, hresult.BG_E_SESSION_NOT_FOUND},
	} {
		if r := asRefusal(c.err); r.status != c.status || r.code != c.code || r.context != hresult.ContextRemoteFile {
			t.Errorf("asRefusal(%v) = %d 0x%08x ctx %d", c.err, r.status, uint32(r.code), r.context)
		}
	}
}
