//go:build manpages

package bitsjob

import (
	"os"
	"path/filepath"
	"testing"

	"bits/internal/testenv"
)

// TestManPages: bitsjob man-pages writes a page for bitsjob and one for
// each of its commands, from their help; the main page is as recorded.
func TestManPages(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1764979200")
	dir := t.TempDir()
	h := newHarness(t)
	h.must("man-pages", dir)
	for _, name := range []string{"bitsjob.1", "bitsjob-transfer.1", "bitsjob-service-install.1", "bitsjob-config-set.1"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("no page %s: %v", name, err)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "bitsjob-man-pages.1")); err == nil {
		t.Errorf("the hidden command has a page:\n%s", b)
	}
	b, err := os.ReadFile(filepath.Join(dir, "bitsjob.1"))
	if err != nil {
		t.Fatal(err)
	}
	testenv.CheckGolden(t, filepath.Join("testdata", "bitsjob.1.golden"), string(b), *update)
}
