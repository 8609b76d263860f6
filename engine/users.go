package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"bits/engine/spawn"
	"bits/hresult"
	"bits/storage"
)

// errAccessDenied is what a user who is not root gets for another user's jobs.
func errAccessDenied(what string) error {
	return &hresult.Error{Code: hresult.E_ACCESSDENIED, Context: hresult.ContextGeneralQueueManager, Msg: what + " needs root"}
}

// A userStore is a state folder and, for another user's, the account that
// /etc/passwd says it belongs to.
type userStore struct {
	home string
	acct *spawn.Account // nil: the caller's own
}

// userStates lists the state folders of this machine's users: the caller's
// own first, then each user's default folder (~/.local/state/bits, from
// /etc/passwd) that has a job database in it. A folder or database that is
// a link is listed too, so that root hears of it. A user who keeps jobs
// elsewhere ($BITS_HOME, $XDG_STATE_HOME) is found only through a run as
// that user.
func userStates(own string) ([]userStore, error) {
	seen := map[string]bool{own: true}
	out := []userStore{{home: own}}
	accts, err := spawn.Accounts()
	for _, a := range accts {
		dir := a.Folder()
		if seen[dir] {
			continue
		}
		if _, err := os.Lstat(filepath.Join(dir, "jobs.db")); err == nil {
			seen[dir] = true
			out = append(out, userStore{home: dir, acct: &a})
		}
	}
	return out, err
}

// open opens the store: the caller's own (or one of the caller's uid) as
// Open does, another user's as openOther does.
func (s userStore) open(opts Options) (*Manager, error) {
	opts.Home = s.home
	if s.acct == nil || s.acct.UID == os.Geteuid() {
		return Open(opts)
	}
	return openOther(opts, *s.acct)
}

// A StoreError is a user's job store that root left out: it is not what a
// store must be (a link, someone else's), or it cannot be read.
type StoreError struct {
	User, Home string
	Err        error
}

func (e *StoreError) Error() string {
	return fmt.Sprintf("the jobs of user %s (%s) are left out: %v", e.User, e.Home, e.Err)
}

func (e *StoreError) Unwrap() error { return e.Err }

// SkippedStores is what ForAllUsers returns when it left some users'
// stores out; it went through every other one.
type SkippedStores []*StoreError

func (s SkippedStores) Error() string {
	msgs := make([]string, len(s))
	for i, e := range s {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "; ")
}

// ForAllUsers runs fn with a Manager for every user's jobs, the caller's
// first. Only root may: anyone else gets E_ACCESSDENIED, as BITS' /allusers
// needs an administrator. A failure in the caller's own store ends it; a
// user's store that cannot be opened, or on which fn fails, is left out and
// the others are still visited: the error is then SkippedStores, which
// front ends print as warnings.
func ForAllUsers(ctx context.Context, opts Options, fn func(*Manager) error) error {
	if os.Geteuid() != 0 {
		return errAccessDenied("seeing every user's jobs")
	}
	own, err := ResolveHome(opts.Home)
	if err != nil {
		return err
	}
	stores, err := userStates(own)
	if err != nil {
		return err
	}
	var skipped SkippedStores
	for _, s := range stores {
		m, err := s.open(opts)
		if err == nil {
			err = fn(m)
			m.Close()
		}
		switch {
		case err == nil:
		case s.acct == nil || ctx.Err() != nil:
			return err
		default:
			skipped = append(skipped, &StoreError{User: s.acct.Name, Home: s.home, Err: err})
		}
	}
	if len(skipped) > 0 {
		return skipped
	}
	return nil
}

// Stores is how a front end reaches jobs: the caller's own store, and
// for /allusers every user's.
type Stores struct {
	Own     func() (*Manager, error)                          // the caller's Manager
	All     func(context.Context, func(*Manager) error) error // ForAllUsers, or a test's stand-in
	Skipped func(*StoreError)                                 // told of each store that All left out
}

// Each calls fn with the caller's Manager or, with allUsers, with every
// user's in turn: a user's store that cannot be read goes to Skipped, and
// the others are still visited.
func (s Stores) Each(ctx context.Context, allUsers bool, fn func(*Manager) error) error {
	if !allUsers {
		m, err := s.Own()
		if err != nil {
			return err
		}
		return fn(m)
	}
	err := s.All(ctx, fn)
	var skipped SkippedStores
	if !errors.As(err, &skipped) {
		return err
	}
	for _, st := range skipped {
		s.Skipped(st)
	}
	return nil
}

// storeID is the identity of a state folder and of its database.
type storeID struct{ dir, db [2]uint64 }

