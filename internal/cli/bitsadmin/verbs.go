package bitsadmin

import (
	"context"
	"io"
	"slices"
	"strings"

	"bits/engine"
)

// A verb is one bitsadmin command: its grammar, its usage line, and the
// function that turns a call into the verb's options and runs it. Adding a
// verb is adding one entry to the table in init.
type verb struct {
	name    string // canonical spelling, e.g. "/ADDFILE"
	syntax  string // arguments, for the usage text
	help    string // one line, for the usage text
	grammar grammar
	run     func(ctx context.Context, e *env, c call) error
}

// Common grammars.
var (
	noArgs  = grammar{}
	oneJob  = grammar{lead: 1, min: 1, max: 1}
	jobAnd1 = grammar{lead: 1, min: 2, max: 2}
)

// Switches that choose a job type.
var (
	swDownload    = switchSpec{name: "/DOWNLOAD", group: "type"}
	swUpload      = switchSpec{name: "/UPLOAD", group: "type"}
	swUploadReply = switchSpec{name: "/UPLOAD-REPLY", group: "type"}
	swAllUsers    = switchSpec{name: "/ALLUSERS"}
	swVerbose     = switchSpec{name: "/VERBOSE"}
)

// verbs is the dispatch table, in the order the usage text lists them. It is
// filled in init because /HELP prints it.
var verbs []verb

