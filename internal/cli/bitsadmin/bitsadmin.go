// Package bitsadmin is the bitsadmin command line: the verbs and the output
// of Windows' bitsadmin, over engine.Manager. It owns argument translation
// and printing only; every change to a job goes through the Manager. Nothing
// may import it but cmd/bitsadmin.
package bitsadmin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/term"

	"bits/engine"
	"bits/hresult"
	"bits/internal/version"
)

// banner keeps the shape of Windows' banner (scripts skip its five lines,
// or find its first words, case and all) but names this program.
var banner = "\nBITSADMIN version 3.0 [ bits for Unix " + version.Version + " ]\n" +
	"BITS administration utility.\n" +
	"(C) Copyright the bits authors.\n\n"

// defaultPoll is how often /transfer looks at its job.
const defaultPoll = 250 * time.Millisecond

// env is what a verb runs with. Main fills it for real use; tests inject a
// Manager with a fixed clock and GUIDs, UTC printing and a fast poll.
type env struct {
	m *engine.Manager
	// open opens the Manager the first time a verb needs it, so /help works
	// without a state folder. Unused when m is set.
	open     func() (*engine.Manager, error)
	stdout   io.Writer
	stderr   io.Writer
	terminal bool           // stdout is a terminal: /transfer redraws in place
	width    int            // the terminal's columns, for /WRAP and /NOWRAP; 0: unknown
	tz       *time.Location // times are printed in this zone
	poll     time.Duration  // /transfer's polling interval
	// interrupt starts delivering Ctrl+C and SIGTERM on the channel until
	// stop is called; /transfer uses it to cancel its job, /monitor to end.
	interrupt func() (sig <-chan os.Signal, stop func())
	// after is time.After; /monitor waits on it between refreshes.
	after func(time.Duration) <-chan time.Time
	// monitorRounds ends /monitor after this many refreshes; 0 never. It is
	// a test hook ($BITSADMIN_MONITOR_ROUNDS), not a documented switch.
	monitorRounds int
	// allUsers runs fn on the Manager of every user's job store, for the
	// /ALLUSERS switches; findAnyUser looks a job up in every user's store,
	// for /TAKEOWNERSHIP. Both are root's only (see allusers.go).
	allUsers    func(ctx context.Context, fn func(*engine.Manager) error) error
	findAnyUser func(ctx context.Context, m *engine.Manager, arg string) (*engine.Job, *engine.Manager, error)
	user        func() string // the caller's login name: the account of /SETHELPERTOKEN without one
	// toldNoWorker: the command failed because no worker could start, so
	// the warning after it would say the same again.
	toldNoWorker bool
}

// monitorRoundsVar is the environment variable behind env.monitorRounds.
const monitorRoundsVar = "BITSADMIN_MONITOR_ROUNDS"

// Main runs bitsadmin with args (without the program name) and returns the
// process exit code. It never calls os.Exit.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	_ = stdin // no verb reads standard input yet
	e := &env{
		open:        func() (*engine.Manager, error) { return engine.Open(engine.Options{}) },
		stdout:      stdout,
		stderr:      stderr,
		terminal:    isTerminal(stdout),
		width:       terminalWidth(stdout),
		tz:          time.Local,
		poll:        defaultPoll,
		interrupt:   notifyInterrupt,
		after:       time.After,
		allUsers:    forAllUsers,
		findAnyUser: findAnyUser,
		user:        loginName,
	}
	e.monitorRounds, _ = strconv.Atoi(os.Getenv(monitorRoundsVar))
	code := run(context.Background(), args, e)
	if e.m != nil {
		// Any command revives transfers: if a job needs the worker and
		// none runs (it crashed or was killed), start one.
		if err := e.m.EnsureWorker(context.Background()); err != nil && !e.toldNoWorker {
			why := err.Error()
			var he *hresult.Error
			if errors.As(err, &he) && he.Msg != "" {
				why = he.Msg
			}
			fmt.Fprintf(stderr, "Warning: jobs are waiting, but %s\n", why)
		}
		e.m.Close()
	}
	return code
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok {
		return 0
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return cols
}

func loginName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

func notifyInterrupt() (<-chan os.Signal, func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	return ch, func() { signal.Stop(ch) }
}

// run translates args, prints the banner, runs the verb and reports its
// outcome. It returns the exit code.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 1 && args[0] == "--version" {
		fmt.Fprintln(e.stdout, "bitsadmin "+version.Version)
		return exitOK
	}
	if len(args) == 1 && args[0] == "--man" { // for make man
		io.WriteString(e.stdout, manPage())
		return exitOK
	}
	if len(args) == 2 && args[0] == "--completion" {
		if err := completionScript(e.stdout, args[1]); err != nil {
			fmt.Fprintln(e.stderr, "bitsadmin:", err)
			return exitUsage
		}
		return exitOK
	}
	if len(args) > 0 && args[0] == "--complete" { // what the completion scripts call
		complete(ctx, e, args[1:])
		return exitOK
	}
	c, err := translate(args)
	e.fitLines(c)
	if !c.raw {
		io.WriteString(e.stdout, banner)
	}
	if err == nil {
		v, _ := lookupVerb(c.verb)
		err = v.run(ctx, e, c)
	}
	return e.report(err)
}

