package bitsjob

import (
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"bits/engine"
	"bits/engine/spawn"
	"bits/internal/dbusapi"
)

// serviceJSON is what `service install --json` and `service uninstall
// --json` print.
type serviceJSON struct {
	SchemaVersion int
	Supervisor    string
	System        bool
	StateFolder   string `json:",omitempty"`
	Changed       bool
	Done          []string
}

// serviceStatusJSON is what `service status --json` prints.
type serviceStatusJSON struct {
	SchemaVersion int
	Supervisor    string // "" when none is set up
	System        bool
	StateFolder   string `json:",omitempty"`
	Active        bool
	Linger        *bool `json:",omitempty"`
	Details       []string
	WorkerRunning bool
	WorkerPID     int `json:",omitempty"`
	JobsWaiting   int
}

func newServiceCmd(e *env) *cobra.Command {
	var s spawn.Setup
	cmd := &cobra.Command{
		Use:   "service",
		Short: "Install the worker as a service, so transfers resume after a crash, logout or reboot",
		Long: `Put the worker under a supervisor, so that queued transfers resume by themselves
after a crash of the worker, a logout or a reboot, with no command typed:
a systemd user service with socket activation where systemd runs the machine,
a LaunchAgent on macOS, an @reboot line in your crontab elsewhere. The service
serves the state folder you have when installing ($BITS_HOME, else
$XDG_STATE_HOME/bits, else ~/.local/state/bits). See docs/service.md.`,
		Example: `  bitsjob service install
  bitsjob service install --linger     # systemd: also at boot without a login, and after logout
  bitsjob service status
  sudo bitsjob service install --system  # every user of the machine
  bitsjob service uninstall`,
	}
	system := func(c *cobra.Command) {
		c.Flags().BoolVar(&s.System, "system", false, "the machine-wide service, for every user (root)")
	}
	install := &cobra.Command{
		Use:   "install",
		Short: "Set the service up and start it; again changes nothing",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := e.serviceSetup(&s, true); err != nil {
				return err
			}
			why := ""
			if s.Kind == "" {
				k, reason, err := spawn.Choose()
				if err != nil {
					return &opError{action: "install the service", err: err}
				}
				s.Kind, why = k, reason
			}
			r, err := spawn.Install(s)
			if err != nil {
				why = "" // what was done before the failure, without "Installed already"
			}
			e.printService(r, why)
			if err != nil {
				return &opError{action: "install the service", err: err}
			}
			if s.System {
				return nil
			}
			// Opening the store lets the command's end start the worker,
			// now through the service, if a job waits.
			_, err = e.manager()
			return err
		},
	}
	install.Flags().Var((*kindFlag)(&s.Kind), "supervisor", "systemd, launchd or cron (default: the best this machine has)")
	install.Flags().BoolVar(&s.Linger, "linger", false, "systemd: run loginctl enable-linger, so the worker starts at boot without a login and keeps running after logout")
	system(install)

	uninstall := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove everything install set up",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := e.serviceSetup(&s, false); err != nil {
				return err
			}
			r, err := spawn.Uninstall(s)
			e.printService(r, "")
			if err != nil {
				return &opError{action: "uninstall the service", err: err}
			}
			return nil
		},
	}
	system(uninstall)

	status := &cobra.Command{
		Use:   "status",
		Short: "Say which supervisor is set up, whether the worker runs and how many jobs wait",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := e.serviceSetup(&s, false); err != nil {
				return err
			}
			st, err := spawn.Inspect(s)
			if err != nil {
				return &opError{action: "read the service's status", err: err}
			}
			out := serviceStatusJSON{SchemaVersion: SchemaVersion, Supervisor: string(st.Supervisor), System: st.System,
				StateFolder: st.Home, Active: st.Active, Linger: st.Linger, Details: st.Details,
				WorkerRunning: st.Worker, WorkerPID: st.PID}
			if out.Details == nil {
				out.Details = []string{}
			}
			if !s.System {
				m, err := e.manager()
				if err != nil {
					return err
				}
				if out.JobsWaiting, err = m.Waiting(cmd.Context()); err != nil {
					return &opError{action: "count the jobs", err: err}
				}
			}
			return e.printServiceStatus(out)
		},
	}
	system(status)

	var allUsers, peer bool
	start := &cobra.Command{
		Use:   "start",
		Short: "Start the worker now if a job waits, through the service when one is set up",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case peer:
				return startPeer()
			case allUsers:
				if err := spawn.StartAllUsers(); err != nil {
					return &opError{action: "start the workers of every user", err: err}
				}
				return nil
			}
			m, err := e.manager()
			if err != nil {
				return err
			}
			if err := m.EnsureWorker(cmd.Context()); err != nil {
				return &opError{action: "start the worker", err: err}
			}
			return nil
		},
	}
	start.Flags().BoolVar(&allUsers, "all-users", false, "start the worker of each user whose state folder holds jobs, as that user (root)")
	start.Flags().BoolVar(&peer, "peer", false, "start the worker of the user connected on standard input (the machine-wide service's socket)")
	start.Flags().MarkHidden("peer")
	cmd.AddCommand(install, uninstall, status, start)
	return cmd
}

