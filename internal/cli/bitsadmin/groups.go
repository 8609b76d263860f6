package bitsadmin

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"

	"bits/engine"
	"bits/engine/spawn"
	"bits/hresult"
	"bits/internal/version"
)

// The command groups: /UTIL, /CACHE, /PEERS and /PEERCACHING. Each is a verb
// whose first argument is a command of its own table, parsed with the same
// grammar as the top-level verbs; adding a command is one table entry.

// Their tables, filled in init because their /HELP prints them.
var utilVerbs, cacheVerbs, peersVerbs, peerCachingVerbs []verb

func init() {
	utilVerbs = append(groupHelp("/UTIL", &utilVerbs),
		verb{name: "/VERSION", syntax: "[/VERBOSE]", help: "Prints the version; /VERBOSE adds the Go version, the state folder and whether the worker runs.",
			grammar: grammar{switches: []switchSpec{swVerbose}}, run: bindVersion},
		notApplicable("/GETIEPROXY", "<account> [/CONN <connection_name>]", 1,
			"get the Internet Explorer proxy settings", noIEProxy),
		notApplicable("/SETIEPROXY", "<account> <usage> [...] [/CONN <connection_name>]", 2,
			"set the Internet Explorer proxy settings", noIEProxy),
		notApplicable("/REPAIRSERVICE", "[/FORCE]", 0, "repair the service",
			"bitsadmin does not manage the service: bitsjob service install sets it up again, bitsjob service status shows it."),
		notApplicable("/ENABLEANALYTICCHANNEL", "TRUE | FALSE", 1, "change the analytic channel",
			"There is no event log: the worker writes its log to worker.log in the state folder, or to the journal under systemd."),
	)
	cacheVerbs = append(groupHelp("/CACHE", &cacheVerbs),
		peerCachingOff("/CLEAR", "", 0, "Purges the cache.", "clear the cache"),
		peerCachingOff("/DELETE", "<record_id>", 1, "Deletes a cache record.", "delete the cache record"),
		peerCachingOff("/DELETEURL", "<url>", 1, "Deletes the cache records of a URL.", "delete the cache records"),
		peerCachingOff("/LIST", "[/VERBOSE]", 0, "Lists the cache records.", "list the cache records"),
		peerCachingOff("/INFO", "<record_id> [/VERBOSE]", 1, "Shows a cache record.", "get the cache record"),
		peerCachingOff("/GETLIMIT", "", 0, "Prints the cache size limit.", "get the cache limit"),
		peerCachingOff("/SETLIMIT", "<percent_of_disk>", 1, "Sets the cache size limit.", "set the cache limit"),
		peerCachingOff("/GETEXPIRATIONTIME", "", 0, "Prints the cache expiration time.", "get the cache expiration time"),
		peerCachingOff("/SETEXPIRATIONTIME", "<seconds>", 1, "Sets the cache expiration time.", "set the cache expiration time"),
	)
	peersVerbs = append(groupHelp("/PEERS", &peersVerbs),
		peerCachingOff("/DISCOVER", "", 0, "Discovers peers.", "discover peers"),
		peerCachingOff("/CLEAR", "", 0, "Clears the list of peers.", "clear the peer list"),
		peerCachingOff("/LIST", "", 0, "Lists the peers.", "list peers"),
	)
	peerCachingVerbs = append(groupHelp("/PEERCACHING", &peerCachingVerbs),
		verb{name: "/GETCONFIGURATIONFLAGS", help: "Prints the peer caching flags of the computer: always 0, peer caching is off.",
			grammar: noArgs, run: func(_ context.Context, e *env, c call) error {
				printValue(e, c.raw, "0")
				return nil
			}},
		peerCachingOff("/SETCONFIGURATIONFLAGS", "<flags>", 1, "Sets the peer caching flags of the computer.",
			"set the peer caching configuration flags"),
	)
}

