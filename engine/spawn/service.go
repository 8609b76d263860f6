package spawn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// Kind names a supervisor that keeps the worker running.
type Kind string

const (
	Systemd Kind = "systemd"
	Launchd Kind = "launchd"
	Cron    Kind = "cron"
)

// Kinds lists the supervisors, best first.
var Kinds = []Kind{Systemd, Launchd, Cron}

// throughSupervisor says whether front ends ask the supervisor to start
// the worker; under cron they start it themselves, supervised.
func (k Kind) throughSupervisor() bool { return k == Systemd || k == Launchd }

// Setup says what to install, uninstall or report on.
type Setup struct {
	// Home is the state folder the service serves (absolute).
	Home string
	// Program is the bitsjob program that runs the worker (absolute).
	Program string
	// Kind is the supervisor; empty chooses the best the machine has.
	Kind Kind
	// Linger lets the worker run at boot without a login and after logout
	// (systemd: loginctl enable-linger), with the user's consent.
	Linger bool
	// System sets the service up for every user of the machine (root).
	System bool
	// DBusName is the name the worker offers on the session bus, if any:
	// Install writes an activation file for it.
	DBusName string
}

// Report is what Install or Uninstall did, for people and for --json.
type Report struct {
	Supervisor Kind
	System     bool
	Home       string `json:",omitempty"`
	// Changed is false when there was nothing to do (installed already,
	// or nothing to remove).
	Changed bool
	// Done lists what was done and what it means, one sentence each.
	Done []string
}

func (r *Report) say(format string, args ...any) {
	r.Done = append(r.Done, fmt.Sprintf(format, args...))
}

// Status is what is set up for a state folder and whether its worker runs.
type Status struct {
	// Supervisor is the supervisor set up for the folder, or empty.
	Supervisor Kind
	System     bool
	Home       string
	// Active says whether the supervisor has it set up now (units
	// enabled, crontab line present, agent loaded).
	Active bool
	// Linger is systemd's lingering for the user, when it applies.
	Linger *bool `json:",omitempty"`
	// Details are facts about the set-up, one sentence each.
	Details []string
	Worker  bool
	PID     int `json:",omitempty"`
}

// Choose returns the best supervisor of this machine, and why.
func Choose() (Kind, string, error) {
	if runtime.GOOS == "darwin" {
		return Launchd, "macOS", nil
	}
	if systemdRuns() {
		return Systemd, "systemd runs this machine", nil
	}
	if _, err := exec.LookPath("crontab"); err == nil {
		return Cron, "systemd does not run this machine (no /run/systemd/system), crontab is present", nil
	}
	return "", "", errors.New("no supervisor on this machine: systemd does not run it and there is no crontab; install cron (Debian: apt-get install cron) and try again")
}

// systemdRuns reports whether systemd is the init system (sd_booted).
func systemdRuns() bool {
	fi, err := os.Stat("/run/systemd/system")
	if err != nil || !fi.IsDir() {
		return false
	}
	_, err = exec.LookPath("systemctl")
	return err == nil
}

// supervisor is one kind's way of installing and checking the service.
type supervisor interface {
	install(s *Setup, r *Report, rec *record) error
	uninstall(s *Setup, r *Report, rec *record) error
	status(s *Setup, st *Status, rec *record)
}

func supervisorOf(k Kind) (supervisor, error) {
	switch k {
	case Systemd:
		return systemd{}, nil
	case Launchd:
		return launchd{}, nil
	case Cron:
		return cron{}, nil
	}
	return nil, fmt.Errorf("unknown supervisor %q: want one of systemd, launchd, cron", k)
}

// Install sets the service up and starts it; installing again what is
// installed changes nothing. A different supervisor installed before for
// the same folder is uninstalled first.
func Install(s Setup) (*Report, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	r := &Report{Supervisor: s.Kind, System: s.System}
	if !s.System {
		r.Home = s.Home
		if err := os.MkdirAll(s.Home, 0o700); err != nil {
			return nil, err
		}
		if old, err := readRecord(s.Home); err == nil && old.Kind != s.Kind {
			sv, err := supervisorOf(old.Kind)
			if err != nil {
				return nil, err
			}
			r.Changed = true
			r.say("Replacing the %s service set up before for this state folder.", old.Kind)
			if err := sv.uninstall(&s, r, old); err != nil {
				return nil, err
			}
			os.Remove(recordPath(s.Home))
		}
	}
	sv, err := supervisorOf(s.Kind)
	if err != nil {
		return nil, err
	}
	rec := &record{Kind: s.Kind, Program: s.Program}
	if old, err := readRecord(s.Home); err == nil && !s.System {
		rec.Linger = old.Linger // lingering that an earlier install enabled
	}
	if err := sv.install(&s, r, rec); err != nil {
		return r, err
	}
	unit := ""
	if s.Kind == Systemd {
		_, unit = userUnits(s.Home)
	}
	if err := installDBus(&s, r, rec, unit); err != nil {
		return r, err
	}
	if !s.System {
		if err := writeRecord(s.Home, rec); err != nil {
			return r, err
		}
	}
	return r, nil
}

