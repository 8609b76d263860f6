package spawn

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"
)

// The systemd units. A user's service is a pair of template units whose
// instance is the state folder's path, escaped as systemd-escape --path
// does (%f gives the path back): the socket holds worker.sock, and a nudge
// on it starts the service. The machine-wide service is a system template
// that runs one worker for each user (instance: the uid) outside every
// login session, started at boot for users with jobs and on request through
// a socket that any user may connect to.
//
//go:embed units/systemd.tmpl
var systemdUnits string

// systemdTemplates are parsed when first used: most commands install nothing.
var systemdTemplates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(template.FuncMap{"exec": systemdQuote}).Parse(systemdUnits))
})

const (
	userService     = "bits-worker@.service"
	userSocket      = "bits-worker@.socket"
	systemService   = "bits-worker@.service"
	activateSocket  = "bits-activate.socket"
	activateService = "bits-activate@.service"
	bootService     = "bits-workers.service"
	// activateSocketPath is where the machine-wide service takes requests to
	// start the worker of the user who connects.
	activateSocketPath = "/run/bits-activate.sock"
	systemUnitDir      = "/etc/systemd/system"
	lingerDir          = "/var/lib/systemd/linger"
	restartAfterSec    = 2
)

// systemdFiles returns the unit files of a user's service (system false)
// or of the machine-wide one, by file name.
func systemdFiles(program string, system bool) (map[string][]byte, error) {
	if strings.ContainsAny(program, "'\"\\") {
		return nil, fmt.Errorf("systemd cannot run a program whose path has a quote or a backslash in it (%s): put bitsjob elsewhere", program)
	}
	names := []string{userService, userSocket}
	if system {
		names = []string{systemService, activateSocket, activateService, bootService}
	}
	files := map[string][]byte{}
	for _, name := range names {
		tmpl := name
		if system && name == systemService {
			tmpl = "system " + name
		}
		var b bytes.Buffer
		data := map[string]any{"Program": program, "RestartSec": restartAfterSec, "ActivateSocket": activateSocketPath}
		if err := systemdTemplates().ExecuteTemplate(&b, tmpl, data); err != nil {
			return nil, err
		}
		files[name] = b.Bytes()
	}
	return files, nil
}

// systemdQuote quotes the program's path for ExecStart=: specifiers (%)
// doubled, and double quotes around one with a space. (systemd expands no
// variable there, and takes no quote or backslash at all.)
func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if strings.ContainsAny(s, " \t;") {
		return `"` + s + `"`
	}
	return s
}