// groupVerb is the top-level verb of a group: it runs the command of table
// that its arguments name.
func groupVerb(name, help string, table *[]verb) verb {
	return verb{name: name, syntax: "<command> [...]", help: help, grammar: grammar{max: -1},
		run: func(ctx context.Context, e *env, c call) error {
			unknown := &usageError{msg: "Invalid command", usage: func() string { return groupUsage(name, *table) }}
			sub, err := parseCall(*table, c.args, unknown)
			if err != nil {
				return err
			}
			sub.raw, sub.wrap = c.raw, c.wrap
			v, _ := lookupIn(*table, sub.verb)
			return v.run(ctx, e, sub)
		}}
}

// groupHelp returns the /HELP and /? commands of a group.
func groupHelp(group string, table *[]verb) []verb {
	run := func(_ context.Context, e *env, _ call) error {
		io.WriteString(e.stdout, groupUsage(group, *table))
		return nil
	}
	return []verb{
		{name: "/HELP", help: "Prints this help.", grammar: noArgs, run: run},
		{name: "/?", help: "Prints this help.", grammar: noArgs, run: run},
	}
}

// groupUsage is the usage of a group's commands.
func groupUsage(name string, table []verb) string {
	var b strings.Builder
	fmt.Fprintf(&b, "USAGE: BITSADMIN %s command\nThe following commands are available:\n\n", name)
	for _, v := range table {
		b.WriteString(name + " " + v.name)
		if v.syntax != "" {
			b.WriteString(" " + v.syntax)
		}
		b.WriteString("\n    " + v.help + "\n")
	}
	return b.String()
}

// peerCachingOff is a command of Windows' BITS 3.0 peer cache. There is no
// peer cache here, so it answers as Windows does when peer caching is
// disabled: BG_E_PEERCACHING_DISABLED.
func peerCachingOff(name, syntax string, args int, help, action string) verb {
	g := grammar{lead: args, min: args, max: args}
	if strings.Contains(syntax, "/VERBOSE") {
		g.switches = []switchSpec{swVerbose}
	}
	return verb{name: name, syntax: syntax, help: help, grammar: g,
		run: func(context.Context, *env, call) error {
			return &actionError{action: action, err: &hresult.Error{Code: hresult.BG_E_PEERCACHING_DISABLED}}
		}}
}

const noIEProxy = "There are no Internet Explorer proxy settings on this system: jobs with the PRECONFIG proxy usage " +
	"use the http_proxy, https_proxy and no_proxy variables of the shell that made or resumed the job, " +
	"else the PAC file the desktop names. " +
	"Use /SETPROXYSETTINGS to give a job its own proxy."

// notApplicable is a /UTIL command for a part of Windows that Unix does not
// have. It fails with E_NOTIMPL and says why; it takes at least args
// arguments (its own switches are not checked: nothing is done with them).
func notApplicable(name, syntax string, args int, action, why string) verb {
	return verb{name: name, syntax: syntax, help: "Not applicable on this system: prints why and fails.",
		grammar: grammar{min: args, max: -1},
		run: func(context.Context, *env, call) error {
			return &actionError{action: action, err: &hresult.Error{Code: hresult.E_NOTIMPL}, note: why}
		}}
}

type versionOptions struct {
	Verbose bool
	Raw     bool
}

func bindVersion(ctx context.Context, e *env, c call) error {
	return runVersion(ctx, e, versionOptions{Verbose: c.has(swVerbose.name), Raw: c.raw})
}

// runVersion prints the version of this suite; /VERBOSE adds what helps a
// bug report: the Go toolchain, the state folder and whether the worker runs.
func runVersion(_ context.Context, e *env, o versionOptions) error {
	if !o.Verbose {
		printValue(e, o.Raw, version.Version)
		return nil
	}
	home := ""
	if e.m != nil {
		home = e.m.Home()
	} else if h, err := engine.ResolveHome(""); err == nil {
		home = h
	}
	worker := "not running"
	if home != "" && spawn.Running(home) {
		worker = "running"
	}
	lines := []string{
		"VERSION: " + version.Version,
		fmt.Sprintf("GO: %s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH),
		"STATE FOLDER: " + orNone(home),
		"WORKER: " + worker,
	}
	printValue(e, o.Raw, strings.Join(lines, "\n"))
	return nil
}
