package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"bits/engine/hresult"
	"bits/engine/spawn"
	"bits/storage"
)

// errAccessDenied is what a user who is not root gets for another user's jobs.
func errAccessDenied(what string) error {
	return &hresult.Error{Code: hresult.E_ACCESSDENIED, Context: hresult.ContextGeneralQueueManager, Msg: what + " needs root"}
}

// userStates lists the state folders of this machine's users: each user's
// default folder (~/.local/state/bits, from /etc/passwd) that holds a job
// database, and the caller's own. A user who keeps jobs elsewhere
// ($BITS_HOME, $XDG_STATE_HOME) is found only through a run as that user.
func userStates(own string) ([]string, error) {
	seen := map[string]bool{own: true}
	out := []string{own}
	accts, err := spawn.Accounts()
	for _, a := range accts {
		dir := a.Folder()
		if seen[dir] {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "jobs.db")); err == nil {
			seen[dir] = true
			out = append(out, dir)
		}
	}
	return out, err
}

// ForAllUsers runs fn with a Manager for every user's jobs, the caller's
// first. Only root may: anyone else gets E_ACCESSDENIED, as BITS' /allusers
// needs an administrator.
func ForAllUsers(ctx context.Context, opts Options, fn func(*Manager) error) error {
	if os.Geteuid() != 0 {
		return errAccessDenied("seeing every user's jobs")
	}
	own, err := ResolveHome(opts.Home)
	if err != nil {
		return err
	}
	homes, err := userStates(own)
	if err != nil {
		return err
	}
	for _, home := range homes {
		o := opts
		o.Home = home
		m, err := Open(o)
		if err != nil {
			return err
		}
		err = fn(m)
		m.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// giveBack returns the database files that root may have created in a
// user's folder (the write-ahead log and its index) to that user, who
// could not open the database otherwise.
func giveBack(home string) {
	fi, err := os.Stat(home)
	if err != nil {
		return
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) == os.Geteuid() {
		return
	}
	for _, name := range []string{"jobs.db", "jobs.db-wal", "jobs.db-shm"} {
		os.Lchown(filepath.Join(home, name), int(st.Uid), int(st.Gid))
	}
}

// Adopt moves a job from another user's store (src) into m's and makes the
// caller its owner, as BITS' TakeOwnership does for an administrator. What
// belonged to the old owner is dropped: credentials, custom headers, the
// notification program and the helper token. The job is written here
// first and removed there second, so a failure between the two leaves it
// in both stores rather than in neither.
func (m *Manager) Adopt(ctx context.Context, src *Manager, id string) (*Job, error) {
	if os.Geteuid() != 0 {
		return nil, errAccessDenied("taking another user's job")
	}
	var j *Job
	err := src.store.View(ctx, func(tx *storage.Tx) error {
		var err error
		j, err = loadJob(tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if j.State.Final() {
		return nil, errStateRefused("the job is in state " + j.State.String())
	}
	j.Owner = m.opts.Owner
	j.CustomHeaders, j.HeadersWriteOnly = "", false
	j.NotifyProgram, j.NotifyParameters, j.notifyAt = "", "", time.Time{}
	j.HelperToken, j.HelperTokenFlags = "", 0
	j.Modified = m.opts.Now()
	if j.State == Connecting || j.State == Transferring {
		j.State = Queued // the new owner's worker picks it up
	}
	err = m.store.Update(ctx, func(tx *storage.Tx) error {
		if err := tx.InsertJob(toRow(j)); err != nil {
			return err
		}
		for _, f := range j.Files {
			if err := tx.InsertFile(fileRow(j.ID, f)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = src.store.Update(ctx, func(tx *storage.Tx) error { return tx.DeleteJob(id) })
	if err != nil {
		m.store.Update(ctx, func(tx *storage.Tx) error { return tx.DeleteJob(id) })
		return nil, err
	}
	spawn.Nudge(src.home) // its worker drops the job at its next checkpoint
	m.wake(j)
	return j, nil
}

// FindAnyUser resolves a job argument among every user's jobs (root only)
// and returns it with the Manager of the store that holds it, which the
// caller must Close unless it is m.
func (m *Manager) FindAnyUser(ctx context.Context, arg string) (*Job, *Manager, error) {
	j, err := m.Find(ctx, arg)
	if err == nil || !hresult.Is(err, hresult.BG_E_NOT_FOUND) || os.Geteuid() != 0 {
		return j, m, err
	}
	homes, herr := userStates(m.home)
	if herr != nil {
		return nil, nil, err
	}
	for _, home := range homes[1:] {
		o := m.opts
		o.Home = home
		other, oerr := Open(o)
		if oerr != nil {
			continue
		}
		if j, ferr := other.Find(ctx, arg); ferr == nil || errors.Is(ferr, ErrAmbiguous) {
			return j, other, ferr
		}
		other.Close()
	}
	return nil, nil, err
}
