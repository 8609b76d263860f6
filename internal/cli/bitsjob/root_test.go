package bitsjob

import (
	"slices"
	"strings"
	"testing"
)

// Each entry of commands builds the command it is named after, so that
// newRootFor, which picks a command by that name without building the
// others, runs what the whole tree would.
func TestCommandNames(t *testing.T) {
	for _, c := range commands {
		if got := c.build(&env{}).Name(); got != c.name {
			t.Errorf("commands names %q for the command %q", c.name, got)
		}
	}
}

// A command line that names a command builds that command alone; any other
// gets the whole tree, help and completion included.
func TestRootForACommandLine(t *testing.T) {
	names := func(args ...string) []string {
		var out []string
		for _, c := range newRootFor(&env{}, args).Commands() {
			out = append(out, c.Name())
		}
		return out
	}
	for _, args := range [][]string{{"get", "x"}, {"--json", "get", "x"}, {"get", "--json"}} {
		if got := names(args...); !slices.Equal(got, []string{"get"}) {
			t.Errorf("%s: the tree has %v, want get alone", strings.Join(args, " "), got)
		}
	}
	for _, args := range [][]string{nil, {"--help"}, {"help", "get"}, {"__complete", "get", ""}, {"nosuch"}, {"--", "get"}} {
		if got := names(args...); len(got) < len(commands) || !slices.Contains(got, "completion") {
			t.Errorf("%s: the tree has %v, want every command", strings.Join(args, " "), got)
		}
	}
}
