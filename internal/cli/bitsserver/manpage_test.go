package bitsserver

import (
	"context"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"bits/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// TestManPage: bitsserver --man prints the manual page, every flag in it.
func TestManPage(t *testing.T) {
	var stdout, stderr strings.Builder
	if code := run(context.Background(), []string{"--man"}, strings.NewReader(""), &stdout, &stderr); code != 0 || stderr.Len() != 0 {
		t.Fatalf("--man: exit %d, stderr %q", code, stderr.String())
	}
	var o options
	newFlagSet(&o).VisitAll(func(f *flag.Flag) {
		if !strings.Contains(stdout.String(), ".B \\-"+strings.ReplaceAll(f.Name, "-", `\-`)) {
			t.Errorf("the manual page has no entry for -%s", f.Name)
		}
	})
	testenv.CheckGolden(t, filepath.Join("testdata", "bitsserver.1.golden"), stdout.String(), *update)
}
