package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIErrorsSpeakPlainly: values a user mistypes get an error in words
// that names the flag and the value, never a Go parser's text; a negative
// value after a setting's name is a value, not a flag; and a policy file
// in a folder that does not exist is refused rather than made.
func TestCLIErrorsSpeakPlainly(t *testing.T) {
	u := newUser(t)
	dir := t.TempDir()
	u.env = append(u.env, "BITS_POLICY="+filepath.Join(dir, "policy.conf"))
	u.jobctl("create", "--name", "typo")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"set", "typo", "--notify-flags", "x"}, `--notify-flags: "x" is not a number`},
		{[]string{"set", "typo", "--security-flags", "-1"}, `--security-flags: "-1" is not a number`},
		{[]string{"set", "typo", "--max-bandwidth", "1e9"}, `"1e9" is not a whole number`},
		{[]string{"worker", "--max-background", "many"}, `"many" is not a whole number`},
		{[]string{"config", "set", "MaxJobsPerUser", "-5"}, "MaxJobsPerUser: want a positive number"},
	} {
		_, stderr, code := u.bitsjob(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) || strings.Contains(stderr, "strconv") {
			t.Errorf("bitsjob %s: exit %d\n%s\nwant exit 2 and %q", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
	missing := filepath.Join(dir, "no", "such", "policy.conf")
	_, stderr, code := u.bitsjob("config", "--file", missing, "set", "MaxJobsPerUser", "5")
	if code == 0 || !strings.Contains(stderr, "does not exist") {
		t.Errorf("config --file in a missing folder: exit %d\n%s", code, stderr)
	}
	if fileExists(filepath.Join(dir, "no")) {
		t.Error("config --file made the missing folder")
	}
}
