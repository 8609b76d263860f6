package smb

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/testenv"
	"bits/internal/testenv/transporttest"
)

var tempName = regexp.MustCompile(`^(sub/)?BIT[0-9A-F]{4}\.tmp$`)

func TestUpload(t *testing.T) {
	s, tr := setup(t, Options{})
	ctx := context.Background()
	s.WriteFile("sub/up.bin", []byte("the old file, to be replaced"))
	r := req(t, s, "sub/up.bin")
	data := randomData(3<<20 + 99)
	size := int64(len(data))

	session, err := tr.Begin(ctx, r, size)
	if err != nil {
		t.Fatal(err)
	}
	if !tempName.MatchString(session) {
		t.Fatalf("session %q is not a temporary name in sub/", session)
	}
	if got := testenv.TempFiles(t, filepath.Join(s.Dir(), "sub")); len(got) != 1 {
		t.Fatalf("temporary files %v, want one", got)
	}

	half := size / 2
	if n, err := tr.Send(ctx, r, session, 0, size, transporttest.Section(data[:half])); err != nil || n != half {
		t.Fatalf("Send = %d, %v; want %d", n, err, half)
	}
	if n, err := tr.Resume(ctx, r, session, 0, 0); err != nil || n != half {
		t.Fatalf("Resume = %d, %v; want %d", n, err, half)
	}
	// Bytes past the offset given are not confirmed: they are dropped.
	if n, err := tr.Send(ctx, r, session, half-10, size, transporttest.Section(data[half-10:])); err != nil || n != size {
		t.Fatalf("Send = %d, %v; want %d", n, err, size)
	}
	if old, _ := os.ReadFile(filepath.Join(s.Dir(), "sub/up.bin")); len(old) == len(data) {
		t.Fatal("the remote file changed before Commit")
	}
	if err := tr.Commit(ctx, r, session, nil); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(s.Dir(), "sub/up.bin"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("uploaded file: %d bytes, %v; want the %d sent", len(got), err, len(data))
	}
	if left := testenv.TempFiles(t, filepath.Join(s.Dir(), "sub")); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	// The session ended with Commit.
	if _, err := tr.Resume(ctx, r, session, 0, 0); !errors.Is(err, transport.ErrSessionLost) {
		t.Fatalf("Resume after Commit = %v, want ErrSessionLost", err)
	}

	// A new file, where none was.
	r2 := req(t, s, "new.bin")
	session, err = tr.Begin(ctx, r2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Send(ctx, r2, session, 0, 3, transporttest.Section([]byte("abc"))); err != nil {
		t.Fatal(err)
	}
	if err := tr.Commit(ctx, r2, session, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(s.Dir(), "new.bin")); string(got) != "abc" {
		t.Fatalf("new.bin = %q", got)
	}
}

func TestUploadCancel(t *testing.T) {
	s, tr := setup(t, Options{})
	ctx := context.Background()
	r := req(t, s, "up.bin")
	session, err := tr.Begin(ctx, r, 10)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Send(ctx, r, session, 0, 10, transporttest.Section([]byte("0123456789"))); err != nil {
		t.Fatal(err)
	}
	for range 2 { // cancelling twice is no error
		if err := tr.Cancel(ctx, r, session); err != nil {
			t.Fatal(err)
		}
	}
	if left := testenv.TempFiles(t, s.Dir()); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "up.bin")); !os.IsNotExist(err) {
		t.Fatalf("the remote file appeared: %v", err)
	}
	if _, err := tr.Resume(ctx, r, session, 0, 0); !errors.Is(err, transport.ErrSessionLost) {
		t.Fatalf("Resume = %v, want ErrSessionLost", err)
	}
	if _, err := tr.Send(ctx, r, session, 0, 10, transporttest.Section(nil)); !errors.Is(err, transport.ErrSessionLost) {
		t.Fatalf("Send = %v, want ErrSessionLost", err)
	}
	if err := tr.Commit(ctx, r, session, nil); !errors.Is(err, transport.ErrSessionLost) {
		t.Fatalf("Commit = %v, want ErrSessionLost", err)
	}
}

func TestUploadRefusals(t *testing.T) {
	s, tr := setup(t, Options{})
	ctx := context.Background()

	_, err := tr.Begin(ctx, req(t, s, "nodir/up.bin"), 1)
	wantError(t, err, hresult.E_PATH_NOT_FOUND, hresult.ContextRemoteFile, false)

	// A folder owned by root that the share user may not write to.
	if err := os.Mkdir(filepath.Join(s.Dir(), "ro"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = tr.Begin(ctx, req(t, s, "ro/up.bin"), 1)
	wantError(t, err, hresult.E_ACCESSDENIED, hresult.ContextRemoteFile, false)

	// Tokens that are not a temporary file beside the remote name are
	// sessions never begun, and touch nothing.
	s.WriteFile("keep.txt", []byte("keep"))
	r := req(t, s, "sub/up.bin")
	for _, session := range []string{"keep.txt", "../BIT0000.tmp", "BIT0000.tmp", "sub/../keep.txt", "sub/BITzzzz.tmp", "sub/bit0000.tmp", "/sub/BIT0000.tmp"} {
		if err := tr.Cancel(ctx, r, session); !errors.Is(err, transport.ErrSessionLost) {
			t.Errorf("Cancel(%q) = %v, want ErrSessionLost", session, err)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "keep.txt")); err != nil {
		t.Fatal(err)
	}
}
