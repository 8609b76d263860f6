package bitsadmin

import (
	"context"
	"errors"

	"bits/engine"
	"bits/engine/hresult"
)

// Every user's jobs: /LIST, /RESET and /MONITOR with /ALLUSERS, and
// /TAKEOWNERSHIP of another user's job. Only root may; others get
// E_ACCESSDENIED from the engine, as on Windows without administrator
// rights.

// forAllUsers runs fn on the Manager of every user's job store.
func forAllUsers(ctx context.Context, fn func(*engine.Manager) error) error {
	return engine.ForAllUsers(ctx, engine.Options{}, fn)
}

// findAnyUser resolves a job argument among the caller's jobs, then, for
// root, among every user's. It returns the Manager of the store that holds
// the job, which the caller closes unless it is m.
func findAnyUser(ctx context.Context, m *engine.Manager, arg string) (*engine.Job, *engine.Manager, error) {
	return m.FindAnyUser(ctx, arg)
}

// eachManager runs fn on the caller's Manager, or with allUsers on every
// user's.
func (e *env) eachManager(ctx context.Context, allUsers bool, fn func(*engine.Manager) error) error {
	if allUsers {
		return e.allUsers(ctx, fn)
	}
	m, err := e.manager()
	if err != nil {
		return err
	}
	return fn(m)
}

// listJobs returns the caller's jobs, or with allUsers every user's.
func (e *env) listJobs(ctx context.Context, allUsers bool) ([]*engine.Job, error) {
	var jobs []*engine.Job
	err := e.eachManager(ctx, allUsers, func(m *engine.Manager) error {
		js, err := m.List(ctx)
		jobs = append(jobs, js...)
		return err
	})
	return jobs, err
}

// findAny is find for /TAKEOWNERSHIP: the job may be another user's. It
// returns the job and the Manager that holds it; close, unless it is e.m,
// releases that Manager.
func (e *env) findAny(ctx context.Context, arg string) (j *engine.Job, src *engine.Manager, close func(), err error) {
	m, err := e.manager()
	if err != nil {
		return nil, nil, nil, err
	}
	j, src, err = e.findAnyUser(ctx, m, arg)
	close = func() {}
	if src != nil && src != m {
		close = func() { src.Close() }
	}
	switch {
	case err == nil:
		return j, src, close, nil
	case errors.Is(err, engine.ErrAmbiguous):
		err = &lookupError{arg: arg, ambiguous: true}
	case hresult.Is(err, hresult.BG_E_NOT_FOUND):
		err = &lookupError{arg: arg, err: err}
	default:
		err = &actionError{action: "find job '" + arg + "'", err: err}
	}
	close()
	return nil, nil, nil, err
}