// checkStore checks another user's store without following a link: the
// folder must be a real folder and jobs.db a regular file, both owned by
// uid. It returns their identity.
func checkStore(home string, uid int) (storeID, error) {
	var id storeID
	dir, err := unix.Open(home, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if st, lerr := lstat(home); lerr == nil && !isKind(st, unix.S_IFDIR) {
			return id, refused(hresult.ContextGeneralQueueManager, "%s is not a folder (a link is not followed)", home)
		}
		return id, &os.PathError{Op: "open", Path: home, Err: err}
	}
	defer unix.Close(dir)
	var st unix.Stat_t
	if err := unix.Fstat(dir, &st); err != nil {
		return id, err
	}
	if int(st.Uid) != uid {
		return id, refused(hresult.ContextGeneralQueueManager, "%s belongs to uid %d, not to its user (uid %d)", home, st.Uid, uid)
	}
	id.dir = [2]uint64{uint64(st.Dev), uint64(st.Ino)}
	db, err := unix.Openat(dir, "jobs.db", unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return id, refused(hresult.ContextGeneralQueueManager, "%s/jobs.db is a link", home)
	}
	if err != nil {
		return id, &os.PathError{Op: "open", Path: filepath.Join(home, "jobs.db"), Err: err}
	}
	defer unix.Close(db)
	if err := unix.Fstat(db, &st); err != nil {
		return id, err
	}
	switch {
	case !isKind(&st, unix.S_IFREG):
		return id, refused(hresult.ContextGeneralQueueManager, "%s/jobs.db is not a regular file", home)
	case int(st.Uid) != uid:
		return id, refused(hresult.ContextGeneralQueueManager, "%s/jobs.db belongs to uid %d, not to its user (uid %d)", home, st.Uid, uid)
	}
	id.db = [2]uint64{uint64(st.Dev), uint64(st.Ino)}
	return id, nil
}

// openOther opens another user's store for root. It is checked, never
// made or repaired: no folder is created and nothing is chmodded. SQLite
// opens the database by name, so the names are checked again once it has:
// a store that changed meanwhile is closed and refused.
func openOther(opts Options, a spawn.Account) (*Manager, error) {
	home := opts.Home
	before, err := checkStore(home, a.UID)
	if err != nil {
		return nil, err
	}
	st, err := storage.Open(filepath.Join(home, "jobs.db"))
	if err != nil {
		giveBack(home, a)
		return nil, err
	}
	after, err := checkStore(home, a.UID)
	if err == nil && after != before {
		err = refused(hresult.ContextGeneralQueueManager, "%s changed while it was being opened", home)
	}
	var m *Manager
	if err == nil {
		m, err = newManager(opts, home, st)
	}
	if err != nil {
		st.Close()
		giveBack(home, a)
		return nil, err
	}
	m.owner = &a
	return m, nil
}

// giveBack gives the user the files beside their database that root's
// SQLite made (the write-ahead log and its index), which the user could not
// open otherwise. Only regular files of root's with one name, reached
// without a link, change hands.
func giveBack(home string, a spawn.Account) {
	dir, err := unix.Open(home, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(dir)
	var st unix.Stat_t
	if unix.Fstat(dir, &st) != nil || int(st.Uid) != a.UID {
		return
	}
	for _, name := range []string{"jobs.db-wal", "jobs.db-shm"} {
		fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		if unix.Fstat(fd, &st) == nil && isKind(&st, unix.S_IFREG) && int(st.Uid) == os.Geteuid() && st.Nlink == 1 {
			unix.Fchown(fd, a.UID, a.GID)
		}
		unix.Close(fd)
	}
}

// Adopt moves a job from another user's store (src) into m's and makes the
// caller its owner, as BITS' TakeOwnership does for an administrator. What
// belonged to the old owner is dropped: credentials, custom headers, the
// notification program and the helper token. The job is written here
// first and removed there second, so a failure between the two leaves it
// in both stores rather than in neither.
//
// Root's rights would reach any file, so each file is first checked
// against the old owner's: the job is refused (E_ACCESSDENIED) and stays
// theirs unless they could have written each destination, or read each
// upload source, themselves. Its temporary files then become root's.
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
	var temps *heldTemps
	if src.owner != nil {
		if temps, err = takeFiles(j, *src.owner); err != nil {
			return nil, err
		}
		defer temps.close()
	}
	j.Owner = m.ownerName()
	j.CustomHeaders, j.HeadersWriteOnly = "", false
	j.NotifyProgram, j.NotifyParameters, j.notifyAt = "", "", time.Time{}
	j.HelperToken, j.HelperTokenFlags = "", 0
	j.Modified = m.opts.Now()
	if j.State == Connecting || j.State == Transferring {
		j.State = Queued // the new owner's worker picks it up
	}
	err = m.store.Update(ctx, func(tx *storage.Tx) error {
		return tx.InsertJob(toRow(j), fileRows(j.ID, j.Files))
	})
	if err != nil {
		temps.giveBack()
		return nil, err
	}
	err = src.store.Update(ctx, func(tx *storage.Tx) error { return tx.DeleteJob(id) })
	if err != nil {
		m.store.Update(ctx, func(tx *storage.Tx) error { return tx.DeleteJob(id) })
		temps.giveBack()
		return nil, err
	}
	spawn.Nudge(src.home) // its worker drops the job at its next checkpoint
	m.wake(j)
	return j, nil
}