// serviceSetup fills in the state folder and, to install, the program.
func (e *env) serviceSetup(s *spawn.Setup, install bool) error {
	if !s.System {
		home, err := engine.ResolveHome("")
		if err != nil {
			return &opError{action: "find the state folder", err: err}
		}
		s.Home = home
	}
	s.DBusName = dbusapi.Name
	if !install {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return &opError{action: "find this program", err: err}
	}
	if strings.Contains(exe, string(os.PathSeparator)+"go-build") {
		return usageErr("this bitsjob is a temporary build (go run): install it (make install) and run that one")
	}
	s.Program = exe
	return nil
}

func (e *env) printService(r *spawn.Report, why string) {
	if r == nil {
		return
	}
	if e.json {
		out := serviceJSON{SchemaVersion: SchemaVersion, Supervisor: string(r.Supervisor), System: r.System,
			StateFolder: r.Home, Changed: r.Changed, Done: r.Done}
		if out.Done == nil {
			out.Done = []string{}
		}
		writeJSON(e.stdout, out)
		return
	}
	w := e.stdout
	if r.Supervisor != "" {
		line := "Supervisor: " + string(r.Supervisor)
		if why != "" {
			line += " (" + why + ")"
		}
		fmt.Fprintln(w, line)
	}
	switch {
	case r.System:
		fmt.Fprintln(w, "State folders: each user's ~/.local/state/bits")
	case r.Home != "":
		fmt.Fprintln(w, "State folder: "+r.Home)
	}
	if !r.Changed && why != "" {
		fmt.Fprintln(w, "Installed already: nothing changed.")
	}
	for _, d := range r.Done {
		fmt.Fprintln(w, "- "+d)
	}
}

func (e *env) printServiceStatus(st serviceStatusJSON) error {
	if e.json {
		return writeJSON(e.stdout, st)
	}
	w := e.stdout
	sup := st.Supervisor
	switch {
	case sup == "" && st.System:
		sup = "none machine-wide"
	case sup == "":
		sup = "none (commands start the worker when a job needs it; bitsjob service install makes transfers resume by themselves after a crash, logout or reboot)"
	case st.System:
		sup += ", machine-wide"
	case !st.Active:
		sup += " (installed, but not set up now: see below)"
	}
	fmt.Fprintln(w, "Supervisor:   "+sup)
	if !st.System {
		fmt.Fprintln(w, "State folder: "+st.StateFolder)
		worker := "not running"
		if st.WorkerRunning {
			worker = "running"
			if st.WorkerPID > 0 {
				worker += fmt.Sprintf(", pid %d", st.WorkerPID)
			}
		}
		fmt.Fprintln(w, "Worker:       "+worker)
		fmt.Fprintf(w, "Jobs waiting: %d\n", st.JobsWaiting)
	}
	if st.Linger != nil {
		fmt.Fprintf(w, "Lingering:    %s\n", map[bool]string{true: "on", false: "off"}[*st.Linger])
	}
	for _, d := range st.Details {
		fmt.Fprintln(w, "- "+d)
	}
	return nil
}

// startPeer serves one connection of the machine-wide service's socket,
// which systemd passes as standard input.
func startPeer() error {
	c, err := net.FileConn(os.Stdin)
	if err != nil {
		return &opError{action: "read the request", err: err}
	}
	defer c.Close()
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return usageErr("--peer needs a unix socket connection on standard input")
	}
	uid, err := spawn.StartPeer(uc)
	if err != nil {
		return &opError{action: fmt.Sprintf("start the worker of uid %d", uid), err: err}
	}
	return nil
}

// kindFlag is the --supervisor flag.
type kindFlag spawn.Kind

func (k *kindFlag) String() string { return string(*k) }
func (k *kindFlag) Type() string   { return "supervisor" }
func (k *kindFlag) Set(v string) error {
	v = strings.ToLower(v)
	for _, kind := range spawn.Kinds {
		if v == string(kind) {
			*k = kindFlag(kind)
			return nil
		}
	}
	if v == "auto" {
		*k = ""
		return nil
	}
	return fmt.Errorf("%q is not a supervisor: want systemd, launchd or cron", v)
}