func init() {
	verbs = []verb{
		{name: "/HELP", help: "Prints this help.", grammar: noArgs, run: bindHelp},
		{name: "/?", help: "Prints this help.", grammar: noArgs, run: bindHelp},
		{name: "/LIST", syntax: "[/ALLUSERS] [/VERBOSE]", help: "Lists the jobs.",
			grammar: grammar{switches: []switchSpec{swAllUsers, swVerbose}}, run: bindList},
		{name: "/MONITOR", syntax: "[/ALLUSERS] [/REFRESH seconds]", help: "Shows the jobs every few seconds (5 by default) until Ctrl+C.",
			grammar: grammar{switches: []switchSpec{swAllUsers, {name: "/REFRESH", value: true}}}, run: bindMonitor},
		{name: "/RESET", syntax: "[/ALLUSERS]", help: "Cancels every job.",
			grammar: grammar{switches: []switchSpec{swAllUsers}}, run: bindReset},
		{name: "/TRANSFER", syntax: "<name> [/DOWNLOAD | /UPLOAD] [/PRIORITY priority] [/ACLFLAGS flags] [/DYNAMIC] <remote> <local> [<remote> <local> ...]",
			help:    "Transfers files and waits until they are done (Ctrl+C cancels).",
			grammar: grammar{lead: 1, switches: []switchSpec{swDownload, swUpload, {name: "/PRIORITY", value: true}, {name: "/ACLFLAGS", value: true}, {name: "/DYNAMIC"}}, min: 3, max: -1, pairs: true},
			run:     bindTransfer},
		{name: "/CREATE", syntax: "[/DOWNLOAD | /UPLOAD | /UPLOAD-REPLY] <name>", help: "Creates a job (SUSPENDED).",
			grammar: grammar{switches: []switchSpec{swDownload, swUpload, swUploadReply}, min: 1, max: 1}, run: bindCreate},
		{name: "/INFO", syntax: "<job> [/VERBOSE]", help: "Shows a job.",
			grammar: grammar{lead: 1, switches: []switchSpec{swVerbose}, min: 1, max: 1}, run: bindInfo},
		{name: "/ADDFILE", syntax: "<job> <remote> <local>", help: "Adds a file to the job.",
			grammar: grammar{lead: 1, min: 3, max: 3}, run: bindAddFile},
		{name: "/ADDFILESET", syntax: "<job> <textfile>", help: "Adds the files listed in textfile, one '<remote> <local>' pair a line ('#' starts a comment line): all or none.",
			grammar: jobAnd1, run: bindAddFileSet},
		{name: "/ADDFILEWITHRANGES", syntax: "<job> <remote> <local> <ranges>", help: "Adds a file of which only the ranges offset:length,... are transferred ('eof' as length: to the end).",
			grammar: grammar{lead: 1, min: 4, max: 4}, run: bindAddFileWithRanges},
		{name: "/REPLACEREMOTEPREFIX", syntax: "<job> <old_prefix> <new_prefix>", help: "Changes the start of the remote names that begin with old_prefix (case-sensitive).",
			grammar: grammar{lead: 1, min: 3, max: 3}, run: bindReplaceRemotePrefix},
		{name: "/LISTFILES", syntax: "<job>", help: "Lists the files of the job.", grammar: oneJob, run: bindListFiles},
		{name: "/SUSPEND", syntax: "<job>", help: "Suspends the job.", grammar: oneJob, run: bindSuspend},
		{name: "/RESUME", syntax: "<job>", help: "Resumes the job.", grammar: oneJob, run: bindResume},
		{name: "/CANCEL", syntax: "<job>", help: "Cancels the job and deletes its temporary files.", grammar: oneJob, run: bindCancel},
		{name: "/COMPLETE", syntax: "<job>", help: "Completes the job: its files appear under their names.", grammar: oneJob, run: bindComplete},

		getter("/GETTYPE", "Prints the job type: Download, Upload or Upload-Reply.", fieldType),
		getter("/GETBYTESTOTAL", "Prints the size of the job in bytes.", fieldBytesTotal),
		getter("/GETBYTESTRANSFERRED", "Prints the bytes transferred.", fieldBytesTransferred),
		getter("/GETFILESTOTAL", "Prints the number of files in the job.", fieldFilesTotal),
		getter("/GETFILESTRANSFERRED", "Prints the number of files transferred.", fieldFilesTransferred),
		getter("/GETCREATIONTIME", "Prints when the job was created.", fieldCreationTime),
		getter("/GETMODIFICATIONTIME", "Prints when the job last changed.", fieldModificationTime),
		getter("/GETCOMPLETIONTIME", "Prints when the job was transferred, or UNKNOWN.", fieldCompletionTime),
		getter("/GETSTATE", "Prints the state of the job.", fieldState),
		{name: "/GETERROR", syntax: "<job>", help: "Prints the error of a job in ERROR or TRANSIENT_ERROR.", grammar: oneJob, run: bindGetError},
		getter("/GETOWNER", "Prints the owner of the job.", fieldOwner),
		getSetting("DISPLAYNAME"),
		setSetting("DISPLAYNAME"),
		getSetting("DESCRIPTION"),
		setSetting("DESCRIPTION"),
		getSetting("PRIORITY"),
		setSetting("PRIORITY"),
		getSetting("NOTIFYFLAGS"),
		setSetting("NOTIFYFLAGS"),
		getter("/GETNOTIFYINTERFACE", "Prints whether a notify interface is registered: always UNREGISTERED.", fieldNotifyInterface),
		getSetting("MINRETRYDELAY"),
		setSetting("MINRETRYDELAY"),
		getSetting("NOPROGRESSTIMEOUT"),
		setSetting("NOPROGRESSTIMEOUT"),
		getSetting("MAXDOWNLOADTIME"),
		setSetting("MAXDOWNLOADTIME"),
		getter("/GETERRORCOUNT", "Prints how many times the job has failed.", fieldErrorCount),

		{name: "/SETPROXYSETTINGS", syntax: "<job> PRECONFIG|AUTODETECT|NO_PROXY | <job> OVERRIDE <proxy_list> <bypass_list>",
			help:    "Sets the proxy usage; lists are separated by commas or spaces, NULL or \"\" for none.",
			grammar: grammar{lead: 1, min: 2, max: 4}, run: bindSetProxySettings},
		getter("/GETPROXYUSAGE", "Prints the proxy usage: Preconfig, No_Proxy, Override or Autodetect.", fieldProxyUsage),
		getter("/GETPROXYLIST", "Prints the proxy list, or NULL.", fieldProxyList),
		getter("/GETPROXYBYPASSLIST", "Prints the proxy bypass list, or NULL.", fieldProxyBypassList),
		{name: "/TAKEOWNERSHIP", syntax: "<job>", help: "Makes you the owner of the job (it loses its credentials, headers, notification command line and helper token).",
			grammar: oneJob, run: bindTakeOwnership},
		{name: "/SETNOTIFYCMDLINE", syntax: "<job> <program>|NULL [<parameters>|NULL]",
			help:    "Sets the program run when the job is transferred or fails; its parameters start with the program's name. NULL NULL removes it.",
			grammar: grammar{lead: 1, min: 2, max: -1}, run: bindSetNotifyCmdLine},
		getter("/GETNOTIFYCMDLINE", "Prints the notification command line, or none.", fieldNotifyCmdLine),
		{name: "/SETCREDENTIALS", syntax: "<job> SERVER|PROXY BASIC|DIGEST|NTLM|NEGOTIATE|PASSPORT <user> <password>",
			help:    "Adds credentials to the job (NULL NULL: the implicit ones, NTLM and NEGOTIATE only). They are never shown.",
			grammar: grammar{lead: 1, min: 5, max: 5}, run: bindSetCredentials},
		{name: "/REMOVECREDENTIALS", syntax: "<job> SERVER|PROXY <scheme>", help: "Removes credentials from the job.",
			grammar: grammar{lead: 1, min: 3, max: 3}, run: bindRemoveCredentials},
		{name: "/SETCUSTOMHEADERS", syntax: "<job> <header> [<header> ...] | <job> NULL", help: "Sets the HTTP headers sent with every request, one 'Name: value' per argument; NULL removes them.",
			grammar: grammar{lead: 1, min: 2, max: -1}, run: bindSetCustomHeaders},
		getter("/GETCUSTOMHEADERS", "Prints the custom headers, one per line.", fieldCustomHeaders),
		{name: "/MAKECUSTOMHEADERSWRITEONLY", syntax: "<job>", help: "Makes the custom headers unreadable, for good.",
			grammar: oneJob, run: bindMakeHeadersWriteOnly},
		setSetting("HTTPMETHOD"),
		getSetting("HTTPMETHOD"),
		setSetting("SECURITYFLAGS"),
		getSetting("SECURITYFLAGS"),
		{name: "/SETCLIENTCERTIFICATEBYID", syntax: "<job> <store_location> <store_name> <sha1_hex>",
			help:    "Sets the client certificate by store (location 1-8 or BG_CERT_STORE_LOCATION_*, store CA, MY, ROOT or SPC) and SHA-1 hash.",
			grammar: grammar{lead: 1, min: 4, max: 4}, run: bindSetClientCertByID},
		{name: "/SETCLIENTCERTIFICATEBYNAME", syntax: "<job> <store_location> <store_name> <subject_name>",
			help:    "Sets the client certificate by store and subject name.",
			grammar: grammar{lead: 1, min: 4, max: 4}, run: bindSetClientCertByName},
		{name: "/REMOVECLIENTCERTIFICATE", syntax: "<job>", help: "Removes the client certificate.", grammar: oneJob, run: bindRemoveClientCert},
		getter("/GETCLIENTCERTIFICATE", "Prints the client certificate: location, store, and hash or subject.", fieldClientCertificate),
		setSetting("ACLFLAGS"),
		getSetting("ACLFLAGS"),
		{name: "/SETVALIDATIONSTATE", syntax: "<job> <file_index> TRUE|FALSE", help: "Marks a transferred file valid or not valid (not valid: the job goes to ERROR and the file starts again).",
			grammar: grammar{lead: 1, min: 3, max: 3}, run: bindSetValidationState},
		fileGetter("/GETVALIDATIONSTATE", "Prints TRUE if the file was marked valid, else FALSE.", fileValidation),
		fileGetter("/GETTEMPORARYNAME", "Prints the path of the file's temporary file, or none.", fileTempName),
		setSetting("PEERCACHINGFLAGS"),
		getSetting("PEERCACHINGFLAGS"),
		fileGetter("/GETPEERSTATS", "Peer caching is off: fails with 0x80200047.", filePeerStats),
		getter("/GETREPLYFILENAME", "Prints the reply file of an upload-reply job.", fieldReplyFileName),
		setSetting("REPLYFILENAME"),
		getter("/GETREPLYPROGRESS", "Prints the progress of an upload-reply job's reply.", fieldReplyProgress),
		{name: "/GETREPLYDATA", syntax: "<job>", help: "Dumps an upload-reply job's reply in hex.", grammar: oneJob, run: bindGetReplyData},
		{name: "/SETHELPERTOKEN", syntax: "<job> [<account> <password>]", help: "Attaches your account, or another (its name only is kept), to the job.",
			grammar: grammar{lead: 1, min: 1, max: 3}, run: bindSetHelperToken},
		getter("/GETHELPERTOKENSID", "Prints the account of the helper token, or none.", fieldHelperToken),
		setSetting("HELPERTOKENFLAGS"),
		getSetting("HELPERTOKENFLAGS"),
	}
	verbs = append(verbs, unplacedSettingVerbs(verbs)...)
	verbs = append(verbs,
		groupVerb("/UTIL", "Utilities: /UTIL /HELP lists them.", &utilVerbs),
		groupVerb("/CACHE", "Peer cache commands (peer caching is off): /CACHE /HELP lists them.", &cacheVerbs),
		groupVerb("/PEERS", "Peer commands (peer caching is off): /PEERS /HELP lists them.", &peersVerbs),
		groupVerb("/PEERCACHING", "Peer caching configuration (off): /PEERCACHING /HELP lists them.", &peerCachingVerbs),
	)
}

