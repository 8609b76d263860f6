package spawn

import (
	"context"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// AccountOf returns the account of a uid, from the user database.
func AccountOf(uid int) (Account, error) {
	u, err := user.LookupId(strconv.Itoa(uid))
	if err != nil {
		return Account{}, err
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return Account{}, err
	}
	return Account{Name: u.Username, UID: uid, GID: gid, Dir: u.HomeDir}, nil
}

// Groups returns every group the account is in, its primary group too.
func (a Account) Groups() []uint32 {
	out := []uint32{uint32(a.GID)}
	u, err := user.LookupId(strconv.Itoa(a.UID))
	if err != nil {
		return out
	}
	ids, _ := u.GroupIds()
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
