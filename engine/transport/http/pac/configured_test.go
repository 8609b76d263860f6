package pac

import (
	"bytes"
	"context"
	"fmt"
	nethttp "net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bits/internal/testenv"
)

// userEnv is a user's environment with HOME at home and the variables of
// vars.
func userEnv(home string, vars ...string) func(string) string {
	m := map[string]string{"HOME": home}
	for i := 0; i+1 < len(vars); i += 2 {
		m[vars[i]] = vars[i+1]
	}
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestConfiguredKDE(t *testing.T) {
	home := t.TempDir()
	rc := filepath.Join(home, ".config", "kioslaverc")
	for _, c := range []struct{ name, content, want string }{
		{"pac", "[Proxy Settings]\nProxyType=2\nProxy Config Script=http://wpad.corp.example/proxy.pac\n", "http://wpad.corp.example/proxy.pac"},
		{"expanded", "[General]\nProxy Config Script=http://wrong.example/\n\n[Proxy Settings]\nProxy Config Script[$e]=file://$HOME/proxy.pac\nProxyType=2\n", "file://" + home + "/proxy.pac"},
		{"escaped", "[Proxy Settings]\nProxyType=2\nProxy Config Script=file:///srv/my\\sproxy.pac\n", "file:///srv/my proxy.pac"},
		{"other group", "[Other]\nProxyType=2\nProxy Config Script=http://wrong.example/\n", ""},
		{"manual", "[Proxy Settings]\nProxyType=1\nProxy Config Script=http://wrong.example/\nhttpProxy=http://p.example 8080\n", ""},
		{"wpad", "[Proxy Settings]\nProxyType=3\n", ""},
		{"no script", "[Proxy Settings]\nProxyType=2\n", ""},
	} {
		writeFile(t, rc, c.content)
		got, source := Configured(userEnv(home))
		if got != c.want {
			t.Errorf("%s: Configured = %q, want %q", c.name, got, c.want)
		}
		if c.want != "" && source != rc {
			t.Errorf("%s: source %q, want %q", c.name, source, rc)
		}
	}
	// XDG_CONFIG_HOME is where the file is when set.
	config := t.TempDir()
	writeFile(t, filepath.Join(config, "kioslaverc"), "[Proxy Settings]\nProxyType=2\nProxy Config Script=http://xdg.example/p.pac\n")
	if got, _ := Configured(userEnv(home, "XDG_CONFIG_HOME", config)); got != "http://xdg.example/p.pac" {
		t.Errorf("with XDG_CONFIG_HOME: %q", got)
	}
	if got, source := Configured(userEnv("")); got != "" || source != "" {
		t.Errorf("without HOME: %q from %q", got, source)
	}
}

func TestConfiguredGNOMEKeyfile(t *testing.T) {
	home := t.TempDir()
	keyfile := filepath.Join(home, ".config", "glib-2.0", "settings", "keyfile")
	env := userEnv(home, "GSETTINGS_BACKEND", "keyfile")
	for _, c := range []struct{ name, content, want string }{
		{"auto", "[org/gnome/desktop/interface]\nclock-format='24h'\n\n[system/proxy]\nmode='auto'\nautoconfig-url='http://wpad.example/proxy.pac'\n", "http://wpad.example/proxy.pac"},
		{"quoted", "[system/proxy]\nautoconfig-url=\"http://wpad.example/it's.pac\"\nmode='auto'\n", "http://wpad.example/it's.pac"},
		{"escaped", "[system/proxy]\nmode='auto'\nautoconfig-url='file:///srv/it\\'s.pac'\n", "file:///srv/it's.pac"},
		{"manual", "[system/proxy]\nmode='manual'\nautoconfig-url='http://wrong.example/'\n", ""},
		{"default mode", "[system/proxy]\nautoconfig-url='http://wrong.example/'\n", ""},
		{"unquoted", "[system/proxy]\nmode='auto'\nautoconfig-url=http://wrong.example/\n", ""},
	} {
		writeFile(t, keyfile, c.content)
		got, source := Configured(env)
		if got != c.want {
			t.Errorf("%s: Configured = %q, want %q", c.name, got, c.want)
		}
		if source != keyfile {
			t.Errorf("%s: source %q, want %q", c.name, source, keyfile)
		}
	}
	// KDE comes first, and its WPAD setting means nothing is configured.
	rc := filepath.Join(home, ".config", "kioslaverc")
	writeFile(t, keyfile, "[system/proxy]\nmode='auto'\nautoconfig-url='http://gnome.example/p.pac'\n")
	writeFile(t, rc, "[Proxy Settings]\nProxyType=2\nProxy Config Script=http://kde.example/p.pac\n")
	if got, _ := Configured(env); got != "http://kde.example/p.pac" {
		t.Errorf("KDE and GNOME: %q, want KDE's", got)
	}
	writeFile(t, rc, "[Proxy Settings]\nProxyType=3\n")
	if got, _ := Configured(env); got != "" {
		t.Errorf("KDE's WPAD and GNOME: %q, want none", got)
	}
	writeFile(t, rc, "[Proxy Settings]\nProxyType=0\n")
	if got, _ := Configured(env); got != "http://gnome.example/p.pac" {
		t.Errorf("no KDE proxy and GNOME: %q, want GNOME's", got)
	}
}

// TestGsettings runs the real gsettings over its keyfile backend, which
// needs no D-Bus session, when it and GNOME's proxy schema are installed.
func TestGsettings(t *testing.T) {
	bin, err := exec.LookPath("gsettings")
	if err != nil {
		testenv.Missing(t, "gsettings (libglib2.0-bin) is missing")
	}
	config := t.TempDir()
	env := userEnv(t.TempDir(), "XDG_CONFIG_HOME", config, "GSETTINGS_BACKEND", "keyfile")
	probe := exec.Command(bin, "get", "org.gnome.system.proxy", "mode")
	probe.Env = []string{"HOME=" + env("HOME"), "XDG_CONFIG_HOME=" + config, "GSETTINGS_BACKEND=keyfile"}
	if out, err := probe.Output(); err != nil || strings.TrimSpace(string(out)) != "'none'" {
		testenv.Missing(t, fmt.Sprintf("no org.gnome.system.proxy schema (gsettings-desktop-schemas): %s %v", out, err))
	}
	ctx := context.Background()
	if got := gsettingsPAC(ctx, env); got != "" {
		t.Errorf("no settings: %q", got)
	}
	writeFile(t, filepath.Join(config, "glib-2.0", "settings", "keyfile"),
		"[system/proxy]\nmode='auto'\nautoconfig-url='http://wpad.example/it\\'s.pac'\n")
	if got := gsettingsPAC(ctx, env); got != "http://wpad.example/it's.pac" {
		t.Errorf("gsettings: %q", got)
	}
	if got := gsettingsPAC(ctx, userEnv(t.TempDir(), "XDG_CONFIG_HOME", config, "GSETTINGS_BACKEND", "keyfile", "XDG_DATA_DIRS", t.TempDir())); got != "" {
		t.Errorf("without the schema: %q", got)
	}
}

// TestGsettingsDconf writes GNOME's settings into a private dconf
// database, through a private D-Bus session as dconf writes need one, and
// reads them back without a session, as Configured does.
func TestGsettingsDconf(t *testing.T) {
	gsettings, err1 := exec.LookPath("gsettings")
	session, err2 := exec.LookPath("dbus-run-session")
	if err1 != nil || err2 != nil {
		testenv.Missing(t, "gsettings (libglib2.0-bin) or dbus-run-session (dbus-daemon) is missing")
	}
	home := t.TempDir()
	set := func(key, value string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, session, "--", gsettings, "set", "org.gnome.system.proxy", key, value)
		cmd.Env = []string{"HOME=" + home, "XDG_RUNTIME_DIR=" + home, "PATH=" + os.Getenv("PATH")}
		if out, err := cmd.CombinedOutput(); err != nil {
			testenv.Missing(t, fmt.Sprintf("cannot write a dconf database (gsettings-desktop-schemas, dconf-gsettings-backend): %v: %s", err, out))
		}
	}
	set("autoconfig-url", "http://wpad.example/dconf.pac")
	if _, err := os.Stat(filepath.Join(home, ".config", "dconf", "user")); err != nil {
		testenv.Missing(t, fmt.Sprintf("no dconf database (dconf-gsettings-backend): %v", err))
	}
	if got, source := Configured(userEnv(home)); got != "" {
		t.Errorf("mode none: %q from %q", got, source)
	}
	set("mode", "auto")
	if got, source := Configured(userEnv(home, "XDG_CURRENT_DESKTOP", "ubuntu:GNOME")); got != "http://wpad.example/dconf.pac" || source != "gsettings org.gnome.system.proxy" {
		t.Errorf("mode auto: %q from %q", got, source)
	}
	// Outside a GNOME session gsettings is not asked: it takes a tenth of
	// a second, which every server would pay.
	if got, source := Configured(userEnv(home, "XDG_CURRENT_DESKTOP", "KDE")); got != "" {
		t.Errorf("a KDE session took GNOME's settings: %q from %q", got, source)
	}
}

