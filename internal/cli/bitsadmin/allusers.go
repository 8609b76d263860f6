package bitsadmin

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"bits/engine"
	"bits/hresult"
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
// user's. A user's store that the engine left out (not what it should be,
// or unreadable) is a warning line on stderr, not a failure: the others'
// jobs are still there.
func (e *env) eachManager(ctx context.Context, allUsers bool, fn func(*engine.Manager) error) error {
	return engine.Stores{Own: e.manager, All: e.allUsers, Skipped: e.warnSkipped}.Each(ctx, allUsers, fn)
}

// listJobs returns the caller's jobs, or with allUsers every user's.
func (e *env) listJobs(ctx context.Context, allUsers bool) ([]*engine.Job, error) {
	var jobs []*engine.Job
	err := e.eachJob(ctx, allUsers, func(j *engine.Job) error {
		jobs = append(jobs, j)
		return nil
	})
	return jobs, err
}

// eachJob calls fn with the caller's jobs, or with allUsers every user's,
// oldest first in each store, as each store is read: a list of any length
// holds one job at a time.
func (e *env) eachJob(ctx context.Context, allUsers bool, fn func(*engine.Job) error) error {
	return e.eachManager(ctx, allUsers, func(m *engine.Manager) error { return m.Each(ctx, fn) })
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

// warnSkipped prints the line for a user's store that was left out.
func (e *env) warnSkipped(s *engine.StoreError) {
	code, why := hresult.E_FAIL, s.Err.Error()
	var he *hresult.Error
	if errors.As(s.Err, &he) {
		code, why = he.Code, cmp.Or(he.Msg, he.Code.Message())
	}
	fmt.Fprintf(e.stderr, "Warning: the jobs of user %s are left out - 0x%08x: %s\n", s.User, uint32(code), why)
}
