package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"bits/internal/testenv"
)

// TestSMBDownloadSurvivesServerCrash downloads from a real smbd through
// bitsadmin, kills the server in the middle of the file and starts it
// again: the job resumes from its checkpoint and ends with the right bytes.
func TestSMBDownloadSurvivesServerCrash(t *testing.T) {
	u := newUser(t)
	srv := testenv.StartSMBD(t)
	content := testenv.RandomContent(64<<20, 21)
	srv.WriteFile("dir/big.bin", content)
	dest := filepath.Join(t.TempDir(), "big.bin")

	u.ok("/create", "smb")
	u.ok("/addfile", "smb", srv.URL("dir/big.bin"), dest)
	u.ok("/setcredentials", "smb", "SERVER", "NTLM", srv.User(), srv.Password())
	u.ok("/setminretrydelay", "smb", "5")
	// The job's own limit (40 Mbit/s: some 13 s for the file) keeps the
	// crash in the middle of the file however fast the share reads; it is
	// lifted once the server is back.
	u.jobctl("set", "smb", "--max-bandwidth", "40000")
	u.ok("/resume", "smb")
	testenv.Eventually(t, "the first checkpoint", func() bool { return u.bytesDone("smb") > 0 })
	srv.Kill()
	at := u.bytesDone("smb")
	if at >= int64(len(content)) {
		t.Fatalf("the download finished (%d bytes) before the server was killed", at)
	}
	testenv.Eventually(t, "the job to notice the crash", func() bool {
		s := u.raw("/getstate", "smb")
		return s == "TRANSIENT_ERROR" || s == "QUEUED"
	})
	srv.Restart()
	u.jobctl("set", "smb", "--max-bandwidth", "0")
	u.waitState("smb", "TRANSFERRED")
	if err := u.raw("/geterrorcount", "smb"); err == "0" {
		t.Error("the crash left no error count")
	}
	u.ok("/complete", "smb")
	if fileSum(t, dest) != sum(content) {
		t.Fatal("SHA-256 of the result differs from the share's file")
	}
	if left := testenv.TempFiles(t, filepath.Dir(dest)); len(left) != 0 {
		t.Errorf("temporary files after /complete: %v", left)
	}
}

// TestSMBUpload uploads a file to a real smbd share through bitsadmin.
func TestSMBUpload(t *testing.T) {
	u := newUser(t)
	srv := testenv.StartSMBD(t)
	content := testenv.RandomContent(20<<20+123, 22)
	src := filepath.Join(t.TempDir(), "src.bin")
	if err := os.WriteFile(src, content, 0o600); err != nil {
		t.Fatal(err)
	}
	u.ok("/create", "/upload", "up")
	u.ok("/addfile", "up", srv.URL("up.bin"), src)
	u.ok("/setcredentials", "up", "SERVER", "NTLM", srv.User(), srv.Password())
	u.ok("/resume", "up")
	u.waitState("up", "TRANSFERRED")
	got, err := os.ReadFile(filepath.Join(srv.Dir(), "up.bin"))
	if err != nil || sum(got) != sum(content) {
		t.Fatalf("the share's file differs from the source (%d bytes, %v)", len(got), err)
	}
	if left := testenv.TempFiles(t, srv.Dir()); len(left) != 0 {
		t.Errorf("temporary files left on the share: %v", left)
	}
	u.ok("/complete", "up")
	if out := u.ok("/list"); !strings.Contains(out, "Listed 0 job(s).") {
		t.Errorf("/list after /complete:\n%s", out)
	}
}

// TestSMBWithoutCredentialsSaysHow checks that a job with no credentials
// fails with a message that says how to give them.
func TestSMBWithoutCredentialsSaysHow(t *testing.T) {
	u := newUser(t)
	srv := testenv.StartSMBD(t)
	srv.WriteFile("f.bin", []byte("data"))
	u.ok("/create", "nocreds")
	u.ok("/addfile", "nocreds", srv.URL("f.bin"), filepath.Join(t.TempDir(), "f.bin"))
	u.ok("/resume", "nocreds")
	u.waitState("nocreds", "ERROR")
	if info := u.ok("/info", "nocreds", "/verbose"); !strings.Contains(info, "/setcredentials") {
		t.Errorf("/info does not say how to give credentials:\n%s", info)
	}
}
