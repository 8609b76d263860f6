package engine

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"bits/hresult"
	"bits/storage"
)

func TestTempNameMustBeBITHexBesideLocal(t *testing.T) {
	for _, c := range []struct {
		temp, local string
		ok          bool
	}{
		{"/d/BIT1A2F.tmp", "/d/f", true},
		{"/d/BIT0123456789ABCDEF.tmp", "/d/f", true},
		{"/d/bit1a2f.tmp", "/d/f", false},
		{"/d/BITabc.tmp", "/d//f", true}, // the local name is compared cleaned
		{"/e/BIT1A2F.tmp", "/d/f", false},
		{"/d/sub/BIT1A2F.tmp", "/d/f", false},
		{"/d/../d/BIT1A2F.tmp", "/d/f", false},
		{"/d//BIT1A2F.tmp", "/d/f", false},
		{"d/BIT1A2F.tmp", "d/f", false},
		{"/d/BIT.tmp", "/d/f", false},
		{"/d/BITXYZ.tmp", "/d/f", false},
		{"/d/BIT0123456789ABCDEF0.tmp", "/d/f", false},
		{"/d/BIT1A2F.tmp.x", "/d/f", false},
		{"/d/passwd", "/d/f", false},
	} {
		if got := isTempNameOf(c.temp, c.local); got != c.ok {
			t.Errorf("isTempNameOf(%q, %q) = %v, want %v", c.temp, c.local, got, c.ok)
		}
	}
	j := &Job{ID: "X", Files: []File{{LocalName: "/d/f", TempName: "/etc/BIT1.tmp"}}}
	if err := checkTempNames(j); !hresult.Is(err, hresult.E_ACCESSDENIED) {
		t.Errorf("a job with a forged temporary name: %v", err)
	}
	j = &Job{ID: "X", Type: UploadReply, Files: []File{{LocalName: "/d/f"}}, Reply: Reply{TempName: "/d/BIT1.tmp"}}
	if err := checkTempNames(j); err != nil {
		t.Errorf("a reply's temporary file beside the upload: %v", err)
	}
}

func TestRightsFollowModeBits(t *testing.T) {
	r := rights{uid: 1000, groups: []uint32{1000, 27}}
	for _, c := range []struct {
		uid, gid, mode, perm uint32
		ok                   bool
	}{
		{1000, 0, 0o700, 2, true},
		{1000, 0, 0o077, 2, false}, // the owner's bits decide for the owner
		{0, 27, 0o070, 2 | 1, true},
		{0, 27, 0o707, 2, false},
		{0, 0, 0o777, 2 | 1, true},
		{0, 0, 0o775, 2, false},
		{0, 0, 0o755, 4 | 1, true},
	} {
		st := unix.Stat_t{Uid: c.uid, Gid: c.gid}
		setMode(&st.Mode, c.mode)
		if got := r.may(&st, c.perm); got != c.ok {
			t.Errorf("uid %d gid %d mode %o perm %o: %v, want %v", c.uid, c.gid, c.mode, c.perm, got, c.ok)
		}
	}
}

// setMode sets a mode whose width differs between systems.
func setMode[T ~uint16 | ~uint32](p *T, mode uint32) { *p = T(mode) }

// needRoot skips a test that changes owners, unless CI is set.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this test needs root (CI runs as root)")
		}
		t.Skip("needs root to give files to another uid (CI is unset)")
	}
}

const someUID = 54321 // no account needed: only the number is compared

func TestCheckStoreFollowsNoLinkAndWantsTheUser(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	home := filepath.Join(dir, "bits")
	os.Mkdir(home, 0o700)
	os.WriteFile(filepath.Join(home, "jobs.db"), nil, 0o600)
	os.Chown(home, someUID, someUID)
	os.Chown(filepath.Join(home, "jobs.db"), someUID, someUID)
	if _, err := checkStore(home, someUID); err != nil {
		t.Fatalf("the user's own store: %v", err)
	}
	if _, err := checkStore(home, someUID+1); err == nil {
		t.Error("a store of another uid passed")
	}

	link := filepath.Join(dir, "link")
	os.Symlink(home, link)
	os.Lchown(link, someUID, someUID)
	if _, err := checkStore(link, someUID); err == nil {
		t.Error("a folder that is a link passed")
	}

	target := filepath.Join(dir, "root-file")
	os.WriteFile(target, nil, 0o644)
	os.Remove(filepath.Join(home, "jobs.db"))
	os.Symlink(target, filepath.Join(home, "jobs.db"))
	os.Lchown(filepath.Join(home, "jobs.db"), someUID, someUID)
	if _, err := checkStore(home, someUID); err == nil {
		t.Error("a jobs.db that is a link passed")
	}
	if fi, _ := os.Stat(target); fi.Mode().Perm() != 0o644 {
		t.Errorf("the link's target changed mode: %v", fi.Mode())
	}
}

func TestOpenFolderAsRootFollowsOnlyRootsLinks(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	os.Mkdir(real, 0o755)
	os.Symlink(real, filepath.Join(dir, "roots"))
	os.Symlink("real", filepath.Join(dir, "relative"))
	os.Symlink(real, filepath.Join(dir, "users"))
	os.Lchown(filepath.Join(dir, "users"), someUID, someUID)

	want, _ := os.Stat(real)
	for _, name := range []string{"real", "roots", "relative"} {
		fd, err := openFolderAsRoot(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var st unix.Stat_t
		unix.Fstat(fd, &st)
		unix.Close(fd)
		if st.Ino != want.Sys().(*syscall.Stat_t).Ino {
			t.Errorf("%s led to another folder", name)
		}
	}
	if _, err := openFolderAsRoot(filepath.Join(dir, "users")); !hresult.Is(err, hresult.E_ACCESSDENIED) {
		t.Errorf("a link of another uid: %v", err)
	}
}

func TestBrokenJobIsListedButItsFilesAreLeftAlone(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	m, err := Open(Options{Home: filepath.Join(dir, "state"), StartWorker: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	j, err := m.Create(ctx, "forged", Download)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.AddFile(ctx, j.ID, "http://127.0.0.1:9/f", filepath.Join(dir, "f")); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("keep"), 0o644)
	err = m.store.Update(ctx, func(tx *storage.Tx) error {
		_, err := tx.SetFileProgress(j.ID, 0, storage.FileProgress{TempName: victim, BytesTotal: 4, BytesDone: 4, Complete: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if jobs, err := m.List(ctx); err != nil || len(jobs) != 1 {
		t.Fatalf("List: %d jobs, %v", len(jobs), err)
	}
	if _, err := m.Complete(ctx, j.ID); !hresult.Is(err, hresult.E_ACCESSDENIED) {
		t.Errorf("Complete: %v", err)
	}
	if _, err := m.Cancel(ctx, j.ID); !hresult.Is(err, hresult.E_ACCESSDENIED) {
		t.Errorf("Cancel: %v", err)
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "keep" {
		t.Errorf("the file the record named: %q, %v", b, err)
	}
	if err := m.Resume(ctx, j.ID); err != nil {
		t.Errorf("a broken job cannot even change state: %v", err)
	}
}
