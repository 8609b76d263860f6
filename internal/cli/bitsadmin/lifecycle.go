package bitsadmin

import (
	"context"
	"fmt"

	"bits/engine"
	"bits/hresult"
)

// The verbs that create a job, add files to it and move it through its life:
// /CREATE, /ADDFILE, /RESUME, /SUSPEND, /CANCEL, /COMPLETE and /RESET.

type createOptions struct {
	Name string
	Type engine.JobType
	Raw  bool
}

func bindCreate(ctx context.Context, e *env, c call) error {
	o := createOptions{Name: c.args[0], Type: engine.Download, Raw: c.raw}
	switch {
	case c.has(swUpload.name):
		o.Type = engine.Upload
	case c.has(swUploadReply.name):
		o.Type = engine.UploadReply
	}
	return runCreate(ctx, e, o)
}

func runCreate(ctx context.Context, e *env, o createOptions) error {
	m, err := e.manager()
	if err != nil {
		return err
	}
	j, err := m.Create(ctx, o.Name, o.Type)
	if err != nil {
		return &actionError{action: "create job", err: err}
	}
	if o.Raw {
		fmt.Fprintf(e.stdout, "{%s}", j.ID)
		return nil
	}
	fmt.Fprintf(e.stdout, "Created job {%s}.\n", j.ID)
	return nil
}

type addFileOptions struct {
	Job, Remote, Local string
}

func bindAddFile(ctx context.Context, e *env, c call) error {
	return runAddFile(ctx, e, addFileOptions{Job: c.args[0], Remote: c.args[1], Local: c.args[2]})
}

func runAddFile(ctx context.Context, e *env, o addFileOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	if err := e.m.AddFile(ctx, j.ID, o.Remote, o.Local); err != nil {
		return &actionError{action: "add file to job", err: err}
	}
	fmt.Fprintf(e.stdout, "Added %s -> %s to job.\n", o.Remote, o.Local)
	return nil
}

// jobOptions are the options of verbs that take only a job.
type jobOptions struct {
	Job string
}

func bindResume(ctx context.Context, e *env, c call) error {
	return runResume(ctx, e, jobOptions{Job: c.args[0]})
}

func runResume(ctx context.Context, e *env, o jobOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	if err := e.m.Resume(ctx, j.ID); err != nil {
		return &actionError{action: "resume job", err: err}
	}
	fmt.Fprintln(e.stdout, "Job resumed.")
	return nil
}

func bindSuspend(ctx context.Context, e *env, c call) error {
	return runSuspend(ctx, e, jobOptions{Job: c.args[0]})
}

func runSuspend(ctx context.Context, e *env, o jobOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	if err := e.m.Suspend(ctx, j.ID); err != nil {
		return &actionError{action: "suspend job", err: err}
	}
	fmt.Fprintln(e.stdout, "Job suspended.")
	return nil
}

func bindCancel(ctx context.Context, e *env, c call) error {
	return runCancel(ctx, e, jobOptions{Job: c.args[0]})
}

func runCancel(ctx context.Context, e *env, o jobOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	code, err := e.m.Cancel(ctx, j.ID)
	if err != nil {
		return &actionError{action: "cancel job", err: err}
	}
	fmt.Fprintln(e.stdout, "Job canceled.")
	printUndeleted(e, code)
	return nil
}

// printUndeleted notes temporary files that Cancel could not delete: the
// job is gone, so this is the user's only chance to learn of them.
func printUndeleted(e *env, code hresult.Code) {
	if code == hresult.BG_S_UNABLE_TO_DELETE_FILES {
		fmt.Fprintf(e.stdout, "%s (0x%08x)\n", code.Message(), uint32(code))
	}
}

func bindComplete(ctx context.Context, e *env, c call) error {
	return runComplete(ctx, e, jobOptions{Job: c.args[0]})
}

func runComplete(ctx context.Context, e *env, o jobOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	code, err := e.m.Complete(ctx, j.ID)
	if err != nil {
		return &actionError{action: "complete job", err: err}
	}
	fmt.Fprintln(e.stdout, "Job completed.")
	if code == hresult.BG_S_PARTIAL_COMPLETE {
		fmt.Fprintf(e.stdout, "Only the files that had finished transferring were kept; the others were deleted (0x%08x).\n", uint32(code))
	}
	return nil
}

type resetOptions struct {
	AllUsers bool // every user's jobs (root only)
}

func bindReset(ctx context.Context, e *env, c call) error {
	return runReset(ctx, e, resetOptions{AllUsers: c.has(swAllUsers.name)})
}

// runReset cancels every job. A job that cannot be cancelled is reported
// and the others are still cancelled; the exit code is the first failure's.
func runReset(ctx context.Context, e *env, o resetOptions) error {
	var first error
	found, done := 0, 0
	err := e.eachManager(ctx, o.AllUsers, func(m *engine.Manager) error {
		jobs, err := m.List(ctx)
		if err != nil {
			return err
		}
		found += len(jobs)
		for _, j := range jobs {
			code, err := m.Cancel(ctx, j.ID)
			if err != nil {
				c, msg := codeAndMessage(err)
				e.printFailure(fmt.Sprintf("cancel job {%s}", j.ID), c, msg)
				if first == nil {
					first = exitStatus(exitCode(c))
				}
				continue
			}
			done++
			fmt.Fprintf(e.stdout, "{%s} canceled.\n", j.ID)
			printUndeleted(e, code)
		}
		return nil
	})
	if err != nil {
		return failed("list jobs", err)
	}
	fmt.Fprintf(e.stdout, "%d out of %d jobs canceled.\n", done, found)
	return first
}

func bindTakeOwnership(ctx context.Context, e *env, c call) error {
	return runTakeOwnership(ctx, e, jobOptions{Job: c.args[0]})
}

// runTakeOwnership makes the caller the job's owner; as in BITS, the job
// loses its credentials, custom headers, notification command line and
// helper token, which belonged to the old owner. Root may name another
// user's job: it moves into root's own store.
func runTakeOwnership(ctx context.Context, e *env, o jobOptions) error {
	j, src, done, err := e.findAny(ctx, o.Job)
	if err != nil {
		return err
	}
	defer done()
	if src != e.m {
		_, err = e.m.Adopt(ctx, src, j.ID)
	} else {
		err = e.m.TakeOwnership(ctx, j.ID)
	}
	if err != nil {
		return &actionError{action: "take ownership", err: err}
	}
	fmt.Fprintf(e.stdout, "You now own job {%s}.\n", j.ID)
	return nil
}
