package bitsjob

import (
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"bits/engine"
	"bits/engine/netpolicy"
	"bits/hresult"
)

// settings are the job settings that create, transfer and set take as
// flags: one flag per field of engine.Props. Only the flags given change
// anything. Values are parsed here, completely, before any job is touched;
// the engine applies its own rules (lengths, states, combinations).
type settings struct {
	description       string
	priority          string
	retryInterval     string
	retryTimeout      string
	maxDownloadTime   string
	notifyFlags       string
	notifyCmdLine     []string
	proxyUsage        string
	proxyList         []string
	proxyBypass       []string
	customHeaders     []string
	headersWriteOnly  bool
	httpMethod        string
	securityFlags     string
	certStoreLocation string
	certStoreName     string
	certHash          string
	certSubject       string
	removeCert        bool
	aclFlags          string
	peerCachingFlags  string
	helperToken       string
	helperTokenFlags  string
	replyFile         string
	dynamic           bool
	transferPolicy    string
	maxBandwidth      int64
}

func (s *settings) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.description, "description", "", "description (up to 1,024 characters)")
	fs.StringVar(&s.priority, "priority", "", "Foreground, High, Normal or Low")
	fs.StringVar(&s.retryInterval, "retry-interval", "", "minimum wait before a transient error is retried: seconds or a duration (default 600)")
	fs.StringVar(&s.retryTimeout, "retry-timeout", "", "how long a job may make no progress before a transient error becomes an error; 0: at once (default 1209600)")
	fs.StringVar(&s.maxDownloadTime, "max-download-time", "", "most time the job may spend transferring (default 7776000)")
	fs.StringVar(&s.notifyFlags, "notify-flags", "", "1 transferred, 2 error, 4 disable: when the notification program runs (default 3)")
	fs.StringArrayVar(&s.notifyCmdLine, "notify-cmdline", nil, "notification program, then its arguments, one per flag; one empty value clears it")
	fs.StringVar(&s.proxyUsage, "proxy-usage", "", "SystemDefault, NoProxy, Override or AutoDetect")
	fs.StringArrayVar(&s.proxyList, "proxy-list", nil, "proxy to use with Override; repeat or separate with spaces or commas")
	fs.StringArrayVar(&s.proxyBypass, "proxy-bypass", nil, "host that bypasses the proxies; repeat or separate with spaces or commas")
	fs.StringArrayVar(&s.customHeaders, "custom-header", nil, `HTTP header "Name: value" for every request; repeat for more; one empty value clears them`)
	fs.BoolVar(&s.headersWriteOnly, "custom-headers-write-only", false, "never show the custom headers again (cannot be undone)")
	fs.StringVar(&s.httpMethod, "http-method", "", "HTTP method instead of GET; set before the first resume; makes the job Foreground")
	fs.StringVar(&s.securityFlags, "security-flags", "", "BITS security flags: certificate checks and redirect policy (a number)")
	fs.StringVar(&s.certStoreLocation, "cert-store-location", "", "client certificate store location: CURRENT_USER, LOCAL_MACHINE, ... or 0-7")
	fs.StringVar(&s.certStoreName, "cert-store-name", "", "client certificate store: CA, MY, ROOT or SPC")
	fs.StringVar(&s.certHash, "cert-hash", "", "client certificate SHA-1 hash, in hexadecimal")
	fs.StringVar(&s.certSubject, "cert-subject", "", "client certificate subject name (instead of --cert-hash)")
	fs.BoolVar(&s.removeCert, "remove-client-cert", false, "forget the client certificate")
	fs.StringVar(&s.aclFlags, "acl-flags", "", "what to copy from the source's security: letters o, g, d, s (or a number)")
	fs.StringVar(&s.peerCachingFlags, "peer-caching-flags", "", "peer caching flags (stored; peer caching is off)")
	fs.StringVar(&s.helperToken, "helper-token", "", "account whose token helps the transfer; empty: none")
	fs.StringVar(&s.helperTokenFlags, "helper-token-flags", "", "1 local files, 2 network")
	fs.StringVar(&s.replyFile, "reply-file", "", "where an upload-reply job puts the reply")
	fs.BoolVar(&s.dynamic, "dynamic", false, "dynamic content: the server may not give a size or ranges (download jobs, before the first resume)")
	fs.StringVar(&s.transferPolicy, "transfer-policy", "", "network cost states the job may transfer in: CostStates names (Unrestricted, BelowCap, ..., Always) or a number; None: the policy's default")
	fs.Int64Var(&s.maxBandwidth, "max-bandwidth", 0, "the job's own bandwidth limit in Kbps (kilobits per second), at any priority; 0: none")
}

