package bitsjob

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"bits/engine"
)

type workerOptions struct {
	idle       time.Duration
	checkpoint time.Duration
	background int
	debug      bool
}

func newWorkerCmd() *cobra.Command {
	o := workerOptions{
		idle:       envDuration("BITS_WORKER_IDLE", 60*time.Second),
		checkpoint: envDuration("BITS_CHECKPOINT_INTERVAL", time.Second),
		debug:      os.Getenv("BITS_WORKER_DEBUG") != "",
	}
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run the per-user transfer worker in the foreground",
		Long: `Run the worker that moves the bytes of this user's jobs. Front ends start it
in the background when a job has work to do; run it by hand to watch its log.
It exits after --idle-timeout with nothing to do, and at once (status 0) when
another worker already runs for the same state folder.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runWorker(cmd, o) },
	}
	cmd.Flags().DurationVar(&o.idle, "idle-timeout", o.idle, "exit after this long with nothing to do ($BITS_WORKER_IDLE)")
	cmd.Flags().DurationVar(&o.checkpoint, "checkpoint", o.checkpoint, "how often transfers sync and record progress ($BITS_CHECKPOINT_INTERVAL)")
	cmd.Flags().BoolVar(&o.debug, "debug", o.debug, "log every decision, among them the bandwidth controller's ten a second ($BITS_WORKER_DEBUG)")
	cmd.Flags().IntVar(&o.background, "max-background", 0, "background jobs that transfer at once (0: the policy's MaxBackgroundTransfers)")
	return cmd
}

func runWorker(cmd *cobra.Command, o workerOptions) error {
	m, err := engine.Open(engine.Options{})
	if err != nil {
		return err
	}
	defer m.Close()
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: level}))
	err = engine.RunWorker(cmd.Context(), m, engine.WorkerOptions{
		IdleTimeout: o.idle, Checkpoint: o.checkpoint, Lock: engine.InheritedLock(), MaxBackground: o.background, Log: log,
	})
	if errors.Is(err, engine.ErrWorkerRunning) {
		fmt.Fprintln(cmd.ErrOrStderr(), "bitsjob worker:", err)
		return nil
	}
	return err
}

// envDuration reads a duration default from the environment, so a worker
// that a front end starts inherits the settings of the shell that ran it.
func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
