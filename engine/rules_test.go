package engine_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"bits/engine"
	"bits/hresult"
)

func TestParseRanges(t *testing.T) {
	r, err := engine.ParseRanges("0:100, 200:EOF")
	if want := []engine.Range{{Offset: 0, Length: 100}, {Offset: 200, Length: engine.ToEOF}}; err != nil || !slices.Equal(r, want) {
		t.Errorf("ParseRanges = %v, %v; want %v", r, err, want)
	}
	for _, bad := range []string{"", "1", "x:1", "1:y", "1:2,", "-1:2", "0:18446744073709551615"} {
		if _, err := engine.ParseRanges(bad); !hresult.Is(err, hresult.E_INVALIDARG) {
			t.Errorf("ParseRanges(%q) = %v, want E_INVALIDARG", bad, err)
		}
	}
}

// TestCheckHeader: the engine refuses a header that is not Name: value,
// from a Go caller as from the command lines, without repeating it.
func TestCheckHeader(t *testing.T) {
	for h, ok := range map[string]bool{
		"X-A: 1": true, "X-A:": true, "Authorization: Bearer secret": true,
		"no colon": false, ": no name": false, "Bad Name: 1": false, "X(A): 1": false,
		"X-A: 1\r\nX-B: 2": false, "X-A: 1\nsecret": false, "Näme: 1": false,
	} {
		err := engine.CheckHeader(h)
		if (err == nil) != ok {
			t.Errorf("CheckHeader(%q) = %v, want ok %v", h, err, ok)
		}
		if err != nil && strings.Contains(err.Error(), h) {
			t.Errorf("CheckHeader(%q) repeats the header: %v", h, err)
		}
	}
}

func TestSetRefusesABadHeader(t *testing.T) {
	m := openIdle(t, t.TempDir(), engine.Options{})
	ctx := context.Background()
	j, err := m.Create(ctx, "headers", engine.Download)
	if err != nil {
		t.Fatal(err)
	}
	bad := "X-A: 1\r\nnot a header"
	if err := m.Set(ctx, j.ID, engine.Props{CustomHeaders: &bad}); !hresult.Is(err, hresult.E_INVALIDARG) {
		t.Errorf("Set of %q = %v, want E_INVALIDARG", bad, err)
	}
	good := "X-A: 1\r\nX-B: 2"
	if err := m.Set(ctx, j.ID, engine.Props{CustomHeaders: &good}); err != nil {
		t.Errorf("Set of %q: %v", good, err)
	}
}
