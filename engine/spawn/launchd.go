package spawn

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/template"
)

// On macOS the worker is a LaunchAgent: launchd starts it at login
// (RunAtLoad) and again when it fails (KeepAlive on an unsuccessful exit),
// and front ends start it with launchctl kickstart. The machine-wide
// variant is the same agent in /Library/LaunchAgents, loaded for every
// user at login, serving each user's default state folder.
//
//go:embed units/launchd.tmpl
var launchdPlist string

// launchdTemplate is parsed when first used: most commands install nothing.
var launchdTemplate = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("plist").Funcs(template.FuncMap{"xml": xmlText}).Parse(launchdPlist))
})

// launchdBaseLabel is the label of the agent of the default state folder; an
// agent for another folder adds a hash of its path.
const launchdBaseLabel = "io.bits.worker"

const systemAgentDir = "/Library/LaunchAgents"

func xmlText(s string) (string, error) {
	var b strings.Builder
	err := xml.EscapeText(&b, []byte(s))
	return b.String(), err
}

// launchdLabel returns the label of the agent that serves home; "" is the
// default folder of every user (the machine-wide agent).
func launchdLabel(home string) string {
	if home == "" || home == defaultHome() {
		return launchdBaseLabel
	}
	sum := sha256.Sum256([]byte(home))
	return launchdBaseLabel + "." + hex.EncodeToString(sum[:4])
}

// defaultHome is the state folder a user has without BITS_HOME or
// XDG_STATE_HOME.
func defaultHome() string {
	h, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(h, ".local", "state", "bits")
}

// launchdAgent returns the property list of the agent for home (empty: the
// machine-wide agent) and its label.
func launchdAgent(home, program string) (label string, plist []byte, err error) {
	label = launchdLabel(home)
	comment := "Written by `bitsjob service install`; `bitsjob service uninstall` removes it."
	if home == "" {
		comment = "Written by `bitsjob service install --system`; `bitsjob service uninstall --system` removes it."
	}
	var b bytes.Buffer
	err = launchdTemplate().Execute(&b, map[string]any{
		"Label": label, "Program": program, "Home": home, "RestartSec": restartAfterSec, "Comment": comment,
	})
	return label, b.Bytes(), err
}

func launchdPaths(s *Setup) (dir, label, domain string, err error) {
	home := s.Home
	dir = systemAgentDir
	if !s.System {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", "", "", err
		}
		dir = filepath.Join(h, "Library", "LaunchAgents")
	} else {
		home = ""
	}
	return dir, launchdLabel(home), fmt.Sprintf("gui/%d", os.Getuid()), nil
}

type launchd struct{}

func (launchd) install(s *Setup, r *Report, rec *record) error {
	dir, label, domain, err := launchdPaths(s)
	if err != nil {
		return err
	}
	home := s.Home
	if s.System {
		home = ""
	}
	_, plist, err := launchdAgent(home, s.Program)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, label+".plist")
	changed, err := writeFile(path, plist, 0o644)
	if err != nil {
		return err
	}
	rec.Files = []string{path}
	if s.System {
		r.Changed = changed
		r.say("Wrote %s: launchd starts every user's worker at login and again when it fails.", path)
		return nil
	}
	target := domain + "/" + label
	rec.Units = []string{target}
	if changed || launchdLoaded(target) != nil {
		r.Changed = true
		run("launchctl", "bootout", target) // an older version of the agent
		if Running(s.Home) {
			if err := stopStray(s.Home, r); err != nil {
				return err
			}
		}
		if _, err := run("launchctl", "bootstrap", domain, path); err != nil {
			return err
		}
		r.say("Wrote and loaded %s (launchctl bootstrap %s).", path, domain)
	}
	r.say("launchd starts the worker at login and again when it fails; commands start it with launchctl kickstart %s. Its log: %s, rotated at 10 MB.", target, filepath.Join(s.Home, LogFile))
	r.say("A LaunchAgent runs while you are logged in: transfers wait for your next login after you log out or the machine restarts.")
	return nil
}

func (launchd) uninstall(s *Setup, r *Report, _ *record) error {
	dir, label, domain, err := launchdPaths(s)
	if err != nil {
		return err
	}
	path := filepath.Join(dir, label+".plist")
	if !fileExists(path) {
		return nil
	}
	if !s.System {
		run("launchctl", "bootout", domain+"/"+label)
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	r.say("Unloaded and removed %s.", path)
	return nil
}

func (launchd) status(s *Setup, st *Status, _ *record) {
	dir, label, domain, err := launchdPaths(s)
	if err != nil {
		st.Details = append(st.Details, err.Error())
		return
	}
	path := filepath.Join(dir, label+".plist")
	if !fileExists(path) {
		return
	}
	st.Active = s.System || launchdLoaded(domain+"/"+label) == nil
	st.Details = append(st.Details, "Agent: "+path)
	if !st.Active {
		st.Details = append(st.Details, "The agent is not loaded: run bitsjob service install again.")
	}
}

func launchdLoaded(target string) error {
	_, err := run("launchctl", "print", target)
	return err
}
