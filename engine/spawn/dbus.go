package spawn

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The D-Bus activation file lets the session bus start the worker on the
// first call to its name, as systemd's socket starts it on a nudge.

// dbusServiceDir is where the session bus looks for the user's own
// activation files.
func dbusServiceDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "dbus-1", "services"), nil
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, ".local", "share", "dbus-1", "services"), nil
}

// dbusServiceFile is the activation file of s: the bus runs the worker of
// s.Home, supervised, or asks systemd for unit when there is one.
func dbusServiceFile(s *Setup, unit string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by `bitsjob service install`; `bitsjob service uninstall` removes it.\n")
	fmt.Fprintf(&b, "[D-BUS Service]\nName=%s\n", s.DBusName)
	fmt.Fprintf(&b, "Exec=/usr/bin/env BITS_HOME=%s %s worker --supervise\n", shQuote(s.Home), shQuote(s.Program))
	if unit != "" {
		fmt.Fprintf(&b, "SystemdService=%s\n", unit)
	}
	return []byte(b.String())
}

// installDBus writes the activation file of s.Home when the front end
// offers a D-Bus name. One name, one state folder: installing for another
// folder takes the name over.
func installDBus(s *Setup, r *Report, rec *record, unit string) error {
	if s.DBusName == "" || s.System {
		return nil
	}
	dir, err := dbusServiceDir()
	if err != nil {
		return err
	}
	path := filepath.Join(dir, s.DBusName+".service")
	changed, err := writeFile(path, dbusServiceFile(s, unit), 0o644)
	if err != nil {
		return err
	}
	rec.Files = append(rec.Files, path)
	if changed {
		r.Changed = true
		r.say("Wrote %s: the first call to %s on your session bus starts the worker.", path, s.DBusName)
	}
	return nil
}

// uninstallDBus removes the activation file if it is the one of s.Home.
func uninstallDBus(s *Setup, r *Report) error {
	if s.DBusName == "" || s.System {
		return nil
	}
	dir, err := dbusServiceDir()
	if err != nil {
		return err
	}
	path := filepath.Join(dir, s.DBusName+".service")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) || (err == nil && !strings.Contains(string(b), "BITS_HOME="+shQuote(s.Home)+" ")) {
		return nil // none, or another state folder's
	}
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	r.say("Removed %s.", path)
	return nil
}