// unplacedSettingVerbs are the /SET and /GET verbs of the settings of
// engine.Settings that the table above does not list: a setting with a
// verb has them without an entry here, which only chooses their place in
// the usage.
func unplacedSettingVerbs(placed []verb) []verb {
	var out []verb
	for _, s := range engine.Settings() {
		if s.Verb == "" {
			continue
		}
		for _, v := range []struct {
			help string
			make func(string) verb
		}{{s.SetHelp, setSetting}, {s.GetHelp, getSetting}} {
			if v.help == "" {
				continue
			}
			if nv := v.make(s.Verb); !slices.ContainsFunc(placed, func(p verb) bool { return p.name == nv.name }) {
				out = append(out, nv)
			}
		}
	}
	return out
}

func getter(name, help string, f field) verb {
	return verb{name: name, syntax: "<job>", help: help, grammar: oneJob,
		run: func(ctx context.Context, e *env, c call) error {
			return runGet(ctx, e, getOptions{Job: c.args[0], Raw: c.raw, Field: f})
		}}
}

// setter is a /SET* verb of one value that parse turns into settings; a
// value parse refuses is reported before the job is even looked up.
func setter(name, syntax, help, action string, parse valueParser) verb {
	return verb{name: name, syntax: syntax, help: help, grammar: jobAnd1,
		run: func(ctx context.Context, e *env, c call) error {
			props, done, err := parse(c.args[1])
			if err != nil {
				return &actionError{action: action, err: err}
			}
			return runSetProps(ctx, e, propSetOptions{Job: c.args[0], Action: action, Props: props, Done: done})
		}}
}

