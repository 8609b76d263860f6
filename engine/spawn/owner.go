package spawn

import (
	"context"
	"errors"
	"os/exec"
	"os/user"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// LookupUID finds the user of a uid. The programs are built without cgo
// (loading the C library cost each command 2 to 4 ms of its start), and
// Go's own lookup then reads only /etc/passwd on Linux: a user that another
// of the system's name services knows (LDAP, sssd, systemd-userdb) is asked
// of getent(1), which reads them all.
func LookupUID(uid int) (*user.User, error) {
	id := strconv.Itoa(uid)
	u, err := user.LookupId(id)
	var unknown user.UnknownUserIdError
	if err == nil || runtime.GOOS != "linux" || !errors.As(err, &unknown) {
		return u, err
	}
	out, gerr := exec.Command("getent", "passwd", id).Output()
	f := strings.Split(strings.TrimSuffix(string(out), "\n"), ":")
	if gerr != nil || len(f) != 7 || f[2] != id {
		return nil, err
	}
	name, _, _ := strings.Cut(f[4], ",")
	return &user.User{Uid: id, Gid: f[3], Username: f[0], Name: name, HomeDir: f[5]}, nil
}

// Groups returns every group the account is in, its primary group first.
// id(1) asks every name service of the system, as LookupUID's getent does;
// if it cannot, the groups of /etc/group are all there is.
func (a Account) Groups() []uint32 {
	out := []uint32{uint32(a.GID)}
	var ids []string
	if b, err := exec.Command("id", "-G", "--", a.Name).Output(); err == nil {
		ids = strings.Fields(string(b))
	} else if u, err := user.LookupId(strconv.Itoa(a.UID)); err == nil {
		ids, _ = u.GroupIds()
	}
	for _, g := range ids {
		if n, err := strconv.Atoi(g); err == nil && n != a.GID {
			out = append(out, uint32(n))
		}
	}
	return out
}

// Command returns a command that runs program as the account (its uid,
// gid and groups), in /, with a clean environment of its own: nothing of
// the caller's reaches it, and its default state folder is its own.
func (a Account) Command(ctx context.Context, program string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, program, args...)
	cmd.Env = []string{"HOME=" + a.Dir, "USER=" + a.Name, "LOGNAME=" + a.Name, "PATH=/usr/local/bin:/usr/bin:/bin"}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
		Uid: uint32(a.UID), Gid: uint32(a.GID), Groups: a.Groups()}}
	return cmd
}

// Bitsjob finds the bitsjob program, as the worker is found: $BITS_WORKER_BIN,
// else beside this program, else on PATH.
func Bitsjob() (string, error) { return workerProgram() }
