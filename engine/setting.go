package engine

import (
	"encoding/hex"
	"strings"
	"time"

	"bits/hresult"
	"bits/storage"
)

// Props are job settings to change; nil fields stay as they are.
type Props struct {
	DisplayName       *string
	Description       *string
	Priority          *Priority
	MinRetryDelay     *time.Duration
	NoProgressTimeout *time.Duration
	MaxDownloadTime   *time.Duration
	NotifyFlags       *uint32
	// NotifyCmdLine sets the notification program; an empty Program
	// clears it (bitsadmin's NULL NULL).
	NotifyCmdLine *NotifyCmdLine
	Proxy         *ProxySettings
	// CustomHeaders replaces the headers; an empty string clears them.
	CustomHeaders *string
	// MakeHeadersWriteOnly hides the headers from every later read; it
	// cannot be undone.
	MakeHeadersWriteOnly bool
	HTTPMethod           *string
	SecurityFlags        *uint32
	ClientCert           *ClientCert
	RemoveClientCert     bool
	ACLFlags             *uint32
	PeerCachingFlags     *uint32
	HelperToken          *string
	HelperTokenFlags     *uint32
	ReplyFileName        *string
	Dynamic              *bool
	TransferPolicy       *uint32
	// MaxBandwidth is the job's own limit in Kbps; 0 removes it.
	MaxBandwidth *int64
}

// apply sets in j what p sets, by BITS' rules, setting by setting in the
// order of the table of Settings; it stops at the first refusal.
func (p Props) apply(j *Job) error {
	for i := range settings {
		if err := settings[i].apply(&p, j); err != nil {
			return err
		}
	}
	return nil
}

// Security flags (BG_SSL_*, BG_HTTP_REDIRECT_POLICY_*).
const (
	SecurityFlagsMask  uint32 = 0x1F | 0x700 | 0x800
	RedirectPolicyMask uint32 = 0x700
)

// A Setting is one job setting, declared once in the table below: its
// names on every face, how its value reads and prints there (its Kind),
// where it lives in Props, in a Job and in the job's storage row, and BITS'
// rule for it. Props.apply walks the table in its order, and so do toRow
// and fromRow and the front ends: bitsjob's flags and the JSON an import
// reads, bitsadmin's /SET and /GET verbs.
type Setting struct {
	// Name is the JSON field and PowerShell property.
	Name string
	Kind Kind

	// Flag is bitsjob's flag, "" for none; Usage its help.
	Flag, Usage string

	// Verb names bitsadmin's verbs, /SET<Verb> and /GET<Verb>; "" for none.
	// SetHelp and GetHelp are their lines in the usage, "" for no such verb;
	// SetSyntax what /SET takes after the job.
	Verb                        string
	SetSyntax, SetHelp, GetHelp string
	// Action completes "Unable to" when /SET fails; What names the setting
	// in the refusal of a value; Done is the confirmation, a format of the
	// value as /GET prints it. Format is how /GET prints a KindNumber (%d
	// when empty).
	Action, What, Done, Format string

	value func(j *Job) any
	set   func(p *Props, v any)
	apply func(p *Props, j *Job) error // sets what p sets, by BITS' rule
	load  func(r *storage.Job, j *Job) // reads the setting from its columns
	store func(j *Job, r *storage.Job) // writes it to them
}

// A Kind is the type of a setting's value, which says how each face reads
// and prints it.
type Kind int

const (
	KindCompound Kind = iota // several values: each face has its own code
	KindText                 // a string
	KindPath                 // a string, a local file name
	KindSeconds              // a time.Duration, in whole seconds
	KindNumber               // a uint32
	KindPriority             // a Priority
	KindACL                  // a uint32 of ACL flags, shown as letters
	KindCost                 // a uint32 of network cost states
	KindBool                 // a bool
	KindKbps                 // an int64
)

// Value is the setting's value in j, of the Go type its Kind names.
func (s *Setting) Value(j *Job) any { return s.value(j) }

// Set makes p set the setting to v, of the Go type its Kind names.
func (s *Setting) Set(p *Props, v any) { s.set(p, v) }

