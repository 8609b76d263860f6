package bitsjob

import (
	"context"

	"github.com/spf13/cobra"

	"bits/engine"
	"bits/hresult"
)

// resume, suspend, cancel and complete: one action on each job named. Each
// job is handled on its own; the command goes on after a failure, prints
// the jobs it changed and fails with the first error.

type actionOptions struct {
	Jobs []string
}

// action is what one of the four commands does to a job. It returns the
// job as it is afterwards, and a success code worth a warning.
type action struct {
	name string // the verb in messages
	do   func(ctx context.Context, m *engine.Manager, j *engine.Job) (*engine.Job, hresult.Code, error)
}

func newActionCmd(e *env, use, short, long string, a action) *cobra.Command {
	return &cobra.Command{
		Use:               use + " JOB...",
		Short:             short,
		Long:              long,
		Args:              minArgs(1, "the job"),
		ValidArgsFunction: e.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAction(cmd.Context(), e, a, actionOptions{Jobs: args})
		},
	}
}

func newResumeCmd(e *env) *cobra.Command {
	return newActionCmd(e, "resume", "Start or restart jobs",
		`Queue jobs for transfer. A job in ERROR or TRANSIENT_ERROR is retried at once;
a job that is already queued or moving is left alone. The command returns at
once: the worker transfers in the background ("bitsjob watch" follows it).`,
		action{name: "resume", do: func(ctx context.Context, m *engine.Manager, j *engine.Job) (*engine.Job, hresult.Code, error) {
			if err := m.Resume(ctx, j.ID); err != nil {
				return nil, 0, err
			}
			j, err := m.Get(ctx, j.ID)
			return j, hresult.S_OK, err
		}})
}

func newSuspendCmd(e *env) *cobra.Command {
	return newActionCmd(e, "suspend", "Pause jobs",
		`Suspend jobs; their progress and temporary files are kept for "bitsjob resume".`,
		action{name: "suspend", do: func(ctx context.Context, m *engine.Manager, j *engine.Job) (*engine.Job, hresult.Code, error) {
			if err := m.Suspend(ctx, j.ID); err != nil {
				return nil, 0, err
			}
			j, err := m.Get(ctx, j.ID)
			return j, hresult.S_OK, err
		}})
}

func newCancelCmd(e *env) *cobra.Command {
	return newActionCmd(e, "cancel", "Cancel jobs and delete their temporary files",
		`Cancel jobs: their temporary files are deleted and the jobs disappear. The
jobs are printed as they were, in state Cancelled.`,
		action{name: "cancel", do: func(ctx context.Context, m *engine.Manager, j *engine.Job) (*engine.Job, hresult.Code, error) {
			code, err := m.Cancel(ctx, j.ID)
			j.State = engine.Cancelled
			clearTemps(j)
			return j, code, err
		}})
}

func newCompleteCmd(e *env) *cobra.Command {
	return newActionCmd(e, "complete", "Complete jobs: their files appear under their final names",
		`Complete jobs: each transferred file is renamed to its final name and the jobs
disappear. Files not transferred yet are deleted (a warning says so). The jobs
are printed as they were, in state Acknowledged.`,
		action{name: "complete", do: func(ctx context.Context, m *engine.Manager, j *engine.Job) (*engine.Job, hresult.Code, error) {
			code, err := m.Complete(ctx, j.ID)
			j.State = engine.Acknowledged
			clearTemps(j)
			return j, code, err
		}})
}

// clearTemps forgets the temporary names of a job that is gone: its files
// were renamed or deleted.
func clearTemps(j *engine.Job) {
	for i := range j.Files {
		j.Files[i].TempName = ""
	}
}

func runAction(ctx context.Context, e *env, a action, o actionOptions) error {
	var (
		done []*engine.Job
		code int
	)
	// Failures are printed as they happen; the command exits with the
	// status of the first.
	fail := func(err error) {
		if c := e.report(err); code == exitOK {
			code = c
		}
	}
	for _, arg := range o.Jobs {
		j, m, err := e.find(ctx, arg)
		if err != nil {
			fail(err)
			continue
		}
		after, code, err := a.do(ctx, m, j)
		if err != nil {
			fail(&opError{action: a.name, job: arg, err: err})
			continue
		}
		e.warn(code, a.name, arg)
		done = append(done, after)
	}
	if err := e.printJobs(e.stdout, done); err != nil {
		return err
	}
	if code != exitOK {
		return reported(code)
	}
	return nil
}