func (e *env) manager() (*engine.Manager, error) {
	if e.m != nil {
		return e.m, nil
	}
	m, err := e.open()
	if err != nil {
		return nil, &actionError{action: "open the job store", err: err}
	}
	e.m = m
	return m, nil
}

// Exit codes. An API failure exits with the low byte of its HRESULT (see
// exitCode); these are the others.
const (
	exitOK    = 0
	exitUsage = 1 // usage error, job lookup failure, /transfer interrupted
)

// exitCode maps a failing HRESULT to a process exit code: its low byte, or
// 255 when that byte would read as success (0) or a usage error (1).
func exitCode(c hresult.Code) int {
	b := int(uint32(c) & 0xFF)
	if b <= exitUsage {
		return 255
	}
	return b
}

// An actionError is a failed call into the engine: "Unable to <action>".
type actionError struct {
	action string
	err    error
	note   string // printed after the code's message when it says more
}

func (e *actionError) Error() string { return "unable to " + e.action + ": " + e.err.Error() }
func (e *actionError) Unwrap() error { return e.err }

// failed makes err a failure of action, unless it already is a failure
// with its own action (the job store could not be opened).
func failed(action string, err error) error {
	var ae *actionError
	if errors.As(err, &ae) {
		return err
	}
	return &actionError{action: action, err: err}
}

// codeAndMessage returns the HRESULT of err and the text printed under it:
// the code's own message (with why, for a worker that cannot start), or
// for an error that carries no code (a store that cannot be opened) E_FAIL
// and the error's text, which says more.
func codeAndMessage(err error) (hresult.Code, string) {
	var he *hresult.Error
	if errors.As(err, &he) {
		if he.Code == hresult.CO_E_SERVER_EXEC_FAILURE {
			return he.Code, he.Code.Message() + ": " + he.Msg // which is why
		}
		return he.Code, he.Code.Message()
	}
	return hresult.E_FAIL, err.Error()
}

// A lookupError is a job argument that names no job, or several.
type lookupError struct {
	arg       string
	ambiguous bool
	err       error
}

func (e *lookupError) Error() string { return "cannot find job " + e.arg }

// exitStatus ends a verb that has printed its own report.
type exitStatus int

func (s exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(s)) }

// report prints the failure err describes (nothing for success) and returns
// the exit code. Failures go to stderr so that a script reading stdout, for
// example the value of /RAWRETURN /GETSTATE, never reads an error message.
func (e *env) report(err error) int {
	var (
		ue *usageError
		le *lookupError
		ae *actionError
		es exitStatus
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		if ue.msg != "" {
			fmt.Fprintln(e.stderr, ue.msg)
		}
		if ue.usage != nil {
			io.WriteString(e.stderr, ue.usage())
		}
		return exitUsage
	case errors.As(err, &le):
		if le.ambiguous {
			fmt.Fprintf(e.stderr, "Several jobs are named '%s'.\nUse the job identifier instead of the job name.\n", le.arg)
			return exitUsage
		}
		code, msg := codeAndMessage(le.err)
		fmt.Fprintf(e.stderr, "Unable to find job '%s' - 0x%08x\n%s\n", le.arg, uint32(code), msg)
		return exitUsage
	case errors.As(err, &es):
		return int(es)
	case errors.As(err, &ae):
	default:
		ae = &actionError{action: "run the command", err: err}
	}
	code, msg := codeAndMessage(ae.err)
	e.printFailure(ae.action, code, msg)
	e.toldNoWorker = code == hresult.CO_E_SERVER_EXEC_FAILURE
	if ae.note != "" {
		fmt.Fprintln(e.stderr, ae.note)
	}
	return exitCode(code)
}

func (e *env) printFailure(action string, code hresult.Code, msg string) {
	fmt.Fprintf(e.stderr, "Unable to %s - 0x%08x\n%s\n", action, uint32(code), msg)
}

// find resolves a job argument: {GUID}, {GUID}. or a display name.
func (e *env) find(ctx context.Context, arg string) (*engine.Job, error) {
	m, err := e.manager()
	if err != nil {
		return nil, err
	}
	j, err := m.Find(ctx, arg)
	switch {
	case err == nil:
		return j, nil
	case errors.Is(err, engine.ErrAmbiguous):
		return nil, &lookupError{arg: arg, ambiguous: true}
	case hresult.Is(err, hresult.BG_E_NOT_FOUND):
		return nil, &lookupError{arg: arg, err: err}
	}
	return nil, &actionError{action: "find job '" + arg + "'", err: err}
}

// invalidArg is the error for a value bitsadmin itself rejects, with the
// code the API gives for a bad parameter.
func invalidArg(format string, args ...any) error {
	return &hresult.Error{Code: hresult.E_INVALIDARG, Msg: fmt.Sprintf(format, args...)}
}
