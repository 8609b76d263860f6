package bitsadmin

import (
	"context"
	"io"
	"strings"
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
		{name: "/LISTFILES", syntax: "<job>", help: "Lists the files of the job.", grammar: oneJob, run: bindListFiles},
		{name: "/SUSPEND", syntax: "<job>", help: "Suspends the job.", grammar: oneJob, run: bindSuspend},
		{name: "/RESUME", syntax: "<job>", help: "Resumes the job.", grammar: oneJob, run: bindResume},
		{name: "/CANCEL", syntax: "<job>", help: "Cancels the job and deletes its temporary files.", grammar: oneJob, run: bindCancel},
		{name: "/COMPLETE", syntax: "<job>", help: "Completes the job: its files appear under their names.", grammar: oneJob, run: bindComplete},
		getter("/GETSTATE", "Prints the state of the job.", fieldState),
		getter("/GETBYTESTOTAL", "Prints the size of the job in bytes.", fieldBytesTotal),
		getter("/GETBYTESTRANSFERRED", "Prints the bytes transferred.", fieldBytesTransferred),
		getter("/GETFILESTOTAL", "Prints the number of files in the job.", fieldFilesTotal),
		getter("/GETFILESTRANSFERRED", "Prints the number of files transferred.", fieldFilesTransferred),
		{name: "/GETERROR", syntax: "<job>", help: "Prints the error of a job in ERROR or TRANSIENT_ERROR.", grammar: oneJob, run: bindGetError},
		getter("/GETERRORCOUNT", "Prints how many times the job has failed.", fieldErrorCount),
		getter("/GETMINRETRYDELAY", "Prints the seconds to wait before retrying after a transient error.", fieldMinRetryDelay),
		setter("/SETMINRETRYDELAY", "Sets the seconds to wait before retrying after a transient error.", settingMinRetryDelay),
		getter("/GETNOPROGRESSTIMEOUT", "Prints the seconds a job may fail without progress before it stops in ERROR.", fieldNoProgressTimeout),
		setter("/SETNOPROGRESSTIMEOUT", "Sets the seconds a job may fail without progress before it stops in ERROR.", settingNoProgressTimeout),
	}
}

func getter(name, help string, f field) verb {
	return verb{name: name, syntax: "<job>", help: help, grammar: oneJob,
		run: func(ctx context.Context, e *env, c call) error {
			return runGet(ctx, e, getOptions{Job: c.args[0], Raw: c.raw, Field: f})
		}}
}

func setter(name, help string, s setting) verb {
	return verb{name: name, syntax: "<job> <seconds>", help: help, grammar: jobAnd1,
		run: func(ctx context.Context, e *env, c call) error {
			return runSetSeconds(ctx, e, setOptions{Job: c.args[0], Value: c.args[1], Setting: s})
		}}
}

func lookupVerb(name string) (*verb, bool) {
	for i := range verbs {
		if strings.EqualFold(name, verbs[i].name) {
			return &verbs[i], true
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
/WRAP and /NOWRAP are accepted; lines are never broken (the terminal wraps).
`)
	return b.String()
}

func bindHelp(_ context.Context, e *env, _ call) error {
	io.WriteString(e.stdout, usageText())
	return nil
}
