package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"bits/engine/spawn"
	"bits/hresult"
)

// A user writes their own store, so what it says about files is the user's
// word, not a fact: root checks it against the file system and against the
// user's rights before it acts. docs/security.md, "Root and other users'
// stores", explains the rules.

// refused is the error of a check that a user's record or files failed.
func refused(ctx hresult.Context, format string, args ...any) error {
	return &hresult.Error{Code: hresult.E_ACCESSDENIED, Context: ctx, Msg: fmt.Sprintf(format, args...)}
}

// checkTempNames refuses a job whose record names a temporary file that no
// transfer could have made: anything but BIT<hex>.tmp beside the file's
// local name (beside the reply file for a reply). Such a job is broken and
// nothing acts on its files: a forged name could point anywhere.
func checkTempNames(j *Job) error {
	for _, f := range j.Files {
		if f.TempName != "" && !isTempNameOf(f.TempName, f.LocalName) {
			return refused(hresult.ContextLocalFile, "job {%s} is broken: file %d's temporary file %q is not a BIT<hex>.tmp beside %q, so it is left alone",
				j.ID, f.Index, f.TempName, f.LocalName)
		}
	}
	if t := j.Reply.TempName; t != "" && !isTempNameOf(t, j.ReplyName()) {
		return refused(hresult.ContextLocalFile, "job {%s} is broken: the reply's temporary file %q is not a BIT<hex>.tmp beside %q, so it is left alone",
			j.ID, t, j.ReplyName())
	}
	return nil
}

// isTempNameOf reports whether temp is BIT<1 to 16 hex digits>.tmp in the
// folder of local, spelled without detours ("..", "//").
func isTempNameOf(temp, local string) bool {
	if !filepath.IsAbs(temp) || filepath.Clean(temp) != temp || filepath.Dir(temp) != filepath.Dir(filepath.Clean(local)) {
		return false
	}
	digits, ok := strings.CutPrefix(filepath.Base(temp), "BIT")
	if !ok {
		return false
	}
	digits, ok = strings.CutSuffix(digits, ".tmp")
	if !ok || len(digits) == 0 || len(digits) > 16 {
		return false
	}
	for _, c := range digits {
		if !strings.ContainsRune("0123456789ABCDEFabcdef", c) {
			return false
		}
	}
	return true
}

// rights are what a user may do to a file by its mode bits: the user, its
// groups.
type rights struct {
	name   string
	uid    uint32
	groups []uint32
}

func rightsOf(a spawn.Account) rights {
	return rights{name: a.Name, uid: uint32(a.UID), groups: a.Groups()}
}

// may reports whether the mode bits of st grant perm (4 read, 2 write,
// 1 search, or a sum) to the user, as the kernel decides for anyone but
// root: the owner's bits, else the group's, else the others'.
func (r rights) may(st *unix.Stat_t, perm uint32) bool {
	mode := uint32(st.Mode)
	switch {
	case st.Uid == r.uid:
		mode >>= 6
	case slices.Contains(r.groups, st.Gid):
		mode >>= 3
	}
	return mode&perm == perm
}

func lstat(path string) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	return &st, nil
}

func isKind(st *unix.Stat_t, kind uint32) bool { return uint32(st.Mode)&unix.S_IFMT == kind }

// reach checks that the user can walk down to dir and search it: every
// folder on its real path, dir too, is one they may search. dir itself must
// not be a link.
func (r rights) reach(dir string) (*unix.Stat_t, error) {
	st, err := lstat(dir)
	if err != nil {
		return nil, err
	}
	if !isKind(st, unix.S_IFDIR) {
		return nil, refused(hresult.ContextLocalFile, "%s is not a folder (a link is not followed)", dir)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	for p := real; ; p = filepath.Dir(p) {
		pst, err := lstat(p)
		if err != nil {
			return nil, err
		}
		if !r.may(pst, 1) {
			return nil, refused(hresult.ContextLocalFile, "user %s cannot reach %s", r.name, dir)
		}
		if p == filepath.Dir(p) {
			return st, nil
		}
	}
}

// mayReplace checks that the user could themself have put a file at local
// by a rename from temp: the folder is one they can reach and write; in a
// sticky folder, a file already at local is theirs; a temporary file is a
// regular file of theirs with no other name.
func (r rights) mayReplace(local, temp string) error {
	dir := filepath.Dir(local)
	st, err := r.reach(dir)
	if err != nil {
		return err
	}
	if !r.may(st, 2) {
		return refused(hresult.ContextLocalFile, "user %s cannot write in %s", r.name, dir)
	}
	if lst, err := lstat(local); err == nil {
		if isKind(lst, unix.S_IFDIR) {
			return refused(hresult.ContextLocalFile, "%s is a folder", local)
		}
		if st.Mode&unix.S_ISVTX != 0 && lst.Uid != r.uid && st.Uid != r.uid {
			return refused(hresult.ContextLocalFile, "user %s cannot replace %s: the folder is sticky and the file is someone else's", r.name, local)
		}
	}
	if temp == "" {
		return nil
	}
	tst, err := lstat(temp)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case err != nil:
		return err
	case !isKind(tst, unix.S_IFREG) || tst.Uid != r.uid || tst.Nlink != 1:
		return refused(hresult.ContextLocalFile, "%s is not a temporary file of user %s", temp, r.name)
	}
	return nil
}

