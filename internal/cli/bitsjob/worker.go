package bitsjob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/spf13/cobra"

	"bits/engine"
	"bits/engine/spawn"
	"bits/internal/dbusapi"
)

type workerOptions struct {
	idle       time.Duration
	checkpoint time.Duration
	background wholeNumber
	debug      bool
	supervise  bool
	logFile    string
	cpuProfile string
}

func newWorkerCmd() *cobra.Command {
	o := workerOptions{idle: 60 * time.Second, checkpoint: time.Second, debug: os.Getenv("BITS_WORKER_DEBUG") != ""}
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the per-user transfer worker in the foreground",
		Long: `Run the worker that moves the bytes of this user's jobs. Front ends start it
in the background when a job has work to do (through the service when
'bitsjob service install' set one up); run it by hand to watch its log.
It exits after --idle-timeout with nothing to do (0: never), and at once
(status 0) when another worker already runs for the same state folder.
With --supervise it runs as a child of this process, which starts it again
within seconds when it dies of anything but a clean exit.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.fromEnv(cmd); err != nil {
				return err
			}
			if o.supervise {
				return supervise(cmd.Context(), cmd.ErrOrStderr(), o)
			}
			return runWorker(cmd.Context(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.idle, "idle-timeout", o.idle, "exit after this long with nothing to do; 0: never ($BITS_WORKER_IDLE)")
	f.DurationVar(&o.checkpoint, "checkpoint", o.checkpoint, "how often transfers sync and record progress ($BITS_CHECKPOINT_INTERVAL)")
	f.BoolVar(&o.debug, "debug", o.debug, "log every decision, among them the bandwidth controller's ten a second ($BITS_WORKER_DEBUG)")
	f.Var(&o.background, "max-background", "background jobs that transfer at once (0: the policy's MaxBackgroundTransfers)")
	f.BoolVar(&o.supervise, "supervise", false, "run the worker as a child and start it again when it dies; log to --log-file, else worker.log in the state folder")
	f.StringVar(&o.logFile, "log-file", "", "write the log to this file, rotated at 10 MB with 3 old files kept, instead of stderr")
	f.StringVar(&o.cpuProfile, "cpu-profile", "", "write a Go CPU profile of the worker to this file when it exits (go tool pprof reads it)")
	return cmd
}

// fromEnv takes the defaults of flags not given from the environment, so a
// worker that a front end starts inherits the settings of the shell that
// ran it. A bad value there is an error, as on the command line.
func (o *workerOptions) fromEnv(cmd *cobra.Command) error {
	for flag, env := range map[string]string{"idle-timeout": "BITS_WORKER_IDLE", "checkpoint": "BITS_CHECKPOINT_INTERVAL"} {
		v := os.Getenv(env)
		if cmd.Flags().Changed(flag) || v == "" {
			continue
		}
		if err := cmd.Flags().Set(flag, v); err != nil {
			return usageErr("$%s: %q is not a duration (for example 90s or 5m)", env, v)
		}
	}
	switch {
	case o.idle < 0:
		return usageErr("--idle-timeout: %s is negative; 0 means never exit", o.idle)
	case o.checkpoint <= 0:
		return usageErr("--checkpoint: %s is not a positive duration", o.checkpoint)
	}
	return nil
}

// args returns the command line of a worker with these options.
func (o workerOptions) args() []string {
	args := []string{"worker", "--idle-timeout", o.idle.String(), "--checkpoint", o.checkpoint.String(),
		"--max-background", strconv.Itoa(int(o.background))}
	if o.debug {
		args = append(args, "--debug")
	}
	return args
}

func runWorker(ctx context.Context, stderr io.Writer, o workerOptions) error {
	if o.logFile != "" {
		f := spawn.RotatingLog(o.logFile)
		defer f.Close()
		stderr = f
	}
	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	m, err := engine.Open(engine.Options{})
	if err != nil {
		return err
	}
	defer m.Close()
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	idle := o.idle
	if idle == 0 {
		idle = engine.NeverIdle
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	err = engine.RunWorker(ctx, m, engine.WorkerOptions{
		IdleTimeout: idle, Checkpoint: o.checkpoint, Lock: spawn.InheritedLock(), MaxBackground: int(o.background),
		Log: log, Beside: func(ctx context.Context) { serveDBus(ctx, m, log) },
	})
	if errors.Is(err, spawn.ErrRunning) {
		fmt.Fprintln(stderr, "bitsjob worker:", err)
		return nil
	}
	return err
}

// supervise runs the worker as a child and starts it again when it dies.
func supervise(ctx context.Context, stderr io.Writer, o workerOptions) error {
	home, err := engine.ResolveHome("")
	if err != nil {
		return err
	}
	if o.logFile == "" {
		o.logFile = filepath.Join(home, spawn.LogFile)
	}
	if err := os.MkdirAll(filepath.Dir(o.logFile), 0o700); err != nil {
		return err
	}
	log := spawn.RotatingLog(o.logFile)
	defer log.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	err = spawn.Supervise(ctx, spawn.Supervision{
		Home:   home,
		Worker: func() *exec.Cmd { return exec.Command(self, o.args()...) },
		Lock:   spawn.InheritedLock(),
		Log:    log,
	})
	if errors.Is(err, spawn.ErrRunning) {
		fmt.Fprintln(stderr, "bitsjob worker:", err)
		return nil
	}
	if err != nil {
		fmt.Fprintln(log, "bitsjob worker --supervise:", err)
	}
	return err
}

// serveDBus offers the jobs on the user's session bus while the worker
// runs and, for root, every user's jobs on the system bus (where the
// machine-wide service's policy lets root own the name); without a bus,
// or with $BITS_DBUS=0, the worker goes on without.
func serveDBus(ctx context.Context, m *engine.Manager, log *slog.Logger) {
	if os.Getenv("BITS_DBUS") == "0" {
		return
	}
	var wg sync.WaitGroup
	serve := func(connect func() (*dbus.Conn, error), o dbusapi.Options) {
		defer wg.Done()
		conn, err := connect()
		if err != nil {
			log.Info("no D-Bus service", "all-users", o.AllUsers, "reason", err)
			return
		}
		defer conn.Close()
		if err := dbusapi.Serve(ctx, m, conn, log, o); err != nil {
			log.Warn("D-Bus service stopped", "all-users", o.AllUsers, "err", err)
		}
	}
	wg.Add(1)
	go serve(dbusapi.SessionBus, dbusapi.Options{})
	if os.Geteuid() == 0 {
		wg.Add(1)
		go serve(dbusapi.SystemBus, dbusapi.Options{AllUsers: true})
	}
	wg.Wait()
}
