// Package bitsjob is the bitsjob command line: cobra commands over
// engine.Manager, with human output in tables and --json output that the
// PowerShell BitsTransfer module reads. It owns parsing and printing only;
// every change to a job goes through the Manager. Nothing may import it but
// cmd/bitsjob.
package bitsjob

import (
	"context"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"bits/engine"
	"bits/internal/progress"
	"bits/internal/version"
)

// defaultPoll is how often transfer and watch look at their jobs when
// nothing tells them of a change.
const defaultPoll = 250 * time.Millisecond

// env is what a command runs with. Main fills it for real use; tests build
// one around a Manager with a fixed clock and GUIDs.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// m is the job Manager, opened by open on first use, so that version,
	// help and completion work without a state folder.
	m      *engine.Manager
	open   func() (*engine.Manager, error)
	opened bool // m came from open, so run closes it
	// allUsers runs fn on the Manager of every user's job store (root only).
	allUsers func(ctx context.Context, fn func(*engine.Manager) error) error
	// wait returns when a job changes or after the polling interval of
	// transfer and watch, or with ctx's error when the command is
	// interrupted.
	wait func(ctx context.Context) error
	// waitJob is wait for one job last seen in state last (transfer):
	// changes of its progress alone come at most every 100 ms when
	// progress is shown, and not at all otherwise. Nil: wait.
	waitJob func(ctx context.Context, id string, last engine.State, progress bool) error
	now     func() time.Time
	// terminal: stdout is a terminal, so transfer draws a progress bar
	// and watch adds the rate and time left of each job.
	terminal bool
	meters   map[string]*progress.Meter // watch's, by job

	others []*engine.Manager // other users' stores that find opened (root)

	json    bool       // --json
	line    []byte     // printJobs' buffer, kept from job to job
	fileBuf []fileJSON // printJobs' files, kept from job to job
	ran     bool       // a command's RunE started: a failure before it is a usage error
	// toldNoWorker: a failure printed said that no worker can start, so
	// the warning after the command would say the same again.
	toldNoWorker bool
}

// Main runs bitsjob with args and returns the process exit code. It never
// calls os.Exit. Ctrl+C and SIGTERM cancel the command's context: transfer
// then cancels the job it created, watch ends, the worker stops cleanly.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	e := &env{
		stdin: stdin, stdout: stdout, stderr: stderr,
		open: func() (*engine.Manager, error) { return engine.Open(engine.Options{}) },
		allUsers: func(ctx context.Context, fn func(*engine.Manager) error) error {
			return engine.ForAllUsers(ctx, engine.Options{}, fn)
		},
		now:      time.Now,
		terminal: isTerminal(stdout),
	}
	e.wait = func(ctx context.Context) error { return e.m.WaitChange(ctx, defaultPoll) }
	e.waitJob = func(ctx context.Context, id string, last engine.State, progress bool) error {
		if progress {
			return e.m.WaitJob(ctx, id, last, defaultPoll)
		}
		return e.m.WaitState(ctx, id, last, defaultPoll)
	}
	return run(ctx, args, e)
}

// run executes one command line and returns its exit code. After any
// command that opened the job store it makes sure a worker runs if a job
// needs one, as every front end does, so any command revives transfers.
func run(ctx context.Context, args []string, e *env) int {
	root := newRootFor(e, args)
	// A command line cobra refuses is never parsed, yet its error must
	// still come as JSON when --json was asked for.
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "--json" || a == "--json=true" {
			e.json = true
		}
	}
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	code := e.report(err)
	for _, o := range e.others {
		o.Close()
	}
	e.others = nil
	if e.m != nil {
		// Jobs that wait for a worker that cannot start are worth a
		// warning, not a failure: the command itself did its work.
		if werr := e.m.EnsureWorker(context.Background()); werr != nil && !e.toldNoWorker {
			e.warnBody(describe(werr), "start the transfer worker", "")
		}
		if e.opened {
			e.m.Close()
			e.m, e.opened = nil, false
		}
	}
	return code
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newRoot(e *env) *cobra.Command {
	root := newBareRoot(e)
	for _, c := range commands {
		root.AddCommand(c.build(e))
	}
	for _, extra := range extraCommands {
		root.AddCommand(extra(root))
	}
	// Add help and completion now rather than at Execute, so that the
	// command tree is whole for anyone who walks it (the module's contract
	// test does). The completion command keeps the output it sees here.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	e.installCompletion(root)
	return root
}

