package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CheckGolden compares got with the golden file at path, or rewrites the
// file when update is set (each package's -update flag).
func CheckGolden(tb testing.TB, path, got string, update bool) {
	tb.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		tb.Errorf("output differs from %s (run with -update to accept):\n%s", path, Diff(string(want), got))
	}
}

// Diff shows the first line where want and got differ, with context.
func Diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	i := 0
	for i < len(w) && i < len(g) && w[i] == g[i] {
		i++
	}
	var b strings.Builder
	for _, l := range w[max(0, i-3):i] {
		fmt.Fprintf(&b, "  %q\n", l)
	}
	if i < len(w) {
		fmt.Fprintf(&b, "- %q\n", w[i])
	}
	if i < len(g) {
		fmt.Fprintf(&b, "+ %q\n", g[i])
	}
	return fmt.Sprintf("first difference at line %d:\n%s", i+1, b.String())
}
