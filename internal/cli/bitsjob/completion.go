package bitsjob

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/spf13/cobra"
)

// installCompletion gives cobra's completion command --install: it writes
// the completion of bitsjob, and of bitsadmin and bitsserver beside it, for
// the user's shell ($SHELL, or the one named), where that shell looks.
func (e *env) installCompletion(root *cobra.Command) {
	cmd, _, err := root.Find([]string{"completion"})
	if err != nil || cmd == root {
		return
	}
	var install string
	cmd.Flags().StringVar(&install, "install", "", "write the completion of bitsjob, bitsadmin and bitsserver where your shell looks: --install for $SHELL's, --install=bash|zsh|fish for another")
	cmd.Flags().Lookup("install").NoOptDefVal = "$SHELL"
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if install == "" {
			return cmd.Help()
		}
		shell := install
		if shell == "$SHELL" {
			shell = filepath.Base(os.Getenv("SHELL"))
		}
		dir, name, err := completionPlace(shell)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return &opError{action: "make " + dir, err: err}
		}
		for _, prog := range []string{"bitsjob", "bitsadmin", "bitsserver"} {
			var script bytes.Buffer
			if prog == "bitsjob" {
				err = genCompletion(root, shell, &script)
			} else {
				err = otherCompletion(prog, shell, &script)
			}
			if err != nil {
				fmt.Fprintf(e.stderr, "bitsjob: no completion for %s: %v\n", prog, err)
				continue
			}
			path := filepath.Join(dir, name(prog))
			if err := os.WriteFile(path, script.Bytes(), 0o644); err != nil {
				return &opError{action: "write " + path, err: err}
			}
			fmt.Fprintln(e.stdout, "Wrote", path)
		}
		if shell == "zsh" {
			fmt.Fprintf(e.stdout, "zsh reads them once %s is in fpath: add fpath+=(%s) before compinit in ~/.zshrc\n", dir, dir)
		}
		return nil
	}
}

// completionPlace is where shell looks for a user's completions, and the
// file name it wants for a program.
func completionPlace(shell string) (string, func(string) string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", nil, err
	}
	data := cmp.Or(os.Getenv("XDG_DATA_HOME"), filepath.Join(home, ".local", "share"))
	config := cmp.Or(os.Getenv("XDG_CONFIG_HOME"), filepath.Join(home, ".config"))
	switch shell {
	case "bash":
		return filepath.Join(data, "bash-completion", "completions"), func(p string) string { return p }, nil
	case "zsh":
		return filepath.Join(data, "zsh", "site-functions"), func(p string) string { return "_" + p }, nil
	case "fish":
		return filepath.Join(config, "fish", "completions"), func(p string) string { return p + ".fish" }, nil
	}
	return "", nil, usageErr("no completion for the shell %q: give bash, zsh or fish", shell)
}

func genCompletion(root *cobra.Command, shell string, w *bytes.Buffer) error {
	switch shell {
	case "bash":
		return root.GenBashCompletionV2(w, true)
	case "zsh":
		return root.GenZshCompletion(w)
	}
	return root.GenFishCompletion(w, true)
}

// otherCompletion asks bitsadmin or bitsserver, beside this program or on
// PATH, for its script.
func otherCompletion(prog, shell string, w *bytes.Buffer) error {
	path, err := exec.LookPath(prog)
	if self, serr := os.Executable(); serr == nil {
		if p := filepath.Join(filepath.Dir(self), prog); isFile(p) {
			path, err = p, nil
		}
	}
	if err != nil {
		return err
	}
	cmd := exec.Command(path, "--completion", shell)
	cmd.Stdout = w
	return cmd.Run()
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}