func lookupVerb(name string) (*verb, bool) { return lookupIn(verbs, name) }

func lookupIn(table []verb, name string) (*verb, bool) {
	for i := range table {
		if strings.EqualFold(name, table[i].name) {
			return &table[i], true
		}
	}
	return nil, false
}

// usageText is the full usage, in the shape of Windows' (its first line is
// what scripts and people look for), listing the verbs of the table.
func usageText() string {
	var b strings.Builder
	b.WriteString("USAGE: BITSADMIN [/RAWRETURN] [/WRAP | /NOWRAP] command\n")
	b.WriteString("The following commands are available:\n\n")
	for _, v := range verbs {
		b.WriteString(v.name)
		if v.syntax != "" {
			b.WriteString(" " + v.syntax)
		}
		b.WriteString("\n    " + v.help + "\n")
	}
	b.WriteString(`
<job> is a job's display name or its identifier in braces, {GUID}.
Commands and switches may be written in any case.
/RAWRETURN prints only the value, without the banner or a final newline
(for /CREATE and the /GET commands).
On a terminal, /WRAP breaks lines at its width and /NOWRAP cuts them (the
default of /MONITOR); output to a pipe or a file is never changed.
`)
	return b.String()
}

func bindHelp(_ context.Context, e *env, _ call) error {
	io.WriteString(e.stdout, usageText())
	return nil
}