// Settings are the job settings, in the order Set applies them.
func Settings() []Setting { return settings }

// A conv converts a setting's value to its column's and back.
type conv[T, R any] struct {
	to   func(T) R
	from func(R) T
}

func same[T any]() conv[T, T] {
	return conv[T, T]{func(v T) T { return v }, func(v T) T { return v }}
}

var (
	flagsColumn    = conv[uint32, int64]{func(v uint32) int64 { return int64(v) }, func(r int64) uint32 { return uint32(r) }}
	priorityColumn = conv[Priority, int]{func(p Priority) int { return int(p) }, func(r int) Priority { return Priority(r) }}
	secondsColumn  = conv[time.Duration, int64]{
		func(d time.Duration) int64 { return int64(d / time.Second) },
		func(r int64) time.Duration { return time.Duration(r) * time.Second }}
)

// stored gives s the column of the storage row that holds its field of Job.
func stored[T, R any](s Setting, job func(*Job) *T, row func(*storage.Job) *R, c conv[T, R]) Setting {
	s.load = func(r *storage.Job, j *Job) { *job(j) = c.from(*row(r)) }
	s.store = func(j *Job, r *storage.Job) { *row(r) = c.to(*job(j)) }
	return s
}

// field builds the accessors of a setting of one value: its field in Props,
// in Job and in the storage row, and its rule, which returns the value to
// store (check may be nil: any value is stored as it is).
func field[T, R any](s Setting, prop func(*Props) **T, job func(*Job) *T, row func(*storage.Job) *R, c conv[T, R], check func(j *Job, v T) (T, error)) Setting {
	s = stored(s, job, row, c)
	s.value = func(j *Job) any { return *job(j) }
	s.set = func(p *Props, v any) {
		x := v.(T)
		*prop(p) = &x
	}
	s.apply = func(p *Props, j *Job) error {
		v := *prop(p)
		if v == nil {
			return nil
		}
		x := *v
		if check != nil {
			var err error
			if x, err = check(j, x); err != nil {
				return err
			}
		}
		*job(j) = x
		return nil
	}
	return s
}

// maxRunes refuses a string longer than n characters.
func maxRunes(what string, n int) func(*Job, string) (string, error) {
	return func(_ *Job, v string) (string, error) {
		if runes(v) > n {
			return "", tooLong(what, n)
		}
		return v, nil
	}
}

// mask refuses flags outside mask.
func mask(what string, mask uint32) func(*Job, uint32) (uint32, error) {
	return func(_ *Job, f uint32) (uint32, error) {
		if f&^mask != 0 {
			return 0, invalidArg("%s 0x%x", what, f)
		}
		return f, nil
	}
}

// wholeSeconds refuses a negative duration and drops its fraction of a
// second.
func wholeSeconds(what string) func(*Job, time.Duration) (time.Duration, error) {
	return func(_ *Job, d time.Duration) (time.Duration, error) {
		if d < 0 {
			return 0, invalidArg("negative %s", what)
		}
		return d.Truncate(time.Second), nil
	}
}

// numberSetting is a setting of BITS flags: a number bitsjob and bitsadmin
// read in decimal (bitsjob in hexadecimal too).
func numberSetting(s Setting, prop func(*Props) **uint32, job func(*Job) *uint32, row func(*storage.Job) *int64, check func(*Job, uint32) (uint32, error)) Setting {
	s.Kind = KindNumber
	if s.SetSyntax == "" {
		s.SetSyntax = "<job> <flags>"
	}
	if s.Action == "" {
		s.Action = "set " + s.What
	}
	format := s.Format
	if format == "" {
		format = "%d"
	}
	s.Done = "Set the " + s.What + " to " + format + "."
	return field(s, prop, job, row, flagsColumn, check)
}

