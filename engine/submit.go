package engine

import (
	"context"

	"bits/storage"
)

// JobSpec is a whole job: what Create, Set and AddFiles would make in turn.
type JobSpec struct {
	Name string
	Type JobType
	// Settings are applied in order, as that many Set calls would be.
	Settings []Props
	Files    []FileSpec
}

// SubmitStep is the part of a JobSpec that a submission refused.
type SubmitStep int

const (
	StepCreate   SubmitStep = iota // the name, the type, the limit on jobs
	StepSettings                   // one of Settings
	StepFiles                      // one of Files
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
// refused and wherever the process is killed. It checks what Create, Set and
// AddFiles check, in that order, and the job starts SUSPENDED as from
// Create; Resume starts it.
func (m *Manager) Submit(ctx context.Context, spec JobSpec) (*Job, error) {
	j, err := m.newJob(spec.Name, spec.Type)
	if err != nil {
		return nil, &SubmitError{Step: StepCreate, Err: err}
	}
	var out *Job
	err = m.store.Update(ctx, func(tx *storage.Tx) error {
		if err := m.checkJobLimit(tx); err != nil {
			return &SubmitError{Step: StepCreate, Err: err}
		}
		for i, p := range spec.Settings {
			if err := p.apply(j); err != nil {
				return &SubmitError{Step: StepSettings, Setting: i, Err: err}
			}
		}
		if err := tx.InsertJob(toRow(j)); err != nil {
			return err
		}
		if err := m.checkSpecs(spec.Files); err != nil {
			return &SubmitError{Step: StepFiles, Err: err}
		}
		if err := m.addFiles(tx, j, spec.Files); err != nil {
			return &SubmitError{Step: StepFiles, Err: err}
		}
		out, err = loadPublic(tx, j.ID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