// takeFiles checks every file of j against the rights of a, its old owner
// (see Adopt), then makes its temporary files root's and records their
// identity in j, so that root's worker and Complete know them again.
func takeFiles(j *Job, a spawn.Account) (*heldTemps, error) {
	r := rightsOf(a)
	for _, f := range j.Files {
		var err error
		if j.Type == Download {
			err = r.mayReplace(f.LocalName, f.TempName)
		} else {
			err = r.mayRead(f.LocalName)
		}
		if err != nil {
			return nil, stays(j, a, err)
		}
	}
	if j.Type == UploadReply {
		if err := r.mayReplace(j.ReplyName(), j.Reply.TempName); err != nil {
			return nil, stays(j, a, err)
		}
	}
	held := &heldTemps{owner: a}
	for i := range j.Files {
		f := &j.Files[i]
		if j.Type != Download || f.TempName == "" {
			continue
		}
		id, err := held.take(f.TempName, f.TempID)
		if err != nil {
			held.giveBack()
			held.close()
			return nil, stays(j, a, err)
		}
		f.TempID = id
	}
	if j.Type == UploadReply && j.Reply.TempName != "" {
		if _, err := held.take(j.Reply.TempName, ""); err != nil {
			held.giveBack()
			held.close()
			return nil, stays(j, a, err)
		}
	}
	return held, nil
}

// stays is a refused take-over: E_ACCESSDENIED, and why.
func stays(j *Job, a spawn.Account, err error) error {
	msg := err.Error()
	var he *hresult.Error
	if errors.As(err, &he) {
		msg = he.Msg
	}
	return refused(hresult.ContextLocalFile, "job {%s} stays user %s's: %s", j.ID, a.Name, msg)
}

// heldTemps are the temporary files of a job that root takes over from
// owner, kept open from their check to their change of hands.
type heldTemps struct {
	owner spawn.Account
	files []*os.File
}

// take makes the temporary file at name root's and returns its identity.
// It is opened without following a link and must be a regular file of the
// old owner with one name (and the one the job recorded, if it did). A
// file that is gone is no concern: the worker starts that file again.
func (h *heldTemps) take(name, recorded string) (string, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || !isKind(&st, unix.S_IFREG) || int(st.Uid) != h.owner.UID || st.Nlink != 1 {
		f.Close()
		return "", fmt.Errorf("%s is not a temporary file of user %s", name, h.owner.Name)
	}
	if err := f.Chown(os.Geteuid(), os.Getegid()); err != nil {
		f.Close()
		return "", err
	}
	h.files = append(h.files, f)
	id, err := identity(f)
	if err == nil && !sameFile(recorded, id) {
		err = fmt.Errorf("%w (%s)", errNotOurs, name)
	}
	return id, err
}

// giveBack returns the files to their old owner: the job stayed theirs.
func (h *heldTemps) giveBack() {
	if h == nil {
		return
	}
	for _, f := range h.files {
		f.Chown(h.owner.UID, h.owner.GID)
	}
}

func (h *heldTemps) close() {
	if h == nil {
		return
	}
	for _, f := range h.files {
		f.Close()
	}
}

// FindAnyUser resolves a job argument among every user's jobs (root only)
// and returns it with the Manager of the store that holds it, which the
// caller must Close unless it is m. A store that fails openOther's checks
// is passed over.
func (m *Manager) FindAnyUser(ctx context.Context, arg string) (*Job, *Manager, error) {
	j, err := m.Find(ctx, arg)
	if err == nil || !hresult.Is(err, hresult.BG_E_NOT_FOUND) || os.Geteuid() != 0 {
		return j, m, err
	}
	stores, serr := userStates(m.home)
	if serr != nil {
		return nil, nil, err
	}
	for _, s := range stores[1:] {
		other, oerr := s.open(m.opts)
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