// commands are bitsjob's commands, each with the name it runs under
// (TestCommandNames holds the two together).
var commands = []struct {
	name  string
	build func(*env) *cobra.Command
}{
	{"create", newCreateCmd}, {"add", newAddCmd}, {"import", newImportCmd},
	{"resume", newResumeCmd}, {"suspend", newSuspendCmd}, {"cancel", newCancelCmd}, {"complete", newCompleteCmd},
	{"get", newGetCmd}, {"list", newListCmd}, {"set", newSetCmd},
	{"transfer", newTransferCmd}, {"watch", newWatchCmd},
	{"worker", func(*env) *cobra.Command { return newWorkerCmd() }}, {"service", newServiceCmd},
	{"version", newVersionCmd}, {"config", newConfigCmd},
}

// newRootFor is newRoot for one command line: when the line names one of
// the commands, only that one is built under the root. Building all of
// them, with their flags and completions, takes 0.16 to 0.19 ms warm and
// 700 allocations, and in a fresh process touches 40 more pages (844
// page faults against 803 for `get --json`): a short command's start is
// what the user waits for. Help, completion and anything else get the
// whole tree.
func newRootFor(e *env, args []string) *cobra.Command {
	name := ""
	for _, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			name = a // the root's only flags (--json, --help, --version) take no value
			break
		}
	}
	for _, c := range commands {
		if c.name == name {
			root := newBareRoot(e)
			root.AddCommand(c.build(e))
			return root
		}
	}
	return newRoot(e)
}

// newBareRoot is the root command with its flags and none of its commands.
func newBareRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "bitsjob",
		Short: "Background transfers that survive network loss and reboots",
		Long: `bitsjob queues downloads and uploads that a per-user worker finishes in the
background, across network loss and crashes, and, once 'bitsjob service install'
has set it up as a service, across logout and reboot. Every command takes --json
and then prints JSON Lines (one document per line) whose field names are those
of PowerShell's BitsJob objects; errors become a JSON object on stderr and a
non-zero exit status (see docs/json.md).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRun: func(*cobra.Command, []string) {
			e.ran = true
		},
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.PersistentFlags().BoolVar(&e.json, "json", false, "print JSON Lines instead of tables")
	root.Version = version.Version // --version, as bitsjob version prints it
	root.SetVersionTemplate("bitsjob {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageErr("%v", err) })
	return root
}

// extraCommands are the commands that only some builds have (manpages.go).
var extraCommands []func(root *cobra.Command) *cobra.Command

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if e.json {
				return writeJSON(cmd.OutOrStdout(), struct {
					SchemaVersion int
					Version       string
				}{SchemaVersion, version.Version})
			}
			_, err := io.WriteString(cmd.OutOrStdout(), "bitsjob "+version.Version+"\n")
			return err
		},
	}
}

// manager returns the job Manager, opening it on first use.
func (e *env) manager() (*engine.Manager, error) {
	if e.m != nil {
		return e.m, nil
	}
	m, err := e.open()
	if err != nil {
		return nil, &opError{action: "open the job store", err: err}
	}
	e.m, e.opened = m, true
	return m, nil
}

// Argument checks that fail as usage errors.

func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErr("this command takes no arguments")
	}
	return nil
}

func minArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErr("missing %s", what)
		}
		return nil
	}
}

func nArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErr("want %s", what)
		}
		return nil
	}
}
