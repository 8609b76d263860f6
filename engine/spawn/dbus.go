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
	return xdgDir("XDG_DATA_HOME", filepath.Join(".local", "share"), "dbus-1", "services")
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

// The machine-wide service's files for the system bus: root's worker
// serves every user's jobs to root there.
var (
	dbusSystemPolicyDir   = "/etc/dbus-1/system.d"
	dbusSystemServicesDir = "/usr/share/dbus-1/system-services"
)

// dbusSystemPolicy lets root own the name on the system bus and anyone
// call it; the service itself answers only root. (Its comment may hold no
// double hyphen: the bus would refuse the whole file.)
func dbusSystemPolicy(name string) []byte {
	return []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<!-- Written by bitsjob service install for the whole machine; its uninstall removes it. -->
<busconfig>
  <policy user="root">
    <allow own="` + name + `"/>
  </policy>
  <policy context="default">
    <allow send_destination="` + name + `"/>
  </policy>
</busconfig>
`)
}

// installDBusSystem writes the system bus's policy and activation file:
// the first call to the name starts root's worker, supervised.
func installDBusSystem(s *Setup, r *Report) error {
	u, err := currentUser()
	if err != nil {
		return err
	}
	root := &Setup{DBusName: s.DBusName, Program: s.Program, Home: Account{Dir: u.HomeDir}.Folder()}
	for path, b := range map[string][]byte{
		filepath.Join(dbusSystemPolicyDir, s.DBusName+".conf"):      dbusSystemPolicy(s.DBusName),
		filepath.Join(dbusSystemServicesDir, s.DBusName+".service"): append(dbusServiceFile(root, ""), "User=root\n"...),
	} {
		changed, err := writeFile(path, b, 0o644)
		if err != nil {
			return err
		}
		if changed {
			r.Changed = true
			r.say("Wrote %s.", path)
		}
	}
	r.say("On the system bus, %s is root's worker: it serves every user's jobs to root (ListAllJobs); each user's own worker serves their jobs on their session bus.", s.DBusName)
	return nil
}

// installDBus writes the activation file of s.Home when the front end
// offers a D-Bus name. One name, one state folder: installing for another
// folder takes the name over.
func installDBus(s *Setup, r *Report, rec *record, unit string) error {
	if s.DBusName == "" {
		return nil
	}
	if s.System {
		return installDBusSystem(s, r)
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

// uninstallDBus removes the activation file if it is the one of s.Home,
// or with s.System the system bus's files.
func uninstallDBus(s *Setup, r *Report) error {
	if s.DBusName == "" {
		return nil
	}
	if s.System {
		for _, path := range []string{filepath.Join(dbusSystemPolicyDir, s.DBusName+".conf"), filepath.Join(dbusSystemServicesDir, s.DBusName+".service")} {
			if err := os.Remove(path); err == nil {
				r.say("Removed %s.", path)
			} else if !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
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
