package bitsadmin

import (
	"context"
	"fmt"
	"io"
	"strings"

	"bits/engine"
)

// Shell completion: the scripts of --completion ask bitsadmin itself,
// through --complete, for the words that may come next, so that they
// follow the verb table and the jobs there are.

// complete writes the candidates for the last of words (the command line
// after the program's name, the last word being typed), one per line: a
// verb or a prefix first, then, after a verb that takes a job, the jobs'
// names and GUIDs. Nothing means the shell's own completion (file names).
func complete(ctx context.Context, e *env, words []string) {
	if len(words) == 0 {
		words = []string{""}
	}
	typed := words[len(words)-1]
	before := words[:len(words)-1]
	for len(before) > 0 && isPrefix(before[0]) {
		before = before[1:]
	}
	lower := typed != strings.ToUpper(typed) // answer in the case being typed
	say := func(c string) {
		if lower {
			c = strings.ToLower(c)
		}
		if strings.HasPrefix(strings.ToUpper(c), strings.ToUpper(typed)) {
			fmt.Fprintln(e.stdout, c)
		}
	}
	switch {
	case len(before) == 0:
		for _, p := range []string{"/RAWRETURN", "/WRAP", "/NOWRAP"} {
			say(p)
		}
		for _, v := range verbs {
			say(v.name)
		}
	case len(before) == 1:
		v, ok := lookupVerb(strings.ToUpper(before[0]))
		if !ok || !strings.HasPrefix(v.syntax, "<job>") {
			return
		}
		m, err := e.manager()
		if err != nil {
			return
		}
		defer func() { m.Close(); e.m = nil }() // a key press starts no worker
		m.EachSummary(ctx, func(s engine.Summary) error {
			for _, c := range []string{s.DisplayName, "{" + s.ID + "}"} {
				if strings.HasPrefix(strings.ToUpper(c), strings.ToUpper(typed)) {
					fmt.Fprintln(e.stdout, c)
				}
			}
			return nil
		})
	}
}

func isPrefix(w string) bool {
	switch strings.ToUpper(w) {
	case "/RAWRETURN", "/WRAP", "/NOWRAP":
		return true
	}
	return false
}

// completionScript is the script that makes a shell complete bitsadmin's
// words through --complete.
func completionScript(w io.Writer, shell string) error {
	s, ok := completionScripts[shell]
	if !ok {
		return fmt.Errorf("no completion for %q: bash, zsh or fish", shell)
	}
	_, err := io.WriteString(w, s)
	return err
}

var completionScripts = map[string]string{
	"bash": `# bitsadmin completion for bash: source it, or put it in
# ~/.local/share/bash-completion/completions/bitsadmin
_bitsadmin() {
	local IFS=$'\n' c
	COMPREPLY=()
	while read -r c; do
		COMPREPLY+=("$(printf '%q' "$c")") # a job's name may hold blanks
	done < <(bitsadmin --complete "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
	[ ${#COMPREPLY[@]} -eq 0 ] && compopt -o default 2>/dev/null
	return 0
}
complete -F _bitsadmin bitsadmin
`,
	"zsh": `#compdef bitsadmin
# bitsadmin completion for zsh: put it in a folder of $fpath as _bitsadmin
_bitsadmin() {
	local -a candidates
	candidates=("${(@f)$(bitsadmin --complete "${(@)words[2,CURRENT]}" 2>/dev/null)}")
	if [[ -n ${candidates[1]} ]]; then
		compadd -Q -a candidates
	else
		_files
	fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then
	_bitsadmin "$@"
else
	compdef _bitsadmin bitsadmin
fi
`,
	"fish": `# bitsadmin completion for fish: put it in ~/.config/fish/completions/bitsadmin.fish
complete -c bitsadmin -a '(bitsadmin --complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null)'
`,
}
