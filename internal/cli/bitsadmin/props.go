package bitsadmin

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"bits/engine"
	"bits/hresult"
)

// The /GET* and /SET* verbs. A getter prints one value: on its own line
// after the banner, or with /RAWRETURN bare, with no newline, for scripts.

// A field is a value a getter prints.
type field struct {
	action string // for "Unable to <action>" when value fails
	// value returns the value as printed; times are shown in tz.
	value func(j *engine.Job, tz *time.Location) (string, error)
}

// plain is a field that every job has.
func plain(f func(j *engine.Job) string) field {
	return field{value: func(j *engine.Job, _ *time.Location) (string, error) { return f(j), nil }}
}

func timeField(t func(j *engine.Job) time.Time) field {
	return field{value: func(j *engine.Job, tz *time.Location) (string, error) { return formatTime(t(j), tz), nil }}
}

// replyField is a field of upload-reply jobs only; other jobs answer
// E_NOTIMPL, as the API does.
func replyField(action string, f func(j *engine.Job) string) field {
	return field{action: action, value: func(j *engine.Job, _ *time.Location) (string, error) {
		if j.Type != engine.UploadReply {
			return "", errNotReplyJob
		}
		return f(j), nil
	}}
}

// replyProgress is "<bytes> / <total>", the total UNKNOWN until known.
func replyProgress(j *engine.Job) string {
	return fmt.Sprintf("%d / %s", j.Reply.BytesTransferred, formatBytes(j.Reply.BytesTotal))
}

var errNotReplyJob = &hresult.Error{Code: hresult.E_NOTIMPL, Msg: "only upload-reply jobs have a reply"}

var (
	fieldState      = plain(func(j *engine.Job) string { return j.State.String() })
	fieldBytesTotal = plain(func(j *engine.Job) string {
		total, _, _, _ := j.Progress()
		return formatBytes(total)
	})
	fieldBytesTransferred = plain(func(j *engine.Job) string {
		_, done, _, _ := j.Progress()
		return strconv.FormatInt(done, 10)
	})
	fieldFilesTotal = plain(func(j *engine.Job) string {
		_, _, files, _ := j.Progress()
		return strconv.Itoa(files)
	})
	fieldFilesTransferred = plain(func(j *engine.Job) string {
		_, _, _, done := j.Progress()
		return strconv.Itoa(done)
	})
	fieldErrorCount = plain(func(j *engine.Job) string { return strconv.Itoa(j.ErrorCount) })
	fieldType       = plain(func(j *engine.Job) string { return typeWord(j.Type) })
	fieldOwner      = plain(func(j *engine.Job) string { return j.Owner })
	// There is no COM, so no callback interface is ever registered.
	fieldNotifyInterface  = plain(func(*engine.Job) string { return "UNREGISTERED" })
	fieldNotifyCmdLine    = plain(notifyCmdLine)
	fieldCreationTime     = timeField(func(j *engine.Job) time.Time { return j.Created })
	fieldModificationTime = timeField(func(j *engine.Job) time.Time { return j.Modified })
	fieldCompletionTime   = timeField(func(j *engine.Job) time.Time { return j.TransferCompleted })
	fieldProxyUsage       = plain(func(j *engine.Job) string { return proxyUsageWord(j.ProxyUsage) })
	fieldProxyList        = plain(func(j *engine.Job) string { return orNULL(j.ProxyList) })
	fieldProxyBypassList  = plain(func(j *engine.Job) string { return orNULL(j.ProxyBypassList) })
	fieldCustomHeaders    = plain(func(j *engine.Job) string {
		if j.HeadersWriteOnly {
			return "The custom headers are write-only: they cannot be read back."
		}
		if h := customHeaders(j); len(h) > 0 {
			return strings.Join(h, "\n")
		}
		return "none"
	})
	fieldClientCertificate = plain(func(j *engine.Job) string { return clientCertLine(j.ClientCert) })
	fieldHelperToken       = plain(func(j *engine.Job) string { return orNone(j.HelperToken) })
	fieldReplyFileName     = replyField("get reply file name", func(j *engine.Job) string {
		return orNone(j.ReplyName())
	})
	fieldReplyProgress = replyField("get reply progress", replyProgress)
)

// typeWord is the job type as /GETTYPE prints it: Download, Upload,
// Upload-Reply.
func typeWord(t engine.JobType) string {
	switch t {
	case engine.Download:
		return "Download"
	case engine.Upload:
		return "Upload"
	case engine.UploadReply:
		return "Upload-Reply"
	}
	return "Unknown"
}

// proxyUsageWord is the proxy usage as /GETPROXYUSAGE prints it.
func proxyUsageWord(u engine.ProxyUsage) string {
	switch u {
	case engine.ProxyPreconfig:
		return "Preconfig"
	case engine.ProxyNone:
		return "No_Proxy"
	case engine.ProxyOverride:
		return "Override"
	case engine.ProxyAutodetect:
		return "Autodetect"
	}
	return "Unknown"
}

type getOptions struct {
	Job   string
	Raw   bool
	Field field
}

func runGet(ctx context.Context, e *env, o getOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	v, err := o.Field.value(j, e.tz)
	if err != nil {
		return &actionError{action: o.Field.action, err: err}
	}
	printValue(e, o.Raw, v)
	return nil
}

func printValue(e *env, raw bool, v string) {
	if raw {
		fmt.Fprint(e.stdout, v)
		return
	}
	fmt.Fprintln(e.stdout, v)
}

type getErrorOptions struct {
	Job string
	Raw bool // print only the error code, 0x8xxxxxxx
}

func bindGetError(ctx context.Context, e *env, c call) error {
	return runGetError(ctx, e, getErrorOptions{Job: c.args[0], Raw: c.raw})
}

