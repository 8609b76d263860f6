package smb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"

	"bits/hresult"
	"bits/internal/testenv"
	"bits/internal/testenv/transporttest"
)

// A download cut by a crashed server fails as a transient transport
// error, and carries on from the bytes it had once the server is back,
// with the same Transport (its session is dropped and made anew).
func TestDownloadSurvivesServerCrash(t *testing.T) {
	s, tr := setup(t, Options{})
	data := randomData(24 << 20)
	s.WriteFile("big.bin", data)
	r := req(t, s, "big.bin")
	ctx := context.Background()
	info, err := tr.Stat(ctx, r)
	if err != nil {
		t.Fatal(err)
	}

	var got bytes.Buffer
	killed := false
	w := writerFunc(func(p []byte) (int, error) {
		got.Write(p)
		if !killed && got.Len() >= 5<<20 {
			killed = true
			s.Kill()
		}
		return len(p), nil
	})
	n, err := tr.Download(ctx, r, 0, -1, info, w)
	wantError(t, err, hresult.BG_E_CONNECTION_CLOSED, hresult.ContextGeneralTransport, true)
	if !killed || n != int64(got.Len()) || n >= int64(len(data)) {
		t.Fatalf("Download = %d bytes (%d written), killed %v; want a cut short transfer", n, got.Len(), killed)
	}

	// While the server is down, calls fail fast and transiently.
	_, err = tr.Stat(ctx, r)
	wantError(t, err, hresult.BG_E_CONNECT_FAILURE, hresult.ContextGeneralTransport, true)

	s.Restart()
	info2, err := tr.Stat(ctx, r)
	if err != nil || info2.Validator != info.Validator {
		t.Fatalf("Stat after the restart = %+v, %v; want the same file", info2, err)
	}
	m, err := tr.Download(ctx, r, n, -1, info, &got)
	if err != nil || n+m != int64(len(data)) {
		t.Fatalf("resumed Download = %d, %v; want the %d bytes left", m, err, int64(len(data))-n)
	}
	if sha256.Sum256(got.Bytes()) != sha256.Sum256(data) {
		t.Fatal("the resumed download differs from the file")
	}
}

// An upload cut by a crashed server confirms only what it flushed, and
// completes from there once the server is back.
func TestUploadSurvivesServerCrash(t *testing.T) {
	s, tr := setup(t, Options{})
	ctx := context.Background()
	r := req(t, s, "up.bin")
	data := randomData(3*syncEvery + 12345)
	size := int64(len(data))
	session, err := tr.Begin(ctx, r, size)
	if err != nil {
		t.Fatal(err)
	}

	src := &crashingReader{r: bytes.NewReader(data), at: 2*syncEvery + 1<<20, crash: s.Kill}
	confirmed, err := tr.Send(ctx, r, session, 0, size, io.NewSectionReader(src, 0, size))
	wantError(t, err, hresult.BG_E_CONNECTION_CLOSED, hresult.ContextGeneralTransport, true)
	if !src.crashed || confirmed != 2*syncEvery {
		t.Fatalf("Send confirmed %d (crashed %v); want the %d bytes flushed before the crash", confirmed, src.crashed, 2*syncEvery)
	}

	s.Restart()
	held, err := tr.Resume(ctx, r, session, 0, 0)
	if err != nil || held < confirmed {
		t.Fatalf("Resume = %d, %v; want at least the %d confirmed", held, err, confirmed)
	}
	if n, err := tr.Send(ctx, r, session, confirmed, size, transporttest.Section(data[confirmed:])); err != nil || n != size {
		t.Fatalf("resumed Send = %d, %v; want %d", n, err, size)
	}
	if err := tr.Commit(ctx, r, session, nil); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(s.Dir(), "up.bin"))
	if err != nil || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("uploaded file: %d bytes, %v; want the %d sent, byte for byte", len(got), err, size)
	}
	if left := testenv.TempFiles(t, s.Dir()); len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// crashingReader calls crash once a read reaches at. The uploader reads it
// in order, through a section.
type crashingReader struct {
	r       io.ReaderAt
	at      int64
	crash   func()
	crashed bool
}

func (c *crashingReader) ReadAt(p []byte, off int64) (int, error) {
	if !c.crashed {
		if off >= c.at {
			c.crashed = true
			c.crash()
		} else {
			p = p[:min(int64(len(p)), c.at-off)]
		}
	}
	return c.r.ReadAt(p, off)
}
