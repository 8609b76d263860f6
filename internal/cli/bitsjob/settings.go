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
// flags: one flag per setting of engine.Settings that has one, and the
// flags of the compound settings below. Only the flags given change
// anything. Values are parsed here, completely, before any job is touched;
// the engine applies its own rules (lengths, states, combinations).
type settings struct {
	text  map[string]*string // the flags of the settings of one value, by flag
	bools map[string]*bool
	ints  map[string]*int64

	notifyCmdLine     []string
	proxyUsage        string
	proxyList         []string
	proxyBypass       []string
	customHeaders     []string
	headersWriteOnly  bool
	certStoreLocation string
	certStoreName     string
	certHash          string
	certSubject       string
	removeCert        bool
}

func (s *settings) register(fs *pflag.FlagSet) {
	s.text, s.bools, s.ints = map[string]*string{}, map[string]*bool{}, map[string]*int64{}
	for _, st := range engine.Settings() {
		switch {
		case st.Flag == "":
		case st.Kind == engine.KindBool:
			s.bools[st.Flag] = fs.Bool(st.Flag, false, st.Usage)
		case st.Kind == engine.KindKbps:
			n := new(int64)
			fs.Var((*wholeNumber)(n), st.Flag, st.Usage)
			s.ints[st.Flag] = n
		default:
			s.text[st.Flag] = fs.String(st.Flag, "", st.Usage)
		}
	}
	fs.StringArrayVar(&s.notifyCmdLine, "notify-cmdline", nil, "notification program, then its arguments, one per flag; one empty value clears it")
	fs.StringVar(&s.proxyUsage, "proxy-usage", "", "SystemDefault, NoProxy, Override or AutoDetect")
	fs.StringArrayVar(&s.proxyList, "proxy-list", nil, "proxy to use with Override; repeat or separate with spaces or commas")
	fs.StringArrayVar(&s.proxyBypass, "proxy-bypass", nil, "host that bypasses the proxies; repeat or separate with spaces or commas")
	fs.StringArrayVar(&s.customHeaders, "custom-header", nil, `HTTP header "Name: value" for every request; repeat for more; one empty value clears them`)
	fs.BoolVar(&s.headersWriteOnly, "custom-headers-write-only", false, "never show the custom headers again (cannot be undone)")
	fs.StringVar(&s.certStoreLocation, "cert-store-location", "", "client certificate store location: CURRENT_USER, LOCAL_MACHINE, ... or 0-7")
	fs.StringVar(&s.certStoreName, "cert-store-name", "", "client certificate store: CA, MY, ROOT or SPC")
	fs.StringVar(&s.certHash, "cert-hash", "", "client certificate SHA-1 hash, in hexadecimal")
	fs.StringVar(&s.certSubject, "cert-subject", "", "client certificate subject name (instead of --cert-hash)")
	fs.BoolVar(&s.removeCert, "remove-client-cert", false, "forget the client certificate")
}

// flagValue reads the value of a setting's flag as its Kind says.
func (s *settings) flagValue(st *engine.Setting) (any, error) {
	switch st.Kind {
	case engine.KindBool:
		return *s.bools[st.Flag], nil
	case engine.KindKbps:
		return *s.ints[st.Flag], nil
	}
	text := *s.text[st.Flag]
	switch st.Kind {
	case engine.KindPriority:
		return parsePriority(text)
	case engine.KindSeconds:
		return parseSeconds(text)
	case engine.KindNumber:
		return parseUint32(text)
	case engine.KindACL:
		return parseACLFlags(text)
	case engine.KindCost:
		return netpolicy.ParseCostStates(text)
	case engine.KindPath:
		if text == "" {
			return text, nil
		}
		return filepath.Abs(text)
	}
	return text, nil
}

// props converts the flags that were given into engine.Props. The values
// that read as numbers (priorities, seconds, flags) are read first, then
// the rest, each in the order of engine.Settings: that order says which of
// several bad values the error names.
func (s *settings) props(fs *pflag.FlagSet) (engine.Props, error) {
	var p engine.Props
	for _, numbers := range []bool{true, false} {
		for i := range engine.Settings() {
			st := &engine.Settings()[i]
			if readsNumber(st.Kind) != numbers {
				continue
			}
			if st.Kind == engine.KindCompound {
				if err := s.compound(st.Name, fs, &p); err != nil {
					return p, err
				}
				continue
			}
			if st.Flag != "" && fs.Changed(st.Flag) {
				v, err := s.flagValue(st)
				if err != nil {
					return p, usageErr("--%s: %v", st.Flag, err)
				}
				st.Set(&p, v)
			}
		}
	}
	return p, nil
}

func readsNumber(k engine.Kind) bool {
	return k == engine.KindPriority || k == engine.KindSeconds || k == engine.KindNumber
}

// compound converts the flags of the compound setting name.
func (s *settings) compound(name string, fs *pflag.FlagSet, p *engine.Props) error {
	set := fs.Changed
	bad := func(flag string, err error) error { return usageErr("--%s: %v", flag, err) }
	switch name {
	case "NotifyCmdLine":
		if set("notify-cmdline") {
			c := engine.NotifyCmdLine{}
			if args := s.notifyCmdLine; len(args) > 1 || args[0] != "" {
				c.Program, c.Parameters = args[0], joinCommandLine(args)
			}
			p.NotifyCmdLine = &c
		}
	case "Proxy":
		if set("proxy-usage") || set("proxy-list") || set("proxy-bypass") {
			px := engine.ProxySettings{Usage: engine.ProxyOverride}
			if set("proxy-usage") {
				u, err := parseProxyUsage(s.proxyUsage)
				if err != nil {
					return bad("proxy-usage", err)
				}
				px.Usage = u
			}
			px.List, px.Bypass = spaceList(s.proxyList), spaceList(s.proxyBypass)
			p.Proxy = &px
		}
	case "CustomHeaders":
		if set("custom-header") {
			hs := s.customHeaders
			if len(hs) == 1 && hs[0] == "" {
				hs = nil
			}
			for _, h := range hs {
				if err := engine.CheckHeader(h); err != nil {
					return usageErr("--custom-header: %s", hresult.From(err).Msg)
				}
			}
			h := strings.Join(hs, "\r\n")
			p.CustomHeaders = &h
		}
	case "CustomHeadersWriteOnly":
		p.MakeHeadersWriteOnly = s.headersWriteOnly
	case "ClientCert":
		if set("cert-store-location") || set("cert-store-name") || set("cert-hash") || set("cert-subject") {
			c := engine.ClientCert{StoreName: s.certStoreName, Subject: s.certSubject}
			if set("cert-store-location") {
				loc, err := parseCertLocation(s.certStoreLocation)
				if err != nil {
					return bad("cert-store-location", err)
				}
				c.StoreLocation = loc
			}
			if set("cert-hash") {
				h, err := parseCertHash(s.certHash)
				if err != nil {
					return bad("cert-hash", err)
				}
				c.Hash = h
			}
			p.ClientCert = &c
		}
		p.RemoveClientCert = s.removeCert
	default:
		panic("bitsjob: no flags for the setting " + name)
	}
	return nil
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
