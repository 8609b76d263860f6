package spawn

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDBusFiles: the session activation file runs the state folder's
// worker, quoted for the bus's parser; the machine-wide install writes a
// well-formed policy that lets root alone own the name, and an activation
// file that runs root's worker as root; uninstall removes what install
// wrote, and only the activation file of its own state folder.
func TestDBusFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", dir)
	dbusSystemPolicyDir, dbusSystemServicesDir = filepath.Join(dir, "system.d"), filepath.Join(dir, "system-services")
	const name = "org.example.Test1"
	s := &Setup{Home: "/home/o'neil/state", Program: "/opt/bits/bitsjob", DBusName: name}
	r := &Report{}
	if err := installDBus(s, r, &record{}, "bits-worker@x.service"); err != nil {
		t.Fatal(err)
	}
	session := filepath.Join(dir, "dbus-1", "services", name+".service")
	b, err := os.ReadFile(session)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[D-BUS Service]\n", "Name=" + name + "\n",
		`Exec=/usr/bin/env BITS_HOME='/home/o'\''neil/state' '/opt/bits/bitsjob' worker --supervise` + "\n",
		"SystemdService=bits-worker@x.service\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("the activation file lacks %q:\n%s", want, b)
		}
	}
	if err := uninstallDBus(&Setup{Home: "/elsewhere", DBusName: name}, r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(session); err != nil {
		t.Error("uninstall for another state folder removed this one's activation file")
	}
	if err := uninstallDBus(s, r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(session); !os.IsNotExist(err) {
		t.Errorf("the activation file is still there: %v", err)
	}

	sys := &Setup{System: true, Program: "/opt/bits/bitsjob", DBusName: name}
	if err := installDBus(sys, r, &record{}, ""); err != nil {
		t.Fatal(err)
	}
	policy, err := os.ReadFile(filepath.Join(dbusSystemPolicyDir, name+".conf"))
	if err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Policies []struct {
			User    string `xml:"user,attr"`
			Context string `xml:"context,attr"`
			Allow   []struct {
				Own  string `xml:"own,attr"`
				Send string `xml:"send_destination,attr"`
			} `xml:"allow"`
		} `xml:"policy"`
	}
	if err := xml.Unmarshal(policy, &conf); err != nil {
		t.Fatalf("the policy is not well-formed: %v\n%s", err, policy)
	}
	for _, p := range conf.Policies {
		for _, a := range p.Allow {
			if a.Own != "" && (a.Own != name || p.User != "root") {
				t.Errorf("the policy lets %q%q own %q", p.User, p.Context, a.Own)
			}
		}
	}
	act, err := os.ReadFile(filepath.Join(dbusSystemServicesDir, name+".service"))
	if err != nil || !strings.HasSuffix(string(act), "User=root\n") || !strings.Contains(string(act), "worker --supervise") {
		t.Errorf("the system activation file: %v\n%s", err, act)
	}
	if err := uninstallDBus(sys, r); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "system*", "*")); len(left) != 0 {
		t.Errorf("left after uninstall --system: %v", left)
	}
}
