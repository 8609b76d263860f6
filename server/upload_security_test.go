package server

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestUploadTraversalRefused tries every way out of the upload folder, on
// Create-Session and on Fragment: each is refused, and nothing appears
// outside the folder nor, in it, anything but the sessions' own files.
func TestUploadTraversalRefused(t *testing.T) {
	f := startUploads(t, func(c *Config) { c.Uploads[0].AllowOverwrites = true })
	links := map[string]string{
		"out-dir":      f.outside,                              // absolute, to outside
		"out-rel":      "../outside",                           // relative, to outside
		"out-file":     filepath.Join(f.outside, "secret.txt"), // a file outside
		"in-dir":       "sub",                                  // a folder inside: refused all the same
		"sub/up-again": "../../outside/secret.txt",
		"dangling":     filepath.Join(f.outside, "new.txt"), // would create a file outside
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(f.up, name)); err != nil {
			t.Fatal(err)
		}
	}
	outsideBefore := tree(t, f.outside)
	parent := filepath.Dir(f.up)
	parentBefore := tree(t, parent)

	for _, c := range []struct {
		target string
		status int // 0: any refusal
	}{
		{"/up/../outside/x.txt", 400},
		{"/up/%2e%2e/outside/x.txt", 400},
		{"/up/%2E%2E%2Foutside%2Fx.txt", 400},
		{"/up/sub/..%2f..%2foutside%2fx.txt", 400},
		{"/up/a%2Fb", 400},
		{"/up/a%2fb", 400},
		{"/up/a%5Cb", 400},
		{"/up/..%5C..%5Coutside%5Cx.txt", 400},
		{"/up/a\\b", 400},
		{"/up/x%00.txt", 400},
		{"/up/x%01.txt", 400},
		{"/up//x.txt", 400},
		{"/up/./x.txt", 400},
		{"/up/sub/.", 400},
		{"/up/..", 400},
		{"/up/", 400},
		{"/up", 400},
		{"/up/" + strings.Repeat("a", 256), 400},
		{"/up/.bits-sessions/x", 403},
		{"/up/.BITS-Sessions/x", 403},
		{"/up/BITS-Sessions/Replies/x", 403},
		{"/up/sub/bits-sessions", 403},
		{"/up/out-dir/x.txt", 403},
		{"/up/out-rel/x.txt", 403},
		{"/up/out-file", 403},
		{"/up/in-dir/x.txt", 403},
		{"/up/sub/up-again", 403},
		{"/up/dangling", 403},
		{"/up/missing/x.txt", 404},
		{"/up/sub/x.txt/y", 0},
		{"/upx/x.txt", 501},
		{"/../up/x.txt", 400},
		{"/up%2fx.txt", 400},
		{"http://127.0.0.1/up/../outside/x.txt", 400},
		{"../outside/x.txt", 0},
		{"*", 0},
	} {
		resp := f.rawPost(c.target, "", "BITS-Packet-Type", "Create-Session", "BITS-Supported-Protocols", upload15, "Content-Length", "0")
		switch {
		case c.status == 0 && resp.StatusCode < 400,
			c.status != 0 && resp.StatusCode != c.status:
			t.Errorf("Create-Session %s: %s, want %d", c.target, resp.Status, c.status)
		}
		if resp.Header.Get("BITS-Session-Id") != "" {
			t.Errorf("Create-Session %s: a session was made", c.target)
		}
		// The same with a real session id, as a Fragment.
		resp = f.rawPost(c.target, "abc", "BITS-Packet-Type", "Fragment", "BITS-Session-Id", "{11111111-2222-4333-8444-555555555555}",
			"Content-Range", "bytes 0-2/3", "Content-Length", "3")
		if resp.StatusCode < 400 {
			t.Errorf("Fragment %s: %s", c.target, resp.Status)
		}
	}
	if got := tree(t, f.outside); !slices.Equal(got, outsideBefore) {
		t.Errorf("the folder outside changed:\n%v\nwas\n%v", got, outsideBefore)
	}
	for _, p := range tree(t, parent) {
		if !slices.Contains(parentBefore, p) {
			t.Errorf("new file: %s", p)
		}
	}
}

// TestSessionIDsAreNotPaths: ids that are not GUIDs never reach the disk.
func TestSessionIDsAreNotPaths(t *testing.T) {
	f := startUploads(t, nil)
	os.WriteFile(filepath.Join(f.outside, "session.json"), []byte(`{"key":"x"}`), 0o644)
	for _, id := range []string{
		"../outside", "../../outside", "{../../outside}", "/etc", ".", "..", "{}", "{" + strings.Repeat("0", 36) + "}",
		"11111111-2222-4333-8444-55555555555/", "11111111-2222-4333-8444-5555555555%2f", "11111111/2222-4333-8444-555555555555",
	} {
		expectAck(t, f.post("/up/x.bin", []byte("a"), "BITS-Packet-Type", "Fragment", "BITS-Session-Id", id, "Content-Range", "bytes 0-0/1"),
			http.StatusInternalServerError, "0x8020001f")
		expectAck(t, f.post("/up/x.bin", nil, "BITS-Packet-Type", "Close-Session", "BITS-Session-Id", id),
			http.StatusInternalServerError, "0x8020001f")
	}
	for _, id := range []string{"not-a-guid", "{11111111-2222-4333-8444-55555555555g}", "11111111-2222-4333-8444-5555555555555"} {
		if _, ok := parseSessionID(id); ok {
			t.Errorf("parseSessionID(%q) accepted it", id)
		}
	}
}

// TestSymlinkedStateFolder: a state folder replaced by a link is refused
// at start.
func TestSymlinkedStateFolder(t *testing.T) {
	dir := t.TempDir()
	up := filepath.Join(dir, "up")
	os.Mkdir(up, 0o755)
	os.Mkdir(filepath.Join(dir, "elsewhere"), 0o755)
	if err := os.Symlink("../elsewhere", filepath.Join(up, stateDirName)); err != nil {
		t.Fatal(err)
	}
	if s, err := New(Config{Uploads: []VirtualDir{{Prefix: "/up", Folder: up}}}); err == nil {
		s.Close()
		t.Fatal("New accepted a state folder that is a symbolic link")
	}
}
