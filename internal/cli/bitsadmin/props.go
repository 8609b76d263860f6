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
	fieldErrorCount        = plain(func(j *engine.Job) string { return strconv.Itoa(j.ErrorCount) })
	fieldMinRetryDelay     = plain(func(j *engine.Job) string { return strconv.FormatInt(seconds(j.MinRetryDelay), 10) })
	fieldNoProgressTimeout = plain(func(j *engine.Job) string { return strconv.FormatInt(seconds(j.NoProgressTimeout), 10) })
	fieldMaxDownloadTime   = plain(func(j *engine.Job) string { return strconv.FormatInt(seconds(j.MaxDownloadTime), 10) })
	fieldType              = plain(func(j *engine.Job) string { return typeWord(j.Type) })
	fieldOwner             = plain(func(j *engine.Job) string { return j.Owner })
	fieldDisplayName       = plain(func(j *engine.Job) string { return j.DisplayName })
	fieldDescription       = plain(func(j *engine.Job) string { return j.Description })
	fieldPriority          = plain(func(j *engine.Job) string { return j.Priority.String() })
	fieldNotifyFlags       = plain(func(j *engine.Job) string { return strconv.FormatUint(uint64(j.NotifyFlags), 10) })
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
	fieldHTTPMethod        = plain((*engine.Job).Method)
	fieldSecurityFlags     = plain(func(j *engine.Job) string { return strconv.FormatUint(uint64(j.SecurityFlags), 10) })
	fieldClientCertificate = plain(func(j *engine.Job) string { return clientCertLine(j.ClientCert) })
	fieldACLFlags          = plain(func(j *engine.Job) string { return aclLetters(j.ACLFlags) })
	fieldPeerCachingFlags  = plain(func(j *engine.Job) string { return strconv.FormatUint(uint64(j.PeerCachingFlags), 10) })
	fieldHelperToken       = plain(func(j *engine.Job) string { return orNone(j.HelperToken) })
	fieldHelperTokenFlags  = plain(func(j *engine.Job) string { return helperFlags(j.HelperTokenFlags) })
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

// A setting is a job property that a /SET* verb changes, in whole seconds.
type setting struct {
	action string // for "Unable to <action>"
	done   string // confirmation, with %d for the value the job now has
	props  func(d time.Duration) engine.Props
	value  func(j *engine.Job) time.Duration
}

var (
	settingMinRetryDelay = setting{
		action: "set the minimum retry delay",
		done:   "Set the minimum retry delay to %d seconds.",
		props:  func(d time.Duration) engine.Props { return engine.Props{MinRetryDelay: &d} },
		value:  func(j *engine.Job) time.Duration { return j.MinRetryDelay },
	}
	settingNoProgressTimeout = setting{
		action: "set the no progress timeout",
		done:   "Set the no-progress timeout to %d seconds.",
		props:  func(d time.Duration) engine.Props { return engine.Props{NoProgressTimeout: &d} },
		value:  func(j *engine.Job) time.Duration { return j.NoProgressTimeout },
	}
	settingMaxDownloadTime = setting{
		action: "set the maximum download time",
		done:   "Set the maximum download time to %d seconds.",
		props:  func(d time.Duration) engine.Props { return engine.Props{MaxDownloadTime: &d} },
		value:  func(j *engine.Job) time.Duration { return j.MaxDownloadTime },
	}
)

type setOptions struct {
	Job     string
	Value   string // seconds, as typed: a decimal ULONG
	Setting setting
}

func runSetSeconds(ctx context.Context, e *env, o setOptions) error {
	n, perr := parseULONG(o.Value)
	if perr != nil {
		return &actionError{action: o.Setting.action, err: invalidArg("%q is not a number of seconds", o.Value)}
	}
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	if err := e.m.Set(ctx, j.ID, o.Setting.props(time.Duration(n)*time.Second)); err != nil {
		return &actionError{action: o.Setting.action, err: err}
	}
	// The engine raises values below a floor silently, as BITS does; read
	// the job back so the confirmation says what it now holds.
	now := time.Duration(n) * time.Second
	if j, err := e.m.Get(ctx, j.ID); err == nil {
		now = o.Setting.value(j)
	}
	fmt.Fprintf(e.stdout, o.Setting.done+"\n", seconds(now))
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

var (
	parseDisplayName = func(v string) (engine.Props, string, error) {
		return engine.Props{DisplayName: &v}, "Set the display name to '" + v + "'.", nil
	}
	parseDescription = func(v string) (engine.Props, string, error) {
		return engine.Props{Description: &v}, "Set the description to '" + v + "'.", nil
	}
	parsePriority = func(v string) (engine.Props, string, error) {
		p, ok := engine.ParsePriority(v)
		if !ok {
			return engine.Props{}, "", invalidArg("priority %q", v)
		}
		return engine.Props{Priority: &p}, "Set the priority to " + p.String() + ".", nil
	}
	parseNotifyFlags = func(v string) (engine.Props, string, error) {
		n, err := parseULONG(v)
		if err != nil {
			return engine.Props{}, "", invalidArg("notify flags %q", v)
		}
		return engine.Props{NotifyFlags: &n}, fmt.Sprintf("Set the notify flags to %d.", n), nil
	}
	parseHTTPMethod = func(v string) (engine.Props, string, error) {
		return engine.Props{HTTPMethod: &v}, "Set the HTTP method to " + v + ".", nil
	}
	parseSecurityFlags = func(v string) (engine.Props, string, error) {
		n, err := parseULONG(v)
		if err != nil {
			return engine.Props{}, "", invalidArg("security flags %q", v)
		}
		return engine.Props{SecurityFlags: &n}, fmt.Sprintf("Set the security flags to %d.", n), nil
	}
	parseACLFlags = func(v string) (engine.Props, string, error) {
		f, ok := parseACLLetters(v)
		if !ok {
			return engine.Props{}, "", invalidArg("ACL flags %q", v)
		}
		return engine.Props{ACLFlags: &f}, "Set the ACL flags to " + aclLetters(f) + ".", nil
	}
	parsePeerCachingFlags = func(v string) (engine.Props, string, error) {
		n, err := parseULONG(v)
		if err != nil {
			return engine.Props{}, "", invalidArg("peer caching flags %q", v)
		}
		return engine.Props{PeerCachingFlags: &n}, fmt.Sprintf("Set the peer caching flags to %d.", n), nil
	}
	parseHelperTokenFlags = func(v string) (engine.Props, string, error) {
		n, err := parseULONG(v)
		if err != nil {
			return engine.Props{}, "", invalidArg("helper token flags %q", v)
		}
		return engine.Props{HelperTokenFlags: &n}, "Set the helper token flags to " + helperFlags(n) + ".", nil
	}
	parseReplyFileName = func(v string) (engine.Props, string, error) {
		return engine.Props{ReplyFileName: &v}, "Set the reply file name to " + v + ".", nil
	}
)

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
