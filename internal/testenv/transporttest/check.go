package transporttest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"bits/hresult"
	"bits/internal/testenv"
)

// fileSize is a few MiB and odd, so that copies take several buffers, end
// on a partial one, and a cut at a third of it lands mid-transfer.
const fileSize = 4<<20 + 4321

// prompt bounds how long a transport may take to notice a cancelled
// context: far less than any timeout a transport would apply, far more than
// a loaded machine needs to close a connection.
const prompt = 10 * time.Second

func content(seed uint64) []byte { return testenv.RandomContent(fileSize, seed) }

// wantSum fails unless got has want's SHA-256.
func wantSum(t testing.TB, got, want []byte) {
	t.Helper()
	if sha256.Sum256(got) != sha256.Sum256(want) {
		at := -1
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				at = i
				break
			}
		}
		t.Fatalf("SHA-256 differs: got %d bytes, want %d (first difference at byte %d)", len(got), len(want), at)
	}
}

// wantFatal fails unless err is a fatal *hresult.Error about the remote
// file with one of codes.
func wantFatal(t testing.TB, what string, err error, codes []hresult.Code) {
	t.Helper()
	var he *hresult.Error
	if !errors.As(err, &he) {
		t.Fatalf("%s: err = %v (%T), want a fatal *hresult.Error", what, err, err)
	}
	if he.Transient {
		t.Errorf("%s: 0x%08x (%v) is transient; retrying cannot help", what, uint32(he.Code), he)
	}
	if he.Context != hresult.ContextRemoteFile {
		t.Errorf("%s: context = %d, want %d (remote file)", what, he.Context, hresult.ContextRemoteFile)
	}
	if !slices.Contains(codes, he.Code) {
		t.Errorf("%s: code = 0x%08x (%v), want one of %s", what, uint32(he.Code), he, codeList(codes))
	}
}

// wantTransient fails unless err is a transient *hresult.Error, about the
// remote file or the transport (a broken connection can be either).
func wantTransient(t testing.TB, what string, err error) {
	t.Helper()
	var he *hresult.Error
	if !errors.As(err, &he) {
		t.Fatalf("%s: err = %v (%T), want a transient *hresult.Error", what, err, err)
	}
	if !he.Transient {
		t.Errorf("%s: 0x%08x (%v) is fatal; a broken connection is worth retrying", what, uint32(he.Code), he)
	}
	if he.Context != hresult.ContextRemoteFile && he.Context != hresult.ContextGeneralTransport {
		t.Errorf("%s: context = %d, want %d or %d", what, he.Context, hresult.ContextRemoteFile, hresult.ContextGeneralTransport)
	}
}

// wantCanceled fails unless err says the caller's context was cancelled.
func wantCanceled(t testing.TB, what string, err error) {
	t.Helper()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%s: err = %v (%T), want context.Canceled", what, err, err)
	}
}

func codeList(codes []hresult.Code) string {
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = fmt.Sprintf("0x%08x", uint32(c))
	}
	return strings.Join(s, ", ")
}
