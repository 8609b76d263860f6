package pac

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Configured returns the URL of the PAC file the user's desktop
// configured, and where it was found, for the error and log texts; ""
// when none is. getenv reads the user's environment (HOME,
// XDG_CONFIG_HOME, GSETTINGS_BACKEND, ...), which may not be this
// process's. The desktops are asked in this order:
//
//   - KDE: kioslaverc in $XDG_CONFIG_HOME (~/.config), whose
//     [Proxy Settings] ProxyType=2 names the file in Proxy Config Script.
//     ProxyType=3, "detect automatically", is WPAD, which is not
//     discovered: it finds nothing, and GNOME's settings are not read
//     either, as KDE is the desktop that holds the proxy settings then.
//   - GNOME: org.gnome.system.proxy, mode 'auto' and autoconfig-url. With
//     GSETTINGS_BACKEND=keyfile they are read from
//     $XDG_CONFIG_HOME/glib-2.0/settings/keyfile; otherwise they live in
//     dconf's binary database, which gsettings reads (no shell, two
//     seconds at most, nothing when gsettings or the schema is missing),
//     only in a session whose XDG_CURRENT_DESKTOP is GNOME or a desktop
//     built on its settings.
//
// Only the user's own files count, not the defaults under /etc/xdg. On
// macOS, where neither desktop runs, it finds nothing.
func Configured(getenv func(string) string) (pacURL, source string) {
	home := getenv("HOME")
	config := getenv("XDG_CONFIG_HOME")
	if config == "" || !filepath.IsAbs(config) {
		if home == "" {
			return "", ""
		}
		config = filepath.Join(home, ".config")
	}
	kde := filepath.Join(config, "kioslaverc")
	if u, proxyType := kdePAC(kde, getenv); u != "" {
		return u, kde
	} else if proxyType == "3" {
		return "", ""
	}
	if getenv("GSETTINGS_BACKEND") == "keyfile" {
		keyfile := filepath.Join(config, "glib-2.0", "settings", "keyfile")
		return gnomeKeyfilePAC(keyfile), keyfile
	}
	if !gnomeSettingsDesktop(getenv("XDG_CURRENT_DESKTOP")) {
		return "", "" // gsettings costs a tenth of a second: not for servers
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if u := gsettingsPAC(ctx, getenv); u != "" {
		return u, "gsettings org.gnome.system.proxy"
	}
	return "", ""
}

// gnomeSettingsDesktop says whether the desktop session, as
// XDG_CURRENT_DESKTOP names it (a colon-separated list), keeps its proxy
// settings in org.gnome.system.proxy, as libproxy's GNOME module decides.
func gnomeSettingsDesktop(current string) bool {
	for d := range strings.SplitSeq(current, ":") {
		switch strings.ToUpper(strings.TrimPrefix(d, "X-")) {
		case "GNOME", "GNOME-CLASSIC", "GNOME-FLASHBACK", "UNITY", "BUDGIE", "PANTHEON", "CINNAMON", "MATE", "UBUNTU":
			return true
		}
	}
	return false
}

// iniGroup returns the keys of group in an INI-style file (KDE's
// KConfig, GLib's key files); later keys win, as both have it.
func iniGroup(path, group string) map[string]string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	keys := map[string]string{}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			in = line == "["+group+"]"
		case in:
			if k, v, ok := strings.Cut(line, "="); ok {
				keys[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return keys
}

// kdePAC reads kioslaverc. A key may carry KConfig flags, as in
// "Proxy Config Script[$e]", where $e asks for $VARIABLES to be expanded.
func kdePAC(path string, getenv func(string) string) (pacURL, proxyType string) {
	keys := map[string]string{}
	for k, v := range iniGroup(path, "Proxy Settings") {
		name, flags, _ := strings.Cut(k, "[$")
		v = unescapeKConfig(v)
		if strings.Contains(flags, "e") {
			v = os.Expand(v, getenv)
		}
		keys[strings.TrimSpace(name)] = v
	}
	proxyType = keys["ProxyType"]
	if proxyType != "2" {
		return "", proxyType
	}
	return keys["Proxy Config Script"], proxyType
}

// unescapeKConfig undoes KConfig's escapes: \s, \t, \n, \r, \\.
func unescapeKConfig(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' || i+1 == len(v) {
			b.WriteByte(v[i])
			continue
		}
		i++
		switch v[i] {
		case 's':
			b.WriteByte(' ')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		default:
			b.WriteByte(v[i])
		}
	}
	return b.String()
}

// gnomeKeyfilePAC reads GLib's keyfile backend, where values are GVariant
// texts: mode='auto', autoconfig-url='http://...'.
func gnomeKeyfilePAC(path string) string {
	keys := iniGroup(path, "system/proxy")
	if gvariantString(keys["mode"]) != "auto" {
		return ""
	}
	return gvariantString(keys["autoconfig-url"])
}

// gsettingsPAC asks gsettings, with getenv's HOME, XDG and GSettings
// variables, which say where the database is.
func gsettingsPAC(ctx context.Context, getenv func(string) string) string {
	bin, err := exec.LookPath("gsettings")
	if err != nil {
		return ""
	}
	var environ []string
	for _, name := range []string{"HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_DATA_DIRS", "XDG_RUNTIME_DIR", "DCONF_PROFILE", "GSETTINGS_BACKEND", "GSETTINGS_SCHEMA_DIR"} {
		if v := getenv(name); v != "" {
			environ = append(environ, name+"="+v)
		}
	}
	get := func(key string) string {
		cmd := exec.CommandContext(ctx, bin, "get", "org.gnome.system.proxy", key)
		cmd.Env = environ
		out, err := cmd.Output()
		if err != nil {
			return ""
		}
		return gvariantString(string(out))
	}
	if get("mode") != "auto" {
		return ""
	}
	return get("autoconfig-url")
}

// gvariantString reads a GVariant string text, 'text' or "text", with
// backslash escapes; "" when v is not one.
func gvariantString(v string) string {
	v = strings.TrimSpace(v)
	if len(v) < 2 || (v[0] != '\'' && v[0] != '"') || v[len(v)-1] != v[0] {
		return ""
	}
	var b strings.Builder
	in := v[1 : len(v)-1]
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c != '\\' || i+1 == len(in) {
			b.WriteByte(c)
			continue
		}
		i++
		switch in[i] {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'u':
			if i+4 < len(in) {
				if r, err := strconv.ParseUint(in[i+1:i+5], 16, 16); err == nil {
					b.WriteRune(rune(r))
					i += 4
					continue
				}
			}
			b.WriteByte('u')
		default:
			b.WriteByte(in[i])
		}
	}
	return b.String()
}
