package bitsadmin

import (
	"path/filepath"
	"strings"
	"testing"

	"bits/internal/testenv"
)

// TestManPage: bitsadmin --man prints the manual page, every verb of the
// table in it.
func TestManPage(t *testing.T) {
	page := manPage()
	for _, v := range verbs {
		if !strings.Contains(page, ".B "+strings.ReplaceAll(v.name, "-", `\-`)) {
			t.Errorf("the manual page has no entry for %s", v.name)
		}
	}
	testenv.CheckGolden(t, filepath.Join("testdata", "bitsadmin.1.golden"), page, *update)
}
