package spawn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// An Account is a user of this machine, from /etc/passwd.
type Account struct {
	Name     string
	UID, GID int
	Dir      string // the home folder
}

// Folder is the user's default state folder, the one the machine-wide
// service serves.
func (a Account) Folder() string { return filepath.Join(a.Dir, ".local", "state", "bits") }

// Accounts lists the users of /etc/passwd that have a home folder. Users
// that only a directory service knows are not listed.
func Accounts() ([]Account, error) {
	f, err := os.Open("/etc/passwd")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Account
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 7 || !filepath.IsAbs(fields[5]) {
			continue
		}
		uid, err1 := strconv.Atoi(fields[2])
		gid, err2 := strconv.Atoi(fields[3])
		if err1 != nil || err2 != nil {
			continue
		}
		out = append(out, Account{Name: fields[0], UID: uid, GID: gid, Dir: fields[5]})
	}
	return out, sc.Err()
}

// holdsJobs reports whether the account's default state folder is a real
// folder of its own with a job database in it. Anything else (a link, a
// folder of someone else's) is not the user's to have served.
func (a Account) holdsJobs() bool {
	for _, p := range []string{a.Folder(), filepath.Join(a.Folder(), "jobs.db")} {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&os.ModeSymlink != 0 {
			return false
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != a.UID {
			return false
		}
	}
	return true
}

// StartAllUsers runs `bitsjob service start` as each user whose default
// state folder holds jobs and has no service of the user's own, so each
// starts a worker if a job waits (root only: the machine-wide service does
// it at boot). A user's worker runs
// with that user's rights and nothing of root's.
func StartAllUsers() error {
	if os.Geteuid() != 0 {
		return errors.New("starting every user's worker needs root")
	}
	program, err := workerProgram()
	if err != nil {
		return err
	}
	accts, err := Accounts()
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range accts {
		if !a.holdsJobs() || fileExists(recordPath(a.Folder())) {
			continue // nothing to serve, or a service of the user's own serves it
		}
		if err := runAs(a, program, "service", "start"); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.Name, err))
		}
	}
	return errors.Join(errs...)
}

// runAs runs program as the account, with a clean environment of its own,
// and waits for it.
func runAs(a Account, program string, args ...string) error {
	if out, err := a.Command(context.Background(), program, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// StartPeer starts the worker of the user at the other end of c, a
// connection to the machine-wide service's socket (root only), as
// bits-worker@UID.service. Nothing the peer sends is read: its uid comes
// from the kernel.
func StartPeer(c *net.UnixConn) (uid int, err error) {
	uid, err = peerUID(c)
	if err != nil {
		return 0, fmt.Errorf("who is asking: %w", err)
	}
	if _, err := LookupUID(uid); err != nil {
		return uid, fmt.Errorf("uid %d: %w", uid, err)
	}
	_, err = systemctl(true, "start", "--no-block", fmt.Sprintf("bits-worker@%d.service", uid))
	return uid, err
}

// systemActivation reports whether the machine-wide service serves home:
// it is installed under systemd and home is the caller's default state
// folder.
func systemActivation(home string) bool {
	if !fileExists(activateSocketPath) {
		return false
	}
	u, err := currentUser()
	return err == nil && home == (Account{Dir: u.HomeDir}).Folder()
}