// mayRead checks that the user could themself read local, the source of
// an upload: a regular file, not a link, with read rights.
func (r rights) mayRead(local string) error {
	if _, err := r.reach(filepath.Dir(local)); err != nil {
		return err
	}
	st, err := lstat(local)
	if err != nil {
		return err
	}
	if !isKind(st, unix.S_IFREG) || !r.may(st, 4) {
		return refused(hresult.ContextLocalFile, "user %s cannot read %s", r.name, local)
	}
	return nil
}

// maxLinks bounds the links followed while a path resolves, as the kernel
// does (ELOOP).
const maxLinks = 40

// openFolderAsRoot opens dir for root, following only links that root owns:
// a link that another user made could lead root's rename anywhere, and root
// would not be stopped by any right. The descriptor pins the folder, so the
// names looked up in it cannot be redirected afterwards.
func openFolderAsRoot(dir string) (int, error) {
	if !filepath.IsAbs(dir) {
		return -1, refused(hresult.ContextLocalFile, "%s is not an absolute path", dir)
	}
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	parts := strings.Split(strings.Trim(dir, "/"), "/")
	links := 0
	for len(parts) > 0 {
		name := parts[0]
		parts = parts[1:]
		if name == "" || name == "." {
			continue
		}
		next, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
			fd = next
			continue
		}
		var st unix.Stat_t
		if serr := unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); serr != nil || !isKind(&st, unix.S_IFLNK) {
			unix.Close(fd)
			return -1, &os.PathError{Op: "open", Path: dir, Err: err}
		}
		if int(st.Uid) != os.Geteuid() {
			unix.Close(fd)
			return -1, refused(hresult.ContextLocalFile, "%s goes through %s, a link of uid %d, which root does not follow", dir, name, st.Uid)
		}
		if links++; links > maxLinks {
			unix.Close(fd)
			return -1, &os.PathError{Op: "open", Path: dir, Err: unix.ELOOP}
		}
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(fd, name, buf)
		if err != nil {
			unix.Close(fd)
			return -1, &os.PathError{Op: "readlink", Path: name, Err: err}
		}
		target := string(buf[:n])
		parts = append(strings.Split(target, "/"), parts...)
		if strings.HasPrefix(target, "/") {
			unix.Close(fd)
			if fd, err = unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
				return -1, err
			}
		}
	}
	return fd, nil
}

// asOwner runs `bitsjob <verb> --json {id}` as the owner of m's store, on
// that owner's own store, and returns its outcome. This is how root
// cancels or completes another user's job: every file the job names is
// deleted or renamed with the owner's rights, never with root's.
func (m *Manager) asOwner(ctx context.Context, verb, id string) (hresult.Code, error) {
	program, err := spawn.Bitsjob()
	if err != nil {
		return 0, &hresult.Error{Code: hresult.CO_E_SERVER_EXEC_FAILURE, Context: hresult.ContextGeneralQueueManager, Msg: err.Error()}
	}
	cmd := m.owner.Command(ctx, program, verb, "--json", "{"+id+"}")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	runErr := cmd.Run()
	code := hresult.S_OK
	for dec := json.NewDecoder(bytes.NewReader(stderr.Bytes())); ; {
		var r childReport
		if dec.Decode(&r) != nil {
			break
		}
		switch {
		case r.Error != nil:
			return 0, r.Error.toError()
		case r.Warning != nil && r.Warning.Action == verb:
			code = hresult.Code(uint32(r.Warning.Code))
		}
	}
	if runErr != nil {
		return 0, &hresult.Error{Code: hresult.E_FAIL, Context: hresult.ContextGeneralQueueManager,
			Msg: fmt.Sprintf("bitsjob %s as user %s: %v: %s", verb, m.owner.Name, runErr, strings.TrimSpace(stderr.String()))}
	}
	return code, nil
}

// childReport is one object that bitsjob --json prints on standard error
// (docs/json.md): an error, or a warning such as BG_S_UNABLE_TO_DELETE_FILES.
type childReport struct {
	Error, Warning *childBody
}

type childBody struct {
	Code    int32
	Message string
	Detail  string
	Context string
	Action  string
}

// childContexts reads back the context names of docs/json.md.
var childContexts = map[string]hresult.Context{
	"None": hresult.ContextNone, "Unknown": hresult.ContextUnknown,
	"GeneralQueueManager": hresult.ContextGeneralQueueManager, "QueueManagerNotification": hresult.ContextQueueManagerNotification,
	"LocalFile": hresult.ContextLocalFile, "RemoteFile": hresult.ContextRemoteFile,
	"GeneralTransport": hresult.ContextGeneralTransport, "RemoteApplication": hresult.ContextRemoteApplication,
	"ServerCertificateCallback": hresult.ContextServerCertificate,
}

func (b *childBody) toError() error {
	msg := b.Detail
	if msg == "" {
		msg = b.Message
	}
	return &hresult.Error{Code: hresult.Code(uint32(b.Code)), Context: childContexts[b.Context], Msg: msg}
}
