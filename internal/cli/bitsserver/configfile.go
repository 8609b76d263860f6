package bitsserver

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// A setting is one "key = value" line of a config file.
type setting struct {
	line       int
	key, value string
}

// readConfig parses a config file: one "key = value" per line, keys named
// as the flags without the dash, blank lines and lines starting with #
// ignored. Values run to the end of the line (a # in them is kept: URLs
// have them); surrounding spaces are dropped. Only repeatable keys
// (upload) may appear twice.
func readConfig(r io.Reader, fl *flag.FlagSet) ([]setting, error) {
	var out []setting
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		switch {
		case !ok || key == "":
			return nil, fmt.Errorf("line %d: want key = value", n)
		case key == "config" || key == "hash-password" || fl.Lookup(key) == nil:
			return nil, fmt.Errorf("line %d: unknown setting %q", n, key)
		case seen[key] && key != "upload":
			return nil, fmt.Errorf("line %d: %s is set twice", n, key)
		}
		seen[key] = true
		out = append(out, setting{n, key, value})
	}
	return out, sc.Err()
}

// applyConfig sets the flags the file names, except those given on the
// command line: flags win.
func applyConfig(name string, fl *flag.FlagSet) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	settings, err := readConfig(f, fl)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	onCommandLine := map[string]bool{}
	fl.Visit(func(fg *flag.Flag) { onCommandLine[fg.Name] = true })
	for _, s := range settings {
		if onCommandLine[s.key] {
			continue
		}
		if err := fl.Set(s.key, s.value); err != nil {
			return fmt.Errorf("%s: line %d: %s: %w", name, s.line, s.key, err)
		}
	}
	return nil
}