var settings = []Setting{
	field(Setting{Name: "DisplayName", Kind: KindText,
		Verb: "DISPLAYNAME", SetSyntax: "<job> <display_name>", SetHelp: "Sets the display name of the job.", GetHelp: "Prints the display name of the job.",
		Action: "set display name", Done: "Set the display name to '%s'."},
		func(p *Props) **string { return &p.DisplayName }, func(j *Job) *string { return &j.DisplayName },
		func(r *storage.Job) *string { return &r.DisplayName }, same[string](), maxRunes("display name", MaxDisplayName)),
	field(Setting{Name: "Description", Kind: KindText, Flag: "description", Usage: "description (up to 1,024 characters)",
		Verb: "DESCRIPTION", SetSyntax: "<job> <description>", SetHelp: "Sets the description of the job.", GetHelp: "Prints the description of the job.",
		Action: "set description", Done: "Set the description to '%s'."},
		func(p *Props) **string { return &p.Description }, func(j *Job) *string { return &j.Description },
		func(r *storage.Job) *string { return &r.Description }, same[string](), maxRunes("description", MaxDescription)),
	field(Setting{Name: "Priority", Kind: KindPriority, Flag: "priority", Usage: "Foreground, High, Normal or Low",
		Verb: "PRIORITY", SetSyntax: "<job> FOREGROUND|HIGH|NORMAL|LOW", SetHelp: "Sets the priority of the job.", GetHelp: "Prints the priority of the job.",
		Action: "set priority", What: "priority", Done: "Set the priority to %s."},
		func(p *Props) **Priority { return &p.Priority }, func(j *Job) *Priority { return &j.Priority },
		func(r *storage.Job) *int { return &r.Priority }, priorityColumn,
		func(j *Job, v Priority) (Priority, error) {
			if v < Foreground || v > Low {
				return 0, invalidArg("priority %d", v)
			}
			if j.HTTPMethod != "" && v != Foreground {
				return 0, &hresult.Error{Code: hresult.BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD,
					Msg: "a job with a custom HTTP method stays FOREGROUND"}
			}
			return v, nil
		}),
	field(Setting{Name: "RetryInterval", Kind: KindSeconds, Flag: "retry-interval",
		Usage: "minimum wait before a transient error is retried: seconds or a duration (default 600)",
		Verb:  "MINRETRYDELAY", SetSyntax: "<job> <seconds>", SetHelp: "Sets the seconds to wait before retrying after a transient error.",
		GetHelp: "Prints the seconds to wait before retrying after a transient error.",
		Action:  "set the minimum retry delay", Done: "Set the minimum retry delay to %d seconds."},
		func(p *Props) **time.Duration { return &p.MinRetryDelay }, func(j *Job) *time.Duration { return &j.MinRetryDelay },
		func(r *storage.Job) *int64 { return &r.MinRetryDelayS }, secondsColumn,
		func(_ *Job, d time.Duration) (time.Duration, error) {
			if d < 0 {
				return 0, invalidArg("negative retry delay")
			}
			return max(d.Truncate(time.Second), MinRetryDelayFloor), nil // BITS raises small values silently
		}),
	field(Setting{Name: "RetryTimeout", Kind: KindSeconds, Flag: "retry-timeout",
		Usage: "how long a job may make no progress before a transient error becomes an error; 0: at once (default 1209600)",
		Verb:  "NOPROGRESSTIMEOUT", SetSyntax: "<job> <seconds>", SetHelp: "Sets the seconds a job may fail without progress before it stops in ERROR.",
		GetHelp: "Prints the seconds a job may fail without progress before it stops in ERROR.",
		Action:  "set the no progress timeout", Done: "Set the no-progress timeout to %d seconds."},
		func(p *Props) **time.Duration { return &p.NoProgressTimeout }, func(j *Job) *time.Duration { return &j.NoProgressTimeout },
		func(r *storage.Job) *int64 { return &r.NoProgressS }, secondsColumn,
		wholeSeconds("no-progress timeout")),
	field(Setting{Name: "MaxDownloadTime", Kind: KindSeconds, Flag: "max-download-time",
		Usage: "most time the job may spend transferring (default 7776000)",
		Verb:  "MAXDOWNLOADTIME", SetSyntax: "<job> <seconds>", SetHelp: "Sets the seconds the job may spend transferring.",
		GetHelp: "Prints the seconds the job may spend transferring.",
		Action:  "set the maximum download time", Done: "Set the maximum download time to %d seconds."},
		func(p *Props) **time.Duration { return &p.MaxDownloadTime }, func(j *Job) *time.Duration { return &j.MaxDownloadTime },
		func(r *storage.Job) *int64 { return &r.MaxDownloadS }, secondsColumn,
		wholeSeconds("maximum download time")),
	numberSetting(Setting{Name: "NotifyFlags", Flag: "notify-flags",
		Usage: "1 transferred, 2 error, 4 disable: when the notification program runs (default 3)",
		Verb:  "NOTIFYFLAGS", SetSyntax: "<job> <notify_flags>", SetHelp: "Sets the notify flags (decimal: 1 transferred, 2 error, 4 disable).",
		GetHelp: "Prints the notify flags.", What: "notify flags"},
		func(p *Props) **uint32 { return &p.NotifyFlags }, func(j *Job) *uint32 { return &j.NotifyFlags },
		func(r *storage.Job) *int64 { return &r.NotifyFlags }, mask("notify flags", 0x3F)),
	{Name: "NotifyCmdLine", load: func(r *storage.Job, j *Job) {
		j.NotifyProgram, j.NotifyParameters = r.NotifyProgram, r.NotifyParameters
	}, store: func(j *Job, r *storage.Job) {
		r.NotifyProgram, r.NotifyParameters = j.NotifyProgram, j.NotifyParameters
	}, apply: func(p *Props, j *Job) error {
		c := p.NotifyCmdLine
		if c == nil {
			return nil
		}
		if c.Program == "" && c.Parameters != "" {
			return invalidArg("notification parameters without a program")
		}
		if runes(c.Program) > MaxNotifyProgram {
			return tooLong("notification program", MaxNotifyProgram)
		}
		if runes(c.Parameters) > MaxNotifyParameters {
			return tooLong("notification parameters", MaxNotifyParameters)
		}
		j.NotifyProgram, j.NotifyParameters = c.Program, c.Parameters
		return nil
	}},
	{Name: "Proxy", load: func(r *storage.Job, j *Job) {
		j.ProxyUsage, j.ProxyList, j.ProxyBypassList = ProxyUsage(r.ProxyUsage), r.ProxyList, r.ProxyBypass
	}, store: func(j *Job, r *storage.Job) {
		r.ProxyUsage, r.ProxyList, r.ProxyBypass = int(j.ProxyUsage), j.ProxyList, j.ProxyBypassList
	}, apply: func(p *Props, j *Job) error {
		px := p.Proxy
		if px == nil {
			return nil
		}
		if err := px.check(); err != nil {
			return err
		}
		j.ProxyUsage, j.ProxyList, j.ProxyBypassList = px.Usage, px.List, px.Bypass
		return nil
	}},
	{Name: "CustomHeaders", load: func(r *storage.Job, j *Job) {
		j.CustomHeaders = r.CustomHeaders
	}, store: func(j *Job, r *storage.Job) {
		r.CustomHeaders = j.CustomHeaders
	}, apply: func(p *Props, j *Job) error {
		if p.CustomHeaders == nil {
			return nil
		}
		if runes(*p.CustomHeaders) > MaxCustomHeaders {
			return tooLong("custom headers", MaxCustomHeaders)
		}
		if *p.CustomHeaders != "" {
			for h := range strings.SplitSeq(*p.CustomHeaders, "\r\n") {
				if err := CheckHeader(h); err != nil {
					return err
				}
			}
		}
		j.CustomHeaders = *p.CustomHeaders
		return nil
	}},
	{Name: "CustomHeadersWriteOnly", load: func(r *storage.Job, j *Job) {
		j.HeadersWriteOnly = r.HeadersWriteOnly
	}, store: func(j *Job, r *storage.Job) {
		r.HeadersWriteOnly = j.HeadersWriteOnly
	}, apply: func(p *Props, j *Job) error {
		if p.MakeHeadersWriteOnly {
			j.HeadersWriteOnly = true
		}
		return nil
	}},
	stored(Setting{Name: "HttpMethod", Kind: KindText, Flag: "http-method", Usage: "HTTP method instead of GET; set before the first resume; makes the job Foreground",
		Verb: "HTTPMETHOD", SetSyntax: "<job> <method>", SetHelp: "Sets the HTTP method (before the first /RESUME; the job becomes FOREGROUND).",
		GetHelp: "Prints the HTTP method.", Action: "set the HTTP method", Done: "Set the HTTP method to %s.",
		value: func(j *Job) any { return j.Method() },
		set:   func(p *Props, v any) { s := v.(string); p.HTTPMethod = &s },
		apply: func(p *Props, j *Job) error {
			if p.HTTPMethod == nil {
				return nil
			}
			return setMethod(j, *p.HTTPMethod)
		}},
		func(j *Job) *string { return &j.HTTPMethod }, func(r *storage.Job) *string { return &r.HTTPMethod }, same[string]()),
	numberSetting(Setting{Name: "SecurityFlags", Flag: "security-flags", Usage: "BITS security flags: certificate checks and redirect policy (a number)",
		Verb: "SECURITYFLAGS", SetHelp: "Sets the HTTPS and redirect security flags (decimal).", GetHelp: "Prints the security flags.", What: "security flags"},
		func(p *Props) **uint32 { return &p.SecurityFlags }, func(j *Job) *uint32 { return &j.SecurityFlags },
		func(r *storage.Job) *int64 { return &r.SecurityFlags },
		func(_ *Job, f uint32) (uint32, error) {
			if f&^SecurityFlagsMask != 0 || f&RedirectPolicyMask > 0x200 {
				return 0, invalidArg("security flags 0x%x", f)
			}
			return f, nil
		}),
	{Name: "ClientCert", load: func(r *storage.Job, j *Job) {
		if r.CertStoreLocation >= 0 {
			h, _ := hex.DecodeString(r.CertHash)
			j.ClientCert = &ClientCert{StoreLocation: int(r.CertStoreLocation), StoreName: r.CertStoreName, Hash: h, Subject: r.CertSubject}
		}
	}, store: func(j *Job, r *storage.Job) {
		r.CertStoreLocation = -1 // none
		if c := j.ClientCert; c != nil {
			r.CertStoreLocation, r.CertStoreName, r.CertHash, r.CertSubject = int64(c.StoreLocation), c.StoreName, hex.EncodeToString(c.Hash), c.Subject
		}
	}, apply: func(p *Props, j *Job) error {
		if p.RemoveClientCert {
			j.ClientCert = nil
		}
		c := p.ClientCert
		if c == nil {
			return nil
		}
		if err := c.check(); err != nil {
			return err
		}
		cc := *c
		cc.StoreName = strings.ToUpper(cc.StoreName)
		j.ClientCert = &cc
		return nil
	}},
	field(Setting{Name: "ACLFlags", Kind: KindACL, Flag: "acl-flags", Usage: "what to copy from the source's security: letters o, g, d, s (or a number)",
		Verb: "ACLFLAGS", SetSyntax: "<job> <flags>", SetHelp: "Sets which of the owner (O), group (G), DACL (D) and SACL (S) of SMB sources are kept.",
		GetHelp: "Prints the ACL flags (letters O, G, D, S).", Action: "set ACL flags", What: "ACL flags", Done: "Set the ACL flags to %s."},
		func(p *Props) **uint32 { return &p.ACLFlags }, func(j *Job) *uint32 { return &j.ACLFlags },
		func(r *storage.Job) *int64 { return &r.ACLFlags }, flagsColumn, mask("ACL flags", 0xF)),
	numberSetting(Setting{Name: "PeerCachingFlags", Flag: "peer-caching-flags", Usage: "peer caching flags (stored; peer caching is off)",
		Verb: "PEERCACHINGFLAGS", SetHelp: "Sets the peer caching flags (stored; peer caching is off).", GetHelp: "Prints the peer caching flags.",
		What: "peer caching flags"},
		func(p *Props) **uint32 { return &p.PeerCachingFlags }, func(j *Job) *uint32 { return &j.PeerCachingFlags },
		func(r *storage.Job) *int64 { return &r.PeerCachingFlags }, mask("peer caching flags", 0x7)),
	field(Setting{Name: "HelperTokenAccount", Kind: KindText, Flag: "helper-token", Usage: "account whose token helps the transfer; empty: none"},
		func(p *Props) **string { return &p.HelperToken }, func(j *Job) *string { return &j.HelperToken },
		func(r *storage.Job) *string { return &r.HelperToken }, same[string](), nil),
	numberSetting(Setting{Name: "HelperTokenFlags", Flag: "helper-token-flags", Usage: "1 local files, 2 network",
		Verb: "HELPERTOKENFLAGS", SetHelp: "Sets what the helper token is used for: 1 local files, 2 network, 3 both.",
		SetSyntax: "<job> 1|2|3", GetHelp: "Prints the helper token flags (0x0001 style).", What: "helper token flags", Format: "0x%04x"},
		func(p *Props) **uint32 { return &p.HelperTokenFlags }, func(j *Job) *uint32 { return &j.HelperTokenFlags },
		func(r *storage.Job) *int64 { return &r.HelperTokenFlags }, mask("helper token flags", 0x3)),
	field(Setting{Name: "ReplyFileName", Kind: KindPath, Flag: "reply-file", Usage: "where an upload-reply job puts the reply",
		Verb: "REPLYFILENAME", SetSyntax: "<job> <path>", SetHelp: "Sets the reply file of an upload-reply job.",
		Action: "set reply file name", Done: "Set the reply file name to %s."},
		func(p *Props) **string { return &p.ReplyFileName }, func(j *Job) *string { return &j.ReplyFileName },
		func(r *storage.Job) *string { return &r.ReplyFileName }, same[string](),
		func(j *Job, name string) (string, error) {
			if j.Type != UploadReply {
				return "", &hresult.Error{Code: hresult.E_NOTIMPL, Msg: "only upload-reply jobs have a reply file"}
			}
			if j.State == Transferred {
				return "", errStateRefused("the reply has already been transferred")
			}
			if name == "" {
				return "", nil
			}
			name, err := checkLocal(name)
			if err != nil {
				return "", err
			}
			return name, checkWritable(name)
		}),
	stored(Setting{Name: "Dynamic", Kind: KindBool, Flag: "dynamic", Usage: "dynamic content: the server may not give a size or ranges (download jobs, before the first resume)",
		value: func(j *Job) any { return j.Dynamic },
		set:   func(p *Props, v any) { b := v.(bool); p.Dynamic = &b },
		apply: func(p *Props, j *Job) error {
			if p.Dynamic == nil {
				return nil
			}
			return setDynamic(j, *p.Dynamic)
		}},
		func(j *Job) *bool { return &j.Dynamic }, func(r *storage.Job) *bool { return &r.DynamicContent }, same[bool]()),
	field(Setting{Name: "TransferPolicy", Kind: KindCost, Flag: "transfer-policy",
		Usage: "network cost states the job may transfer in: CostStates names (Unrestricted, BelowCap, ..., Always) or a number; None: the policy's default"},
		func(p *Props) **uint32 { return &p.TransferPolicy }, func(j *Job) *uint32 { return &j.TransferPolicy },
		func(r *storage.Job) *int64 { return &r.TransferPolicy }, flagsColumn, nil),
	field(Setting{Name: "MaxBandwidthKbps", Kind: KindKbps, Flag: "max-bandwidth",
		Usage: "the job's own bandwidth limit in Kbps (kilobits per second), at any priority; 0: none"},
		func(p *Props) **int64 { return &p.MaxBandwidth }, func(j *Job) *int64 { return &j.MaxBandwidth },
		func(r *storage.Job) *int64 { return &r.MaxBandwidthKbps }, same[int64](),
		func(_ *Job, n int64) (int64, error) {
			if n < 0 || n > maxBandwidthKbps {
				return 0, invalidArg("bandwidth limit %d Kbps (0 to %d)", n, maxBandwidthKbps)
			}
			return n, nil
		}),
}
