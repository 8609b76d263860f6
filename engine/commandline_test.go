package engine

import (
	"slices"
	"testing"
)

// TestSplitCommandLine: the examples of Microsoft's documentation of how
// a program's command line is split ("Parsing C command-line arguments",
// the rules CommandLineToArgvW describes), each after a program's name,
// and the program name's own rule: quotes group, backslashes are plain.
func TestSplitCommandLine(t *testing.T) {
	for _, c := range []struct {
		line string
		want []string
	}{
		{`prog "a b c" d e`, []string{"prog", "a b c", "d", "e"}},
		{`prog "ab\"c" "\\" d`, []string{"prog", `ab"c`, `\`, "d"}},
		{`prog a\\\b d"e f"g h`, []string{"prog", `a\\\b`, "de fg", "h"}},
		{`prog a\\\"b c d`, []string{"prog", `a\"b`, "c", "d"}},
		{`prog a\\\\"b c" d e`, []string{"prog", `a\\b c`, "d", "e"}},
		{`prog a"b"" c d`, []string{"prog", `ab" c d`}},
		{`"C:\Program Files\tool.exe" x`, []string{`C:\Program Files\tool.exe`, "x"}},
		{`C:\dir\tool.exe\ "x y"`, []string{`C:\dir\tool.exe\`, "x y"}},
		{"  prog\t a  ", []string{"prog", "a"}},
		{`prog "" x`, []string{"prog", "", "x"}},
		{"", nil},
	} {
		if got := SplitCommandLine(c.line); !slices.Equal(got, c.want) {
			t.Errorf("SplitCommandLine(%s) = %q, want %q", c.line, got, c.want)
		}
	}
}
