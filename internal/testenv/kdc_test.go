package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestKDC gets a ticket from the KDC with the real kinit, shows it with
// klist, and fails to get one with a wrong password.
func TestKDC(t *testing.T) {
	kdc := StartKDC(t)
	password := kdc.AddUser(t, "alice")
	ccache := filepath.Join(t.TempDir(), "ccache")
	kdc.Kinit(t, "alice", password, ccache)

	klist := exec.Command(lookTool(t, "klist", "krb5-user"), "-c", ccache)
	klist.Env = append(os.Environ(), kdc.Env()...)
	out, err := klist.CombinedOutput()
	if err != nil {
		t.Fatalf("klist: %v\n%s", err, out)
	}
	for _, want := range []string{"Default principal: alice@BITS.TEST", "krbtgt/BITS.TEST@BITS.TEST"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("klist shows no %q:\n%s", want, out)
		}
	}

	wrong := exec.Command(lookTool(t, "kinit", "krb5-user"), "alice")
	wrong.Env = append(os.Environ(), append(kdc.Env(), "KRB5CCNAME=FILE:"+ccache+".wrong")...)
	wrong.Stdin = strings.NewReader("not-" + password + "\n")
	if out, err := wrong.CombinedOutput(); err == nil {
		t.Errorf("kinit with a wrong password succeeded:\n%s", out)
	}

	keytab := kdc.AddService(t, "HTTP/localhost")
	kl := exec.Command(lookTool(t, "klist", "krb5-user"), "-k", keytab)
	kl.Env = append(os.Environ(), kdc.Env()...)
	if out, err := kl.CombinedOutput(); err != nil || !strings.Contains(string(out), "HTTP/localhost@BITS.TEST") {
		t.Errorf("klist -k %s: %v\n%s", keytab, err, out)
	}
	if again := kdc.AddService(t, "HTTP/localhost"); again != keytab {
		t.Errorf("AddService again gave %s, want the first keytab %s", again, keytab)
	}
}
