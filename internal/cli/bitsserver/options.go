package bitsserver

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"bits/server"
)

// options are the settings from flags and the config file.
type options struct {
	config       string
	listen       string
	root         string
	rate         int64
	tlsCert      string
	tlsKey       string
	users        string
	uploads      uploadList
	maxUpload    byteSize
	maxFragment  byteSize
	maxReply     byteSize
	overwrites   bool
	notify       notifyFlag
	notifyURL    string
	notifyWait   duration
	sessionLife  duration
	cleanupEvery duration
	maxSessions  int
	maxPerClient int
	sessionRate  float64
	sessionBurst int
	hostID       string
	hostIDWait   duration
	store        string
	s3Endpoint   string
	s3Region     string
	hashPassword string
	version      bool
}

// newFlagSet defines every flag on o. The names are also the keys of the
// config file.
func newFlagSet(o *options) *flag.FlagSet {
	fl := flag.NewFlagSet("bitsserver", flag.ContinueOnError)
	// The caller prints errors in its own style, and the help on -h.
	fl.SetOutput(io.Discard)
	fl.Usage = func() {}
	o.maxFragment = 30_000_000
	o.maxReply = 64 << 20
	o.notifyWait = duration(5 * time.Minute)
	o.sessionLife = duration(14 * 24 * time.Hour)
	o.cleanupEvery = duration(12 * time.Hour)
	o.hostIDWait = duration(24 * time.Hour)
	o.maxSessions = 10_000
	o.maxPerClient = 50 // IIS's BITSNumberOfSessionsLimit
	o.sessionRate = 10
	o.sessionBurst = 50

	fl.StringVar(&o.config, "config", "", "read settings from `file` (key = value lines, keys named as the flags); flags given here win")
	fl.StringVar(&o.listen, "listen", "127.0.0.1:8080", "`address` to listen on; port 0 picks a free port (the address is printed)")
	fl.StringVar(&o.root, "root", "", "`folder` whose files are served to GET and HEAD")
	fl.Int64Var(&o.rate, "rate", 0, "cap each response at this many `bytes` per second; 0 is unlimited")
	fl.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate `file` (needs -tls-key)")
	fl.StringVar(&o.tlsKey, "tls-key", "", "the PEM private key `file` of -tls-cert")
	fl.StringVar(&o.users, "users", "", "require HTTP Basic authentication of the users in `file` (user:bcrypt-hash lines)")
	fl.Var(&o.uploads, "upload", "take BITS uploads to URL `prefix=folder`, e.g. /uploads=/srv/uploads (repeatable)")
	fl.Var(&o.maxUpload, "max-upload-size", "largest upload, in `bytes` (suffixes K, M, G, T: powers of 1024); 0 is unlimited")
	fl.Var(&o.maxFragment, "max-fragment-size", "largest fragment `bytes`; larger ones get 413 and clients send smaller ones")
	fl.Var(&o.maxReply, "max-reply-size", "largest reply of the notified application, in `bytes`")
	fl.BoolVar(&o.overwrites, "allow-overwrites", false, "let uploads replace existing files")
	fl.Var(&o.notify, "notify", "tell an application of each upload: none, by-reference or by-value (`type`)")
	fl.StringVar(&o.notifyURL, "notify-url", "", "the application's absolute http or https `URL` for -notify")
	fl.Var(&o.notifyWait, "notify-timeout", "how long the application may take to answer (`duration`: 90s, 5m, 2h, 1d)")
	fl.Var(&o.sessionLife, "session-timeout", "delete upload sessions idle for this `duration`")
	fl.Var(&o.cleanupEvery, "cleanup-interval", "look for idle sessions this often (`duration`)")
	fl.IntVar(&o.maxSessions, "max-sessions", o.maxSessions, "most upload sessions open at once, in all (`count`); 0 is no limit")
	fl.IntVar(&o.maxPerClient, "max-sessions-per-client", o.maxPerClient, "most upload sessions open at once for one client: its user, or its IP address (`count`); 0 is no limit")
	fl.Float64Var(&o.sessionRate, "session-rate", o.sessionRate, "new upload sessions a client may open per second on average (a `rate` such as 10 or 0.5); 0 is no limit")
	fl.IntVar(&o.sessionBurst, "session-burst", o.sessionBurst, "new upload sessions a client may open at once, within -session-rate (`count`)")
	fl.StringVar(&o.hostID, "host-id", "", "send this `host` as BITS-Host-Id, so web-farm clients come back to it")
	fl.Var(&o.hostIDWait, "host-id-fallback-timeout", "how long clients try -host-id before the original host (`duration`); 0 never")
	fl.StringVar(&o.store, "store", "", "keep upload sessions and finished uploads in S3-compatible storage at `s3://bucket/prefix`, shared by a farm of servers; each -upload folder is then a folder in it. Credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	fl.StringVar(&o.s3Endpoint, "s3-endpoint", "", "the S3 server's `URL` for -store, such as http://127.0.0.1:8333; default $AWS_ENDPOINT_URL, else AWS")
	fl.StringVar(&o.s3Region, "s3-region", "", "the S3 `region` for -store; default $AWS_REGION, else us-east-1")
	fl.StringVar(&o.hashPassword, "hash-password", "", "print a users-file line for `user`, with the password read from standard input, and exit")
	fl.BoolVar(&o.version, "version", false, "print the version and exit")
	return fl
}

func printUsage(fl *flag.FlagSet, w io.Writer) {
	fmt.Fprint(w, `Usage: bitsserver [-config FILE] [-listen ADDR] [-root DIR] [-upload PREFIX=DIR]... [flags]
       bitsserver -hash-password USER < password

A download origin (GET and HEAD with ranges) and a BITS upload server.
Settings come from flags and from the -config file; flags win.
See docs/bitsserver.md for the protocol, the limits and the config file.

Flags:
`)
	fl.SetOutput(w)
	fl.PrintDefaults()
	fl.SetOutput(io.Discard)
}

// config is the server configuration the options describe.
func (o *options) serverConfig() server.Config {
	cfg := server.Config{
		Root:                  o.root,
		Rate:                  o.rate,
		SessionTimeout:        time.Duration(o.sessionLife),
		CleanupInterval:       time.Duration(o.cleanupEvery),
		MaxFragmentSize:       int64(o.maxFragment),
		MaxSessions:           o.maxSessions,
		MaxSessionsPerClient:  o.maxPerClient,
		SessionRate:           o.sessionRate,
		SessionBurst:          o.sessionBurst,
		HostID:                o.hostID,
		HostIDFallbackTimeout: time.Duration(o.hostIDWait),
	}
	for _, u := range o.uploads {
		cfg.Uploads = append(cfg.Uploads, server.VirtualDir{
			Prefix:          u.prefix,
			Folder:          u.folder,
			AllowOverwrites: o.overwrites,
			MaxUploadSize:   int64(o.maxUpload),
			Notify:          server.NotifyType(o.notify),
			NotifyURL:       o.notifyURL,
			NotifyTimeout:   time.Duration(o.notifyWait),
			MaxReplySize:    int64(o.maxReply),
		})
	}
	return cfg
}

// check finds what is wrong with the options as a whole; the server checks
// the rest when it starts.
func (o *options) check() error {
	switch {
	case o.root == "" && len(o.uploads) == 0:
		return errors.New("nothing to serve: give -root, -upload or both")
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return errors.New("-tls-cert and -tls-key go together")
	case o.notify != notifyFlag(server.NotifyNone) && o.notifyURL == "":
		return errors.New("-notify needs -notify-url")
	case o.notify != notifyFlag(server.NotifyNone) && len(o.uploads) == 0:
		return errors.New("-notify needs an -upload folder")
	case o.maxFragment <= 0:
		return errors.New("-max-fragment-size must be positive")
	case o.maxReply <= 0:
		return errors.New("-max-reply-size must be positive")
	case o.sessionLife < duration(time.Second), o.cleanupEvery < duration(time.Second), o.notifyWait < duration(time.Second):
		return errors.New("-session-timeout, -cleanup-interval and -notify-timeout must be at least 1s")
	case o.maxSessions < 0:
		return errors.New("-max-sessions must be 0 (no limit) or more")
	case o.maxPerClient < 0:
		return errors.New("-max-sessions-per-client must be 0 (no limit) or more")
	case !(o.sessionRate >= 0) || math.IsInf(o.sessionRate, 1): // NaN too
		return errors.New("-session-rate must be 0 (no limit) or a number of sessions per second such as 10 or 0.5")
	case o.sessionRate > 0 && o.sessionBurst < 1:
		return errors.New("-session-burst must be at least 1 with a -session-rate")
	case o.store != "" && len(o.uploads) == 0:
		return errors.New("-store needs an -upload prefix")
	case o.store != "" && o.notify == notifyFlag(server.NotifyByReference):
		return errors.New("-notify by-reference is not available with -store (the data is not in a file); by-value is")
	case o.store == "" && (o.s3Endpoint != "" || o.s3Region != ""):
		return errors.New("-s3-endpoint and -s3-region go with -store")
	}
	if o.store != "" {
		if _, _, err := server.ParseStoreURL(o.store); err != nil {
			return err
		}
	}
	return nil
}

// An upload is one -upload prefix=folder.
type upload struct{ prefix, folder string }

type uploadList []upload

func (l *uploadList) String() string {
	var parts []string
	for _, u := range *l {
		parts = append(parts, u.prefix+"="+u.folder)
	}
	return strings.Join(parts, ", ")
}

func (l *uploadList) Set(v string) error {
	prefix, folder, ok := strings.Cut(v, "=")
	prefix, folder = strings.TrimSpace(prefix), strings.TrimSpace(folder)
	if !ok || !strings.HasPrefix(prefix, "/") || folder == "" {
		return fmt.Errorf("want /prefix=folder, got %q", v)
	}
	*l = append(*l, upload{prefix, folder})
	return nil
}

// byteSize is a count of bytes, with an optional K, M, G or T (powers of
// 1024, "KiB" and "KB" alike).
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(v string) error {
	s := strings.ToUpper(strings.TrimSpace(v))
	i := strings.IndexFunc(s, func(c rune) bool { return c < '0' || c > '9' })
	if i < 0 {
		i = len(s)
	}
	shift, ok := sizeSuffixes[s[i:]]
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if !ok || err != nil || n > (1<<62)>>shift {
		return fmt.Errorf("want a number of bytes such as 1048576 or 10G, got %q", v)
	}
	*b = byteSize(n << shift)
	return nil
}

var sizeSuffixes = map[string]int{
	"": 0, "B": 0,
	"K": 10, "KB": 10, "KIB": 10,
	"M": 20, "MB": 20, "MIB": 20,
	"G": 30, "GB": 30, "GIB": 30,
	"T": 40, "TB": 40, "TIB": 40,
}

// duration is a time.Duration that also takes whole days ("14d").
type duration time.Duration

func (d *duration) String() string { return time.Duration(*d).String() }

func (d *duration) Set(v string) error {
	v = strings.TrimSpace(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > 100*365 {
			return fmt.Errorf("want a duration such as 90s, 5m, 12h or 14d, got %q", v)
		}
		*d = duration(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	t, err := time.ParseDuration(v)
	if err != nil || t < 0 {
		return fmt.Errorf("want a duration such as 90s, 5m, 12h or 14d, got %q", v)
	}
	*d = duration(t)
	return nil
}

type notifyFlag server.NotifyType

func (n *notifyFlag) String() string { return server.NotifyType(*n).String() }

func (n *notifyFlag) Set(v string) error {
	t, err := server.ParseNotifyType(v)
	*n = notifyFlag(t)
	return err
}