// Uninstall removes what Install set up. Under systemd and launchd that
// stops the worker they run; under cron a worker that runs goes on until it
// is idle, as one that a command started.
func Uninstall(s Setup) (*Report, error) {
	if err := s.checkScope(); err != nil {
		return nil, err
	}
	r := &Report{System: s.System}
	rec, err := readRecord(s.Home)
	switch {
	case s.System:
		rec = &record{}
	case err == nil:
		s.Kind = rec.Kind
	case errors.Is(err, os.ErrNotExist):
		rec = &record{} // nothing recorded: remove whatever is there
	default:
		return nil, err
	}
	if !s.System {
		r.Home = s.Home
	}
	kinds := Kinds
	if s.Kind != "" {
		kinds = []Kind{s.Kind}
	}
	for _, k := range kinds {
		sv, _ := supervisorOf(k)
		before := len(r.Done)
		if err := sv.uninstall(&s, r, rec); err != nil {
			return r, err
		}
		if len(r.Done) > before {
			r.Supervisor = k
		}
	}
	if err := uninstallDBus(&s, r); err != nil {
		return r, err
	}
	if !s.System {
		os.Remove(recordPath(s.Home))
	}
	r.Changed = len(r.Done) > 0
	if !r.Changed {
		r.say("Nothing to remove: no service is installed for this state folder.")
	}
	return r, nil
}

// Inspect says which supervisor is set up for s.Home (or, with s.System,
// for every user), whether it is active and whether the worker runs.
func Inspect(s Setup) (*Status, error) {
	if err := s.checkScope(); err != nil {
		return nil, err
	}
	st := &Status{System: s.System}
	if !s.System {
		st.Home = s.Home
		st.Worker = Running(s.Home)
		if st.Worker {
			st.PID, _ = PID(s.Home)
		}
	}
	rec, err := readRecord(s.Home)
	switch {
	case s.System:
		for _, k := range Kinds {
			sv, _ := supervisorOf(k)
			sv.status(&s, st, &record{Kind: k})
			if st.Active {
				st.Supervisor = k
				break
			}
		}
	case err == nil:
		st.Supervisor = rec.Kind
		sv, err := supervisorOf(rec.Kind)
		if err != nil {
			return nil, err
		}
		sv.status(&s, st, rec)
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	default:
		machineWide(s, st)
	}
	return st, nil
}

// machineWide reports the machine-wide service when it serves s.Home, the
// caller's default state folder.
func machineWide(s Setup, st *Status) {
	u, err := currentUser()
	if err != nil || s.Home != (Account{Dir: u.HomeDir}).Folder() {
		return
	}
	for _, k := range Kinds {
		sv, _ := supervisorOf(k)
		wide := &Status{}
		sv.status(&Setup{System: true}, wide, &record{Kind: k})
		if wide.Active {
			st.Supervisor, st.Active = k, true
			st.Details = append(st.Details, "The machine-wide service (bitsjob service install --system) serves this state folder.")
			st.Details = append(st.Details, wide.Details...)
			return
		}
	}
}

func (s *Setup) checkScope() error {
	if s.System && os.Geteuid() != 0 {
		return errors.New("--system sets the service up for every user: it needs root")
	}
	if !s.System && !filepath.IsAbs(s.Home) {
		return fmt.Errorf("state folder %q is not an absolute path", s.Home)
	}
	return nil
}

func (s *Setup) check() error {
	if err := s.checkScope(); err != nil {
		return err
	}
	if !filepath.IsAbs(s.Program) {
		return fmt.Errorf("program %q is not an absolute path", s.Program)
	}
	if strings.ContainsAny(s.Home+s.Program, "\n\r\x00") {
		return errors.New("a path with a line break cannot go into a service definition")
	}
	if s.Kind == "" {
		k, _, err := Choose()
		if err != nil {
			return err
		}
		s.Kind = k
	}
	if s.Linger && s.Kind != Systemd {
		return fmt.Errorf("--linger is systemd's: under %s the worker starts at boot anyway", s.Kind)
	}
	if s.Linger && s.System {
		return errors.New("--linger applies to one user: run loginctl enable-linger USER for each user who should transfer without logging in")
	}
	return nil
}

// record is what a user's Install did, kept in the state folder so that
// Uninstall can undo it, Inspect can report it and Start can use it.
type record struct {
	Kind    Kind
	Program string
	// Files are the files Install wrote.
	Files []string `json:",omitempty"`
	// Units are what the supervisor starts: systemd units, or launchd's
	// domain/label.
	Units []string `json:",omitempty"`
	// Linger is set when Install enabled lingering, which Uninstall undoes.
	Linger bool `json:",omitempty"`
}

const recordFile = "service.json"

func recordPath(home string) string { return filepath.Join(home, recordFile) }

func readRecord(home string) (*record, error) {
	f, err := os.OpenFile(recordPath(home), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r record
	if err := json.NewDecoder(f).Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %w", recordPath(home), err)
	}
	return &r, nil
}

// writeRecord replaces the record atomically.
func writeRecord(home string, r *record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = writeFile(recordPath(home), append(b, '\n'), 0o600)
	return err
}

// start starts the worker through the supervisor that the record names.
func (r *record) start() error {
	var err error
	switch {
	case len(r.Units) == 0:
		err = errors.New("nothing recorded to start")
	case r.Kind == Systemd:
		_, err = systemctl(false, append([]string{"start"}, r.Units...)...)
	case r.Kind == Launchd:
		_, err = run("launchctl", "kickstart", r.Units[0])
	}
	if err != nil {
		return fmt.Errorf("the %s service of this state folder did not start the worker: %w (see bitsjob service status; bitsjob service install sets it up again)", r.Kind, err)
	}
	return nil
}

// writeFile writes b to path through a temporary file and a rename, and
// reports whether the content changed; the same content is left alone.
func writeFile(path string, b []byte, mode os.FileMode) (changed bool, err error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, b) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	return true, os.Rename(tmp.Name(), path)
}

// run runs a program and returns its output; a failure carries the output.
func run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(out.String())
		if msg == "" {
			return "", fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
		}
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return out.String(), nil
}

// currentUser returns the user this process acts as.
func currentUser() (*user.User, error) {
	return LookupUID(os.Geteuid())
}
