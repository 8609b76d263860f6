package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bits/internal/testenv"
)

// TestNotifyCommandCompletesTheJob is the classic unattended pattern: the
// notification program is bitsadmin itself, completing the job when it is
// transferred, with nobody watching.
func TestNotifyCommandCompletesTheJob(t *testing.T) {
	u := newUser(t)
	content := testenv.RandomContent(2<<20, 9)
	o := testenv.NewOrigin(t, content)
	dest := filepath.Join(t.TempDir(), "n.bin")
	u.ok("/create", "unattended")
	u.ok("/addfile", "unattended", o.URL("/file"), dest)
	u.ok("/setnotifycmdline", "unattended", "bitsadmin", "bitsadmin /complete unattended")
	if out := u.ok("/getnotifycmdline", "unattended"); !strings.Contains(out, "bitsadmin /complete unattended") {
		t.Fatalf("/getnotifycmdline:\n%s", out)
	}
	u.ok("/resume", "unattended")
	testenv.Eventually(t, "the notification program to complete the job", func() bool {
		return strings.Contains(u.ok("/list"), "Listed 0 job(s).")
	})
	if fileSum(t, dest) != sum(content) {
		t.Fatal("SHA-256 of the completed file differs")
	}
	// The program's run and output reach the log once it has exited.
	testenv.Eventually(t, "the program's output in the worker log", func() bool {
		log, _ := os.ReadFile(filepath.Join(u.home, "worker.log"))
		return strings.Contains(string(log), "notification program ran") && strings.Contains(string(log), "Job completed.")
	})
}

// TestNotifyProgramRunsInTheHomeFolder: a notification program with a
// relative file name writes it in the user's home folder, as from their
// shell, and it runs without a shell: its parameters arrive as the words
// the C runtime's rules make of them.
func TestNotifyProgramRunsInTheHomeFolder(t *testing.T) {
	u := newUser(t)
	home := t.TempDir()
	u.env = append(u.env, "HOME="+home)
	o := testenv.NewOrigin(t, []byte("x"))
	u.ok("/create", "told")
	u.ok("/addfile", "told", o.URL("/file"), filepath.Join(t.TempDir(), "x"))
	u.ok("/setnotifycmdline", "told", "/usr/bin/touch", `touch "done file" a\\"b c"`)
	u.ok("/resume", "told")
	for _, name := range []string{"done file", `a\b c`} {
		path := filepath.Join(home, name)
		testenv.Eventually(t, "the notification program to make "+path, func() bool { return fileExists(path) })
	}
	u.ok("/cancel", "told")
}