func runGetError(ctx context.Context, e *env, o getErrorOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	lines := errorLines(j)
	if len(lines) == 0 {
		return &actionError{action: "get error", err: &hresult.Error{Code: hresult.BG_E_ERROR_INFORMATION_UNAVAILABLE}}
	}
	if o.Raw {
		printValue(e, true, fmt.Sprintf("0x%08x", uint32(j.Err.Code)))
		return nil
	}
	fmt.Fprintln(e.stdout, strings.Join(lines, "\n"))
	return nil
}

// parseULONG reads a decimal number from 0 to 4294967295, the ULONG of the
// Windows API: no sign, no hex, nothing around it.
func parseULONG(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

// propSetOptions are the options of the /SET* verbs that change job
// settings in one engine call: the arguments are already parsed into Props.
type propSetOptions struct {
	Job    string
	Action string // for "Unable to <action>"
	Props  engine.Props
	Done   string // printed on success
}

func runSetProps(ctx context.Context, e *env, o propSetOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	if err := e.m.Set(ctx, j.ID, o.Props); err != nil {
		return &actionError{action: o.Action, err: err}
	}
	fmt.Fprintln(e.stdout, o.Done)
	return nil
}

// A valueParser turns the value argument of a /SET* verb into the settings
// to change and the confirmation line, or refuses it.
type valueParser func(v string) (engine.Props, string, error)

// aclLetters spells ACL flags as bitsadmin takes them: O, G, D, S.
func aclLetters(f uint32) string {
	var b strings.Builder
	for i, l := range "OGDS" {
		if f&(1<<i) != 0 {
			b.WriteRune(l)
		}
	}
	return b.String()
}

// parseACLLetters reads a non-empty combination of O, G, D and S, in any
// case and order.
func parseACLLetters(s string) (uint32, bool) {
	var f uint32
	for _, r := range strings.ToUpper(s) {
		i := strings.IndexRune("OGDS", r)
		if i < 0 {
			return 0, false
		}
		f |= 1 << i
	}
	return f, s != ""
}

// helperFlags prints helper token flags as Windows' documentation shows
// them: 0x0001.
func helperFlags(f uint32) string { return fmt.Sprintf("0x%04x", f) }

// The /SET and /GET verbs of the settings of engine.Settings, which say
// what each verb prints and takes: settingVerb finds a setting by its
// verb's name.
func settingVerb(name string) *engine.Setting {
	for i := range engine.Settings() {
		if s := &engine.Settings()[i]; s.Verb == name {
			return s
		}
	}
	panic("bitsadmin: no setting has the verb " + name)
}

// getSetting is /GET<name>: the setting's value, printed as its Kind says.
func getSetting(name string) verb {
	s := settingVerb(name)
	return getter("/GET"+name, s.GetHelp, plain(func(j *engine.Job) string {
		switch v := s.Value(j); s.Kind {
		case engine.KindPriority:
			return v.(engine.Priority).String()
		case engine.KindSeconds:
			return strconv.FormatInt(seconds(v.(time.Duration)), 10)
		case engine.KindNumber:
			return fmt.Sprintf(numberFormat(s), v)
		case engine.KindACL:
			return aclLetters(v.(uint32))
		default:
			return v.(string)
		}
	}))
}

func numberFormat(s *engine.Setting) string {
	if s.Format == "" {
		return "%d"
	}
	return s.Format
}

// setSetting is /SET<name>: a value read as the setting's Kind says, or a
// number of seconds, which the confirmation reads back from the job.
func setSetting(name string) verb {
	s := settingVerb(name)
	if s.Kind == engine.KindSeconds {
		return verb{name: "/SET" + name, syntax: s.SetSyntax, help: s.SetHelp, grammar: jobAnd1,
			run: func(ctx context.Context, e *env, c call) error { return runSetSeconds(ctx, e, c.args[0], c.args[1], s) }}
	}
	return setter("/SET"+name, s.SetSyntax, s.SetHelp, s.Action, func(v string) (engine.Props, string, error) {
		var p engine.Props
		var shown any = v
		switch s.Kind {
		case engine.KindPriority:
			pr, ok := engine.ParsePriority(v)
			if !ok {
				return p, "", invalidArg("%s %q", s.What, v)
			}
			s.Set(&p, pr)
			shown = pr.String()
		case engine.KindNumber:
			n, err := parseULONG(v)
			if err != nil {
				return p, "", invalidArg("%s %q", s.What, v)
			}
			s.Set(&p, n)
			shown = n
		case engine.KindACL:
			f, ok := parseACLLetters(v)
			if !ok {
				return p, "", invalidArg("%s %q", s.What, v)
			}
			s.Set(&p, f)
			shown = aclLetters(f)
		default:
			s.Set(&p, v)
		}
		return p, fmt.Sprintf(s.Done, shown), nil
	})
}

// runSetSeconds sets a number of seconds; the engine raises values below a
// floor silently, as BITS does, so the confirmation reads the job back and
// says what it now holds.
func runSetSeconds(ctx context.Context, e *env, job, value string, s *engine.Setting) error {
	n, perr := parseULONG(value)
	if perr != nil {
		return &actionError{action: s.Action, err: invalidArg("%q is not a number of seconds", value)}
	}
	j, err := e.find(ctx, job)
	if err != nil {
		return err
	}
	var p engine.Props
	s.Set(&p, time.Duration(n)*time.Second)
	if err := e.m.Set(ctx, j.ID, p); err != nil {
		return &actionError{action: s.Action, err: err}
	}
	now := time.Duration(n) * time.Second
	if j, err := e.m.Get(ctx, j.ID); err == nil {
		now = s.Value(j).(time.Duration)
	}
	fmt.Fprintf(e.stdout, s.Done+"\n", seconds(now))
	return nil
}
