package hresult

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestHTTPMapping(t *testing.T) {
	for status, want := range map[int]Code{400: 0x80190190, 401: 0x80190191, 403: 0x80190193,
		404: 0x80190194, 407: 0x80190197, 416: 0x801901A0, 500: 0x801901F4, 503: 0x801901F7} {
		if got := HTTP(status); got != want || got.HTTPStatus() != status {
			t.Errorf("HTTP(%d) = 0x%08x (status %d), want 0x%08x", status, uint32(got), got.HTTPStatus(), uint32(want))
		}
	}
	if BG_E_NOT_FOUND.HTTPStatus() != 0 {
		t.Error("a BITS code read as an HTTP status")
	}
}

func TestHTTPTransient(t *testing.T) {
	transient := map[int]bool{301: false, 304: false, 307: false, 308: true, 400: false, 401: false,
		403: false, 404: false, 408: true, 409: true, 429: true, 500: true, 501: false, 503: true, 505: false}
	for status, want := range transient {
		if got := HTTPTransient(status); got != want {
			t.Errorf("HTTPTransient(%d) = %v, want %v", status, got, want)
		}
	}
}

func TestMessagesOfDocumentedOutput(t *testing.T) {
	// These texts appear in documented Windows output and scripts match them.
	for c, want := range map[Code]string{
		BG_E_INVALID_STATE:        "The requested action is not allowed in the current job state. The job is read-only. The job may have been canceled or completed transferring.",
		BG_E_OVERLAPPING_RANGES:   "The list of byte ranges contains some overlapping ranges, which are not supported.",
		E_INVALIDARG:              "The parameter is incorrect.",
		WINHTTP_NAME_NOT_RESOLVED: "The server name or address could not be resolved",
	} {
		if got := c.Message(); got != want {
			t.Errorf("0x%08x: %q, want %q", uint32(c), got, want)
		}
	}
	if got := ContextRemoteFile.Message(); got != "The error occurred while the remote file was being processed." {
		t.Errorf("context 5: %q", got)
	}
	if got := HTTP(404).Message(); got != "HTTP status 404: Not Found" {
		t.Errorf("404: %q", got)
	}
}

func TestFromKeepsCodeThroughWrapping(t *testing.T) {
	err := fmt.Errorf("adding: %w", Fatal(BG_E_TOO_MANY_FILES, ContextNone, "x"))
	if e := From(err); e.Code != BG_E_TOO_MANY_FILES || e.Transient {
		t.Errorf("From = %+v", e)
	}
	if !Is(err, BG_E_TOO_MANY_FILES) || Is(err, BG_E_EMPTY) {
		t.Error("Is does not see through wrapping")
	}
	if e := From(errors.New("plain")); e.Code != E_FAIL || !e.Transient {
		t.Errorf("an uncoded error = %+v, want transient E_FAIL", e)
	}
}

func TestNames(t *testing.T) {
	for c, want := range map[Code]string{
		BG_E_NOT_FOUND:   "BG_E_NOT_FOUND",
		E_INVALIDARG:     "E_INVALIDARG",
		HTTP(404):        "BG_E_HTTP_ERROR_404",
		HTTP(418):        "BG_E_HTTP_ERROR_418",
		Code(0x8000FFFF): "HRESULT_8000FFFF",
	} {
		if got := c.Name(); got != want {
			t.Errorf("0x%08x: %q, want %q", uint32(c), got, want)
		}
	}
}

// TestNamesAreGenerated: names.go is what gennames.go makes of codes.go
// now: a code added without go generate fails here.
func TestNamesAreGenerated(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "names.go")
	if b, err := exec.Command("go", "run", "gennames.go", dir).CombinedOutput(); err != nil {
		t.Fatalf("go run gennames.go: %v\n%s", err, b)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("names.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("names.go is out of date: run go generate ./hresult")
	}
}