// props converts the flags that were given into engine.Props.
func (s *settings) props(fs *pflag.FlagSet) (engine.Props, error) {
	var p engine.Props
	set := fs.Changed
	bad := func(flag string, err error) error { return usageErr("--%s: %v", flag, err) }
	if set("description") {
		p.Description = &s.description
	}
	if set("priority") {
		v, err := parsePriority(s.priority)
		if err != nil {
			return p, bad("priority", err)
		}
		p.Priority = &v
	}
	if set("retry-interval") {
		v, err := parseSeconds(s.retryInterval)
		if err != nil {
			return p, bad("retry-interval", err)
		}
		p.MinRetryDelay = &v
	}
	if set("retry-timeout") {
		v, err := parseSeconds(s.retryTimeout)
		if err != nil {
			return p, bad("retry-timeout", err)
		}
		p.NoProgressTimeout = &v
	}
	if set("max-download-time") {
		v, err := parseSeconds(s.maxDownloadTime)
		if err != nil {
			return p, bad("max-download-time", err)
		}
		p.MaxDownloadTime = &v
	}
	for _, f := range []struct {
		flag string
		val  string
		dst  **uint32
	}{
		{"notify-flags", s.notifyFlags, &p.NotifyFlags},
		{"security-flags", s.securityFlags, &p.SecurityFlags},
		{"peer-caching-flags", s.peerCachingFlags, &p.PeerCachingFlags},
		{"helper-token-flags", s.helperTokenFlags, &p.HelperTokenFlags},
	} {
		if set(f.flag) {
			v, err := parseUint32(f.val)
			if err != nil {
				return p, bad(f.flag, err)
			}
			*f.dst = &v
		}
	}
	if set("notify-cmdline") {
		c := engine.NotifyCmdLine{}
		if args := s.notifyCmdLine; len(args) > 1 || args[0] != "" {
			c.Program, c.Parameters = args[0], joinCommandLine(args)
		}
		p.NotifyCmdLine = &c
	}
	if set("proxy-usage") || set("proxy-list") || set("proxy-bypass") {
		px := engine.ProxySettings{Usage: engine.ProxyOverride}
		if set("proxy-usage") {
			u, err := parseProxyUsage(s.proxyUsage)
			if err != nil {
				return p, bad("proxy-usage", err)
			}
			px.Usage = u
		}
		px.List, px.Bypass = spaceList(s.proxyList), spaceList(s.proxyBypass)
		p.Proxy = &px
	}
	if set("custom-header") {
		hs := s.customHeaders
		if len(hs) == 1 && hs[0] == "" {
			hs = nil
		}
		for _, h := range hs {
			if err := engine.CheckHeader(h); err != nil {
				return p, usageErr("--custom-header: %s", hresult.From(err).Msg)
			}
		}
		h := strings.Join(hs, "\r\n")
		p.CustomHeaders = &h
	}
	p.MakeHeadersWriteOnly = s.headersWriteOnly
	if set("http-method") {
		p.HTTPMethod = &s.httpMethod
	}
	if set("cert-store-location") || set("cert-store-name") || set("cert-hash") || set("cert-subject") {
		c := engine.ClientCert{StoreName: s.certStoreName, Subject: s.certSubject}
		if set("cert-store-location") {
			loc, err := parseCertLocation(s.certStoreLocation)
			if err != nil {
				return p, bad("cert-store-location", err)
			}
			c.StoreLocation = loc
		}
		if set("cert-hash") {
			h, err := parseCertHash(s.certHash)
			if err != nil {
				return p, bad("cert-hash", err)
			}
			c.Hash = h
		}
		p.ClientCert = &c
	}
	p.RemoveClientCert = s.removeCert
	if set("acl-flags") {
		v, err := parseACLFlags(s.aclFlags)
		if err != nil {
			return p, bad("acl-flags", err)
		}
		p.ACLFlags = &v
	}
	if set("helper-token") {
		p.HelperToken = &s.helperToken
	}
	if set("reply-file") {
		name := s.replyFile
		if name != "" {
			var err error
			if name, err = filepath.Abs(name); err != nil {
				return p, bad("reply-file", err)
			}
		}
		p.ReplyFileName = &name
	}
	if set("dynamic") {
		p.Dynamic = &s.dynamic
	}
	if set("transfer-policy") {
		v, err := netpolicy.ParseCostStates(s.transferPolicy)
		if err != nil {
			return p, bad("transfer-policy", err)
		}
		p.TransferPolicy = &v
	}
	if set("max-bandwidth") {
		p.MaxBandwidth = &s.maxBandwidth
	}
	return p, nil
}

// spaceList joins list values given one per flag or separated by commas or
// blanks into the engine's space-separated list.
func spaceList(vals []string) string {
	var out []string
	for _, v := range vals {
		out = append(out, strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })...)
	}
	return strings.Join(out, " ")
}

// empty reports whether p changes nothing.
func empty(p engine.Props) bool {
	return p == (engine.Props{})
}