// escapePath escapes a path as an instance name, as systemd-escape --path.
func escapePath(p string) string {
	p = strings.Trim(filepath.Clean(p), "/")
	if p == "" {
		return "-"
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '/':
			b.WriteByte('-')
		case c == '.' && i == 0:
			fmt.Fprintf(&b, `\x%02x`, c)
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == ':', c == '_', c == '.':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

func userUnits(home string) (socket, service string) {
	inst := escapePath(home)
	return "bits-worker@" + inst + ".socket", "bits-worker@" + inst + ".service"
}

// userUnitDir is where systemd looks for a user's own units.
func userUnitDir() (string, error) {
	return xdgDir("XDG_CONFIG_HOME", ".config", "systemd", "user")
}

// xdgDir is elem under the XDG base folder that variable names, or, when
// it is unset or not absolute, under fallback in the home folder.
func xdgDir(variable, fallback string, elem ...string) (string, error) {
	base := os.Getenv(variable)
	if !filepath.IsAbs(base) {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		base = filepath.Join(h, fallback)
	}
	return filepath.Join(append([]string{base}, elem...)...), nil
}

type systemd struct{}

func (systemd) install(s *Setup, r *Report, rec *record) error {
	if s.System {
		return systemdInstallSystem(s, r)
	}
	u, err := currentUser()
	if err != nil {
		return err
	}
	if s.Linger && !lingering(u.Username) {
		if _, err := run("loginctl", "enable-linger", u.Username); err != nil {
			return fmt.Errorf("%w; where logind lets only root turn lingering on, an administrator runs: loginctl enable-linger %s (then install again)", err, u.Username)
		}
		rec.Linger = true
		r.Changed = true
		r.say("Enabled lingering (loginctl enable-linger %s): systemd starts your user manager, and with it the worker, at boot without a login, and keeps it after you log out.", u.Username)
	}
	if err := userManager(s.Linger); err != nil {
		return err
	}
	dir, err := userUnitDir()
	if err != nil {
		return err
	}
	files, err := systemdFiles(s.Program, false)
	if err != nil {
		return err
	}
	changed, err := writeFiles(dir, files, rec)
	if err != nil {
		return err
	}
	socket, service := userUnits(s.Home)
	if changed {
		r.Changed = true
		r.say("Wrote the units %s and %s in %s.", userService, userSocket, dir)
		if _, err := systemctl(false, "daemon-reload"); err != nil {
			return err
		}
	}
	if Running(s.Home) && !unitActive(false, service) {
		if err := stopStray(s.Home, r); err != nil {
			return err
		}
	}
	if !unitEnabled(false, service) || !unitEnabled(false, socket) {
		if _, err := systemctl(false, "enable", socket, service); err != nil {
			return err
		}
		r.Changed = true
	}
	removeStaleSocket(s.Home) // left by a worker that was killed; systemd binds there
	verb := "start"
	if changed && unitActive(false, service) {
		verb = "restart" // the program or the unit changed
	}
	if _, err := systemctl(false, verb, socket, service); err != nil {
		return err
	}
	rec.Units = []string{socket, service}
	r.say("%s and %s are enabled and started: the worker starts at login and whenever a command needs it, systemd restarts it within %d s if it fails, and it lives outside your login sessions. Its log is in the journal: journalctl --user -u %s", socket, service, restartAfterSec, service)
	switch {
	case lingering(u.Username) && !rec.Linger:
		r.say("Lingering is on for %s: the worker also starts at boot without a login and keeps running after you log out.", u.Username)
	case !lingering(u.Username):
		r.say("Lingering is off: transfers run while you are logged in and stop when your last session ends. To have them run at boot and after logout too, run: bitsjob service install --linger (it runs loginctl enable-linger %s).", u.Username)
	}
	return nil
}

func (systemd) uninstall(s *Setup, r *Report, rec *record) error {
	if s.System {
		return systemdUninstallSystem(r)
	}
	dir, err := userUnitDir()
	if err != nil {
		return err
	}
	socket, service := userUnits(s.Home)
	if fileExists(filepath.Join(dir, userService)) {
		if _, err := systemctl(false, "disable", "--now", socket, service); err != nil && userManager(false) == nil {
			return err
		}
		r.say("Stopped and disabled %s and %s.", socket, service)
		if !otherInstances(dir, service) {
			for _, name := range []string{userService, userSocket} {
				if err := os.Remove(filepath.Join(dir, name)); err == nil {
					r.say("Removed %s.", filepath.Join(dir, name))
				}
			}
			systemctl(false, "daemon-reload")
		}
	}
	if rec.Linger {
		u, err := currentUser()
		if err != nil {
			return err
		}
		if _, err := run("loginctl", "disable-linger", u.Username); err != nil {
			return err
		}
		r.say("Disabled lingering (loginctl disable-linger %s), which install had enabled.", u.Username)
	}
	return nil
}

func (systemd) status(s *Setup, st *Status, rec *record) {
	if s.System {
		st.Active = fileExists(filepath.Join(systemUnitDir, systemService)) && unitEnabled(true, activateSocket)
		if st.Active {
			st.Details = append(st.Details, "The machine-wide service is enabled: each user's worker runs as "+systemService+" with the user's uid as instance, started at boot for users with jobs and on request through "+activateSocketPath+".")
		}
		return
	}
	socket, service := userUnits(s.Home)
	if err := userManager(false); err != nil {
		st.Details = append(st.Details, err.Error())
		return
	}
	st.Active = unitEnabled(false, service)
	st.Details = append(st.Details,
		fmt.Sprintf("%s is %s and %s.", socket, unitState(false, "is-enabled", socket), unitState(false, "is-active", socket)),
		fmt.Sprintf("%s is %s and %s; its log: journalctl --user -u %s", service, unitState(false, "is-enabled", service), unitState(false, "is-active", service), service))
	if u, err := currentUser(); err == nil {
		l := lingering(u.Username)
		st.Linger = &l
	}
}

// systemdInstallSystem installs the machine-wide units and enables them.
func systemdInstallSystem(s *Setup, r *Report) error {
	files, err := systemdFiles(s.Program, true)
	if err != nil {
		return err
	}
	changed, err := writeFiles(systemUnitDir, files, &record{})
	if err != nil {
		return err
	}
	if changed {
		r.Changed = true
		r.say("Wrote the units %s, %s, %s and %s in %s.", systemService, activateSocket, activateService, bootService, systemUnitDir)
		if _, err := systemctl(true, "daemon-reload"); err != nil {
			return err
		}
	}
	if !unitEnabled(true, activateSocket) || !unitEnabled(true, bootService) {
		if _, err := systemctl(true, "enable", activateSocket, bootService); err != nil {
			return err
		}
		r.Changed = true
	}
	if _, err := systemctl(true, "start", activateSocket, bootService); err != nil {
		return err
	}
	r.say("Enabled for every user: at boot each user whose state folder (~/.local/state/bits) holds jobs gets a worker, bits-worker@UID.service, running as that user outside every login session, so logout does not stop it; a command of any user starts that user's worker through %s; systemd restarts a worker within %d s if it fails. Logs: journalctl -u 'bits-worker@*'", activateSocketPath, restartAfterSec)
	r.say("Users who installed a service of their own (bitsjob service install) keep theirs for their state folder.")
	return nil
}

func systemdUninstallSystem(r *Report) error {
	if !fileExists(filepath.Join(systemUnitDir, systemService)) {
		return nil
	}
	systemctl(true, "disable", "--now", activateSocket, bootService)
	systemctl(true, "stop", "bits-worker@*.service", "bits-activate@*.service")
	r.say("Stopped and disabled %s, %s and every user's worker.", activateSocket, bootService)
	for _, name := range []string{systemService, activateSocket, activateService, bootService} {
		if err := os.Remove(filepath.Join(systemUnitDir, name)); err == nil {
			r.say("Removed %s.", filepath.Join(systemUnitDir, name))
		}
	}
	systemctl(true, "daemon-reload")
	return nil
}

// writeFiles writes each file into dir, records them, and reports whether
// any changed.
func writeFiles(dir string, files map[string][]byte, rec *record) (bool, error) {
	changed := false
	for name, b := range files {
		path := filepath.Join(dir, name)
		c, err := writeFile(path, b, 0o644)
		if err != nil {
			return false, err
		}
		changed = changed || c
		rec.Files = append(rec.Files, path)
	}
	return changed, nil
}

// otherInstances reports whether units of another state folder use the
// template files: some bits-worker@ instance other than service is
// enabled.
func otherInstances(dir, service string) bool {
	links, _ := filepath.Glob(filepath.Join(dir, "*.wants", "bits-worker@*.service"))
	for _, l := range links {
		if filepath.Base(l) != service {
			return true
		}
	}
	return false
}

// systemctl runs systemctl for the system (system) or the user's manager.
func systemctl(system bool, args ...string) (string, error) {
	if !system {
		args = append([]string{"--user"}, args...)
		runtimeDir()
	}
	return run("systemctl", args...)
}

func unitEnabled(system bool, unit string) bool {
	return unitState(system, "is-enabled", unit) == "enabled"
}

func unitActive(system bool, unit string) bool {
	return unitState(system, "is-active", unit) == "active"
}

// unitState asks systemctl is-enabled or is-active; its answer is its first
// line whatever its exit status.
func unitState(system bool, verb, unit string) string {
	args := []string{verb, unit}
	if !system {
		args = append([]string{"--user"}, args...)
		runtimeDir()
	}
	out, _ := exec.Command("systemctl", args...).Output()
	state, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if state == "" {
		return "unknown"
	}
	return state
}

// runtimeDir sets XDG_RUNTIME_DIR, which systemctl --user needs to find the
// user's manager, when a shell without a login session (su, sudo) lacks it.
func runtimeDir() string {
	d := os.Getenv("XDG_RUNTIME_DIR")
	if d == "" {
		d = fmt.Sprintf("/run/user/%d", os.Geteuid())
		os.Setenv("XDG_RUNTIME_DIR", d)
	}
	return d
}

// userManager checks that the user's systemd manager answers; after
// lingering was just enabled it waits a moment for it to come up.
func userManager(wait bool) error {
	sock := filepath.Join(runtimeDir(), "systemd", "private")
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			return nil
		}
		if !wait || time.Now().After(deadline) {
			return fmt.Errorf("systemd runs this machine but no systemd user manager answers for this user (%s is missing): log in through a session (ssh, a desktop, machinectl shell), or add --linger, which starts one", sock)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func lingering(name string) bool {
	return fileExists(filepath.Join(lingerDir, name))
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// stopStray stops a worker that runs outside the supervisor being set up
// (started by a front end before), so that the supervisor runs the next
// one. The worker keeps every job's checkpoint.
func stopStray(home string, r *Report) error {
	pid, err := PID(home)
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop the worker that runs now (pid %d): %w", pid, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for Running(home) {
		if time.Now().After(deadline) {
			return fmt.Errorf("the worker that runs now (pid %d) did not stop within 30 s", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.say("Stopped the worker that ran outside the supervisor (pid %d); its jobs resume from their checkpoints under the supervisor.", pid)
	return nil
}
