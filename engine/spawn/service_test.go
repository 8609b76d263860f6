package spawn

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"bits/internal/testenv"
)

// A program whose path needs quoting: a space, a % and a $ (and, where
// quotes may go, a quote).
func awkwardProgram(t *testing.T, quote string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "my tools 100% $HOME"+quote)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "bitsjob")
	if err := os.WriteFile(p, []byte("#!/bin/sh\nprintf '%s\\n' \"BITS_HOME=$BITS_HOME\" \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSystemdUnitsVerify checks every generated unit with systemd's own
// checker; any complaint fails the test.
func TestSystemdUnitsVerify(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testenv.Missing(t, "systemd-analyze is missing (Debian: systemd)")
	}
	program := awkwardProgram(t, "")
	for _, c := range []struct {
		system bool
		verify []string // units to verify: instances of the templates
	}{
		{false, []string{"bits-worker@" + escapePath("/home/a b/.local/state/bits") + ".service", "bits-worker@" + escapePath("/home/a b/.local/state/bits") + ".socket"}},
		{true, []string{"bits-worker@1000.service", activateSocket, "bits-activate@0-1.service", bootService}},
	} {
		files, err := systemdFiles(program, c.system)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		args := []string{"verify", "--man=no"}
		runtime := t.TempDir()
		if !c.system {
			args = append([]string{"--user"}, args...)
		}
		for _, u := range c.verify {
			args = append(args, filepath.Join(dir, u))
		}
		cmd := exec.Command(analyze, args...)
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runtime)
		out, err := cmd.CombinedOutput()
		if err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("systemd-analyze %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		svc := string(files[userService])
		if c.system {
			svc = string(files[systemService])
		}
		if !strings.Contains(svc, "Restart=on-failure") || !strings.Contains(svc, "RestartSec=2") {
			t.Errorf("the worker unit does not restart within a few seconds:\n%s", svc)
		}
	}
	if _, err := systemdFiles(awkwardProgram(t, "'"), false); err == nil {
		t.Error("a program path that systemd cannot run was accepted")
	}
}

func TestEscapePathMatchesSystemd(t *testing.T) {
	esc, err := exec.LookPath("systemd-escape")
	if err != nil {
		testenv.Missing(t, "systemd-escape is missing (Debian: systemd)")
	}
	for _, p := range []string{"/root/.local/state/bits", "/home/a b/x-y/.z", "/tmp/ünï/%s", "/a//b/", "/"} {
		out, err := exec.Command(esc, "--path", p).Output()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := escapePath(p), strings.TrimSpace(string(out)); got != want {
			t.Errorf("escapePath(%q) = %q, systemd-escape --path says %q", p, got, want)
		}
	}
}

// plist is enough of the property list format to read an agent back.
type plistValue struct {
	XMLName xml.Name
	Text    string       `xml:",chardata"`
	Items   []plistValue `xml:",any"`
}

func (v plistValue) dict() map[string]plistValue {
	out := map[string]plistValue{}
	for i := 0; i+1 < len(v.Items); i += 2 {
		out[v.Items[i].Text] = v.Items[i+1]
	}
	return out
}

func TestLaunchdAgentIsWellFormed(t *testing.T) {
	program := awkwardProgram(t, "'") + "&<x>"
	home := "/Users/a & b/state"
	label, b, err := launchdAgent(home, program)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	dec.Strict = true
	var root struct {
		Version string     `xml:"version,attr"`
		Dict    plistValue `xml:"dict"`
	}
	if err := dec.Decode(&root); err != nil {
		t.Fatalf("the agent is not well-formed XML: %v\n%s", err, b)
	}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if cd, ok := tok.(xml.CharData); err != nil || !ok || len(bytes.TrimSpace(cd)) > 0 {
			t.Fatalf("after the plist: %v %v", tok, err)
		}
	}
	d := root.Dict.dict()
	if d["Label"].Text != label || !strings.HasPrefix(label, launchdBaseLabel+".") {
		t.Errorf("Label %q, want %q (with a hash of the folder)", d["Label"].Text, label)
	}
	var args []string
	for _, a := range d["ProgramArguments"].Items {
		args = append(args, a.Text)
	}
	if strings.Join(args, "|") != program+"|worker|--supervise" {
		t.Errorf("ProgramArguments %q", args)
	}
	if env := d["EnvironmentVariables"].dict(); env["BITS_HOME"].Text != home {
		t.Errorf("BITS_HOME %q, want %q", env["BITS_HOME"].Text, home)
	}
	if d["RunAtLoad"].XMLName.Local != "true" {
		t.Errorf("RunAtLoad is %s, want true", d["RunAtLoad"].XMLName.Local)
	}
	if ka := d["KeepAlive"].dict(); ka["SuccessfulExit"].XMLName.Local != "false" {
		t.Errorf("KeepAlive does not restart the agent after a failure: %+v", d["KeepAlive"])
	}
	if _, b, _ := launchdAgent("", program); bytes.Contains(b, []byte("BITS_HOME")) {
		t.Error("the machine-wide agent names a state folder; it must serve each user's default one")
	}
}

// TestCronLineQuoting runs the command of an @reboot line the way cron
// does (through sh, % restored) with a state folder and a program whose
// names need quoting.
func TestCronLineQuoting(t *testing.T) {
	program := awkwardProgram(t, "'")
	home := "/tmp/it's a 50% \"folder\"; $HOME"
	line := cronLine(home, program)
	if strings.Count(line, "\n") > 0 || strings.Contains(strings.ReplaceAll(line, `\%`, ""), "%") {
		t.Fatalf("a %% that cron would turn into a line break: %s", line)
	}
	cmdline, ok := CronCommand(line)
	if !ok {
		t.Fatalf("not an @reboot line: %s", line)
	}
	out, err := exec.Command("/bin/sh", "-c", cmdline).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmdline, err, out)
	}
	if want := "BITS_HOME=" + home + "\nworker\n--supervise\n"; string(out) != want {
		t.Errorf("the @reboot command ran with\n%q\nwant\n%q", out, want)
	}
	if !ours(line, home) || ours(line, home+"x") {
		t.Error("the line is not told apart by its state folder")
	}
}
