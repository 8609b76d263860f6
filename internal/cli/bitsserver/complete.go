package bitsserver

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// completionScript writes the script that makes a shell complete
// bitsserver's flags, from the flag set that parses them; values are
// completed as file names.
func completionScript(w io.Writer, shell string) error {
	var o options
	var names []string
	var fish strings.Builder
	newFlagSet(&o).VisitAll(func(f *flag.Flag) {
		names = append(names, "-"+f.Name)
		_, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(&fish, "complete -c bitsserver -o %s -d %s\n", f.Name, fishQuote(usage))
	})
	var s string
	switch shell {
	case "bash":
		s = "# bitsserver completion for bash: source it, or put it in\n" +
			"# ~/.local/share/bash-completion/completions/bitsserver\n" +
			"complete -o default -W '" + strings.Join(names, " ") + "' bitsserver\n"
	case "zsh":
		s = "#compdef bitsserver\n# bitsserver completion for zsh: put it in a folder of $fpath as _bitsserver\n" +
			"_bitsserver() {\n\tif [[ $PREFIX == -* ]]; then\n\t\tcompadd -- " + strings.Join(names, " ") + "\n\telse\n\t\t_files\n\tfi\n}\n" +
			"if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n\t_bitsserver \"$@\"\nelse\n\tcompdef _bitsserver bitsserver\nfi\n"
	case "fish":
		s = "# bitsserver completion for fish: put it in ~/.config/fish/completions/bitsserver.fish\n" + fish.String()
	default:
		return fmt.Errorf("no completion for %q: bash, zsh or fish", shell)
	}
	_, err := io.WriteString(w, s)
	return err
}

// fishQuote quotes s for fish, in single quotes.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
