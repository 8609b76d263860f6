package engine

import (
	"context"
	"errors"
	"slices"

	"bits/storage"
)

// JobSpec is a whole job: what Create, Set and AddFiles would make in turn.
type JobSpec struct {
	// ID is the job's GUID in upper case without braces; empty mints a
	// new one. A GUID that a job in the store has already is refused.
	ID   string
	Name string
	Type JobType
	// Settings are applied in order, as that many Set calls would be.
	Settings []Props
	Files    []FileSpec
	// Resume queues the job once it is made, as Resume would; otherwise it
	// starts SUSPENDED, as from Create.
	Resume bool
}

// SubmitStep is the part of a JobSpec that a submission refused.
type SubmitStep int

const (
	StepCreate   SubmitStep = iota // the name, the type, the limit on jobs
	StepSettings                   // one of Settings
	StepFiles                      // one of Files
	StepResume                     // the Resume asked for
)

// SubmitError says which part of a submission was refused, so a front end
// reports it as it would report that separate call. It unwraps to the
// engine's error and its HRESULT.
type SubmitError struct {
	Step    SubmitStep
	Setting int // the index in Settings, for StepSettings
	Err     error
}

func (e *SubmitError) Error() string { return e.Err.Error() }
func (e *SubmitError) Unwrap() error { return e.Err }

// Submit creates a whole job, its settings and its files, in one
// transaction: the store holds it complete or not at all, whatever is
// refused and wherever the process is killed. It checks what Create, Set,
// AddFiles and Resume check, in that order.
func (m *Manager) Submit(ctx context.Context, spec JobSpec) (*Job, error) {
	p := m.prepare(spec, newFolders())
	var out *Job
	err := m.store.Update(ctx, func(tx *storage.Tx) error {
		n, err := tx.CountJobs()
		if err != nil {
			return err
		}
		j, err := m.insert(tx, p, n)
		if err != nil {
			return err
		}
		out, err = loadPublic(tx, j.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	// A worker that cannot start is the front end's to report: every
	// command ends with EnsureWorker, which says so.
	m.wake(out)
	return out, nil
}

// prepared is a JobSpec checked as far as it can be without the store, so
// that Import does that work outside its transactions.
type prepared struct {
	job   *Job         // the new job: its settings applied, its files added, resumed if asked
	given bool         // the spec named the job's GUID
	err   *SubmitError // the first refusal
	// late is the first refusal of the files or of Resume: as from those
	// calls, it comes after a refusal of the GUID.
	late *SubmitError
}

// prepare checks spec with what f learnt of the local folders.
func (m *Manager) prepare(spec JobSpec, f *folders) prepared {
	j, err := m.newJob(spec.Name, spec.Type)
	if err != nil {
		return prepared{err: &SubmitError{Step: StepCreate, Err: err}}
	}
	if spec.ID != "" {
		if g, ok := ParseGUID("{" + spec.ID + "}"); !ok || g != spec.ID {
			return prepared{err: &SubmitError{Step: StepCreate, Err: invalidArg("%q is not a GUID in upper case without braces", spec.ID)}}
		}
		j.ID = spec.ID
	}
	p := prepared{job: j, given: spec.ID != ""}
	for i, s := range spec.Settings {
		if err := s.apply(j); err != nil {
			p.err = &SubmitError{Step: StepSettings, Setting: i, Err: err}
			return p
		}
	}
	files := slices.Clone(spec.Files)
	if err := m.checkSpecs(files, f); err != nil {
		p.err = &SubmitError{Step: StepFiles, Err: err}
		return p
	}
	if _, err := m.attach(j, files, f); err != nil {
		p.late = &SubmitError{Step: StepFiles, Err: err}
		return p
	}
	if spec.Resume {
		if err := m.resume(j); err != nil {
			p.late = &SubmitError{Step: StepResume, Err: err}
		}
	}
	return p
}

// insert writes a prepared job into tx, which holds jobs jobs, after the
// checks that need the store: the limit on jobs and a GUID taken. A
// refusal is a *SubmitError, and then nothing was written; any other error
// is the store's.
func (m *Manager) insert(tx *storage.Tx, p prepared, jobs int) (*Job, error) {
	if p.err != nil && p.err.Step == StepCreate {
		return nil, p.err
	}
	j := p.job
	if err := m.roomFor(jobs); err != nil {
		return nil, &SubmitError{Step: StepCreate, Err: err}
	}
	if p.err != nil {
		return nil, p.err
	}
	if p.late != nil {
		if !p.given {
			return nil, p.late
		}
		switch _, err := tx.JobState(j.ID); {
		case err == nil:
			return nil, errExists(j.ID)
		case !errors.Is(err, storage.ErrNotFound):
			return nil, err
		}
		return nil, p.late
	}
	if err := tx.InsertJob(toRow(j), fileRows(j.ID, j.Files)); errors.Is(err, storage.ErrExists) && p.given {
		return nil, errExists(j.ID)
	} else if err != nil {
		return nil, err
	}
	return j, nil
}

func errExists(id string) *SubmitError {
	return &SubmitError{Step: StepCreate, Err: invalidArg("a job {%s} exists already", id)}
}