func TestGvariantString(t *testing.T) {
	for in, want := range map[string]string{
		`'auto'`:             "auto",
		`"it's"`:             "it's",
		`'it\'s'`:            "it's",
		`'a\\b'`:             `a\b`,
		`'\u00e9t\u00e9'`:    "été",
		" 'spaced' \n":       "spaced",
		`auto`:               "",
		`'open`:              "",
		`'mixed"`:            "",
		`''`:                 "",
		`@ms 'maybe string'`: "",
	} {
		if got := gvariantString(in); got != want {
			t.Errorf("gvariantString(%q) = %q, want %q", in, got, want)
		}
	}
}

const pacSource = `function FindProxyForURL(url, host) { return "DIRECT"; }`

func TestFetchHTTP(t *testing.T) {
	big := bytes.Repeat([]byte("/"), maxSize+1)
	srv := httptest.NewServer(nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		switch r.URL.Path {
		case "/proxy.pac":
			w.Header().Set("Content-Type", "application/x-ns-proxy-autoconfig")
			w.Write([]byte(pacSource))
		case "/limit.pac":
			w.Write(big[:maxSize])
		case "/big.pac":
			w.Write(big)
		case "/moved.pac":
			nethttp.Redirect(w, r, "/proxy.pac", nethttp.StatusFound)
		case "/empty.pac":
			w.WriteHeader(nethttp.StatusNoContent)
		default:
			nethttp.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	for _, client := range []*nethttp.Client{srv.Client(), nil} {
		got, err := Fetch(ctx, client, srv.URL+"/proxy.pac")
		if err != nil || string(got) != pacSource {
			t.Errorf("proxy.pac: %q, %v", got, err)
		}
	}
	if got, err := Fetch(ctx, srv.Client(), srv.URL+"/moved.pac"); err != nil || string(got) != pacSource {
		t.Errorf("moved.pac: %q, %v", got, err)
	}
	if got, err := Fetch(ctx, srv.Client(), srv.URL+"/limit.pac"); err != nil || len(got) != maxSize {
		t.Errorf("a file of the largest size: %d bytes, %v", len(got), err)
	}
	for _, path := range []string{"/big.pac", "/missing.pac", "/empty.pac"} {
		if got, err := Fetch(ctx, srv.Client(), srv.URL+path); err == nil {
			t.Errorf("%s: %d bytes, want an error", path, len(got))
		}
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Fetch(canceled, srv.Client(), srv.URL+"/proxy.pac"); err == nil {
		t.Error("a canceled fetch succeeded")
	}
	u := strings.Replace(srv.URL, "http://", "http://user:secret@", 1) + "/missing.pac"
	if _, err := Fetch(ctx, srv.Client(), u); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("the error names the password or there is none: %v", err)
	}
}

func TestFetchFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "proxy.pac")
	writeFile(t, path, pacSource)
	ctx := context.Background()
	for _, u := range []string{path, "file://" + path, "file://localhost" + path, "FILE://" + path} {
		got, err := Fetch(ctx, nil, u)
		if err != nil || string(got) != pacSource {
			t.Errorf("%s: %q, %v", u, got, err)
		}
	}
	writeFile(t, filepath.Join(dir, "limit.pac"), strings.Repeat("/", maxSize))
	if got, err := Fetch(ctx, nil, filepath.Join(dir, "limit.pac")); err != nil || len(got) != maxSize {
		t.Errorf("a file of the largest size: %d bytes, %v", len(got), err)
	}
	writeFile(t, filepath.Join(dir, "big.pac"), strings.Repeat("/", maxSize+1))
	for _, u := range []string{
		filepath.Join(dir, "big.pac"),
		filepath.Join(dir, "missing.pac"),
		"file://server.example" + path,
		"file://",
		"ftp://server.example/proxy.pac",
		"proxy.pac",
		"http://%zz/",
	} {
		if got, err := Fetch(ctx, nil, u); err == nil {
			t.Errorf("%s: %d bytes, want an error", u, len(got))
		}
	}
}
