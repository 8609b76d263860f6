package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"bits/engine/transport"
	"bits/hresult"
	"bits/storage"
)

// Length limits of BITS settings.
const (
	MaxNotifyProgram    = 4096 // Unix paths are longer than Windows' MAX_PATH
	MaxNotifyParameters = 4000
	MaxProxyList        = 4000
	MaxCustomHeaders    = 16383 // 16,384 characters with the terminator
	MaxUserName         = 300
	MaxPassword         = 65535
)

// AuthTarget is BG_AUTH_TARGET, as the transports take it.
type AuthTarget = transport.AuthTarget

const (
	TargetServer = transport.TargetServer
	TargetProxy  = transport.TargetProxy
)

// AuthScheme is BG_AUTH_SCHEME, as the transports take it.
type AuthScheme = transport.AuthScheme

const (
	SchemeBasic     = transport.SchemeBasic
	SchemeDigest    = transport.SchemeDigest
	SchemeNTLM      = transport.SchemeNTLM
	SchemeNegotiate = transport.SchemeNegotiate
	SchemePassport  = transport.SchemePassport
)

// ParseAuthTarget and ParseAuthScheme read the bitsadmin words in any case.
func ParseAuthTarget(s string) (AuthTarget, bool) {
	switch strings.ToUpper(s) {
	case "SERVER":
		return TargetServer, true
	case "PROXY":
		return TargetProxy, true
	}
	return 0, false
}

func ParseAuthScheme(s string) (AuthScheme, bool) {
	for sc := SchemeBasic; sc <= SchemePassport; sc++ {
		if strings.EqualFold(s, sc.String()) {
			return sc, true
		}
	}
	return 0, false
}

// ParseProxyUsage reads PRECONFIG, NO_PROXY, OVERRIDE or AUTODETECT.
func ParseProxyUsage(s string) (ProxyUsage, bool) {
	for u := ProxyPreconfig; u <= ProxyAutodetect; u++ {
		if strings.EqualFold(s, u.String()) {
			return u, true
		}
	}
	return 0, false
}

// CertStoreNames are the certificate stores BITS accepts.
var CertStoreNames = []string{"CA", "MY", "ROOT", "SPC"}

// NotifyCmdLine is a notification program and its parameter string, whose
// first word is the program's name (its argv[0]), as in BITS.
type NotifyCmdLine struct {
	Program, Parameters string
}

// ProxySettings are a job's proxy usage and lists (space-separated).
type ProxySettings struct {
	Usage        ProxyUsage
	List, Bypass string
}

// Set changes job settings, all or none.
func (m *Manager) Set(ctx context.Context, id string, p Props) error {
	j, err := m.change(ctx, id, func(_ *storage.Tx, j *Job) error {
		if j.State.Final() {
			return errStateRefused("settings cannot change in state " + j.State.String())
		}
		if err := p.apply(j); err != nil {
			return err
		}
		if p.Proxy != nil {
			recordUserEnv(j)
		}
		j.Modified = m.opts.Now()
		return nil
	})
	if err != nil {
		return err
	}
	m.wake(j)
	return nil
}

func tooLong(what string, n int) error {
	return &hresult.Error{Code: hresult.BG_E_STRING_TOO_LONG, Msg: fmt.Sprintf("%s longer than %d characters", what, n)}
}

func runes(s string) int { return len([]rune(s)) }

// maxBandwidthKbps bounds a job's own limit: 1 Tbit/s, far above any link.
const maxBandwidthKbps = 1 << 30

func (px ProxySettings) check() error {
	if px.Usage < ProxyPreconfig || px.Usage > ProxyAutodetect {
		return invalidArg("proxy usage %d", px.Usage)
	}
	if px.Usage != ProxyOverride && (px.List != "" || px.Bypass != "") {
		return invalidArg("proxy lists are only allowed with OVERRIDE")
	}
	if px.Usage == ProxyOverride && strings.TrimSpace(px.List) == "" {
		return invalidArg("OVERRIDE needs a proxy list")
	}
	if runes(px.List) > MaxProxyList {
		return &hresult.Error{Code: hresult.BG_E_PROXY_LIST_TOO_LARGE, Msg: "proxy list longer than 4000 characters"}
	}
	if runes(px.Bypass) > MaxProxyList {
		return &hresult.Error{Code: hresult.BG_E_PROXY_BYPASS_LIST_TOO_LARGE, Msg: "bypass list longer than 4000 characters"}
	}
	return nil
}

func (c ClientCert) check() error {
	if c.StoreLocation < 0 || c.StoreLocation > 7 {
		return invalidArg("certificate store location %d", c.StoreLocation)
	}
	if !slices.Contains(CertStoreNames, strings.ToUpper(c.StoreName)) {
		return invalidArg("certificate store %q", c.StoreName)
	}
	if (len(c.Hash) == 0) == (c.Subject == "") {
		return invalidArg("a certificate is named by a hash or a subject")
	}
	if len(c.Hash) != 0 && len(c.Hash) != 20 {
		return invalidArg("a certificate hash has 20 bytes, not %d", len(c.Hash))
	}
	return nil
}

// CheckHeader accepts a custom header of the form Name: value, with a name
// of HTTP token characters and no line break anywhere. Its error does not
// repeat the header, which may hold a token.
func CheckHeader(h string) error {
	name, _, ok := strings.Cut(h, ":")
	if !ok || name == "" || strings.ContainsAny(h, "\r\n") {
		return invalidArg("a header is not of the form Name: value")
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return invalidArg("a header is not of the form Name: value")
		}
	}
	return nil
}

// setMethod applies BITS' rules for a custom HTTP method: a token, set
// before the first Resume, not with dynamic content, and it makes the job
// FOREGROUND for good. The default method is a no-op.
func setMethod(j *Job, method string) error {
	if method == "" || strings.EqualFold(method, defaultMethod(j.Type)) {
		return nil
	}
	if j.Resumed {
		return &hresult.Error{Code: hresult.BG_E_READ_ONLY_PROPERTY_AFTER_RESUME, Msg: "the HTTP method is set before the first Resume"}
	}
	if j.Dynamic {
		return &hresult.Error{Code: hresult.BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD, Msg: "dynamic content uses GET"}
	}
	for _, c := range method {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return invalidArg("%q is not an HTTP method", method)
		}
	}
	j.HTTPMethod = method
	j.Priority = Foreground
	return nil
}

func setDynamic(j *Job, on bool) error {
	if j.Type != Download {
		return &hresult.Error{Code: hresult.BG_E_PROPERTY_SUPPORTED_FOR_DOWNLOAD_JOBS_ONLY}
	}
	if j.Resumed {
		return &hresult.Error{Code: hresult.BG_E_READ_ONLY_PROPERTY_AFTER_RESUME, Msg: "dynamic content is set before the first Resume"}
	}
	if on && j.HTTPMethod != "" {
		return &hresult.Error{Code: hresult.BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD}
	}
	if on {
		for _, f := range j.Files {
			if f.Ranges != nil {
				return &hresult.Error{Code: hresult.BG_E_UNSUPPORTED_JOB_CONFIGURATION, Msg: "dynamic content cannot have file ranges"}
			}
		}
	}
	j.Dynamic = on
	return nil
}

// Credential is a user name and password for a target and scheme. Nil User
// and Password are BITS' NULL NULL: the owner's implicit credentials, valid
// only for NTLM and Negotiate.
type Credential struct {
	Target         AuthTarget
	Scheme         AuthScheme
	User, Password *string
}

// SetCredentials stores a credential, replacing the one for the same target
// and scheme. Credentials are never read back by any front end.
func (m *Manager) SetCredentials(ctx context.Context, id string, c Credential) error {
	if c.Target != TargetServer && c.Target != TargetProxy {
		return &hresult.Error{Code: hresult.BG_E_INVALID_AUTH_TARGET}
	}
	if c.Scheme < SchemeBasic || c.Scheme > SchemePassport {
		return &hresult.Error{Code: hresult.BG_E_INVALID_AUTH_SCHEME}
	}
	if (c.User == nil) != (c.Password == nil) || (c.User == nil && c.Scheme != SchemeNTLM && c.Scheme != SchemeNegotiate) {
		return invalidArg("NULL credentials are only for NTLM and NEGOTIATE, as user and password both")
	}
	if c.User != nil && runes(*c.User) > MaxUserName {
		return &hresult.Error{Code: hresult.BG_E_USERNAME_TOO_LARGE}
	}
	if c.Password != nil && runes(*c.Password) > MaxPassword {
		return &hresult.Error{Code: hresult.BG_E_PASSWORD_TOO_LARGE}
	}
	_, err := m.change(ctx, id, func(tx *storage.Tx, j *Job) error {
		if j.State.Final() {
			return errStateRefused("credentials cannot change in state " + j.State.String())
		}
		j.Modified = m.opts.Now()
		recordUserEnv(j)
		return tx.PutCredential(id, storage.Credential{Target: int(c.Target), Scheme: int(c.Scheme), User: c.User, Password: c.Password})
	})
	if err == nil {
		m.scrub(ctx) // the password this one replaced
	}
	return err
}

// RemoveCredentials removes the credential for target and scheme; removing
// one that was never set is not an error.
func (m *Manager) RemoveCredentials(ctx context.Context, id string, target AuthTarget, scheme AuthScheme) error {
	if target != TargetServer && target != TargetProxy {
		return &hresult.Error{Code: hresult.BG_E_INVALID_AUTH_TARGET}
	}
	if scheme < SchemeBasic || scheme > SchemePassport {
		return &hresult.Error{Code: hresult.BG_E_INVALID_AUTH_SCHEME}
	}
	_, err := m.change(ctx, id, func(tx *storage.Tx, j *Job) error {
		if j.State.Final() {
			return errStateRefused("credentials cannot change in state " + j.State.String())
		}
		j.Modified = m.opts.Now()
		return tx.DeleteCredentials(id, int(target), int(scheme))
	})
	if err == nil {
		m.scrub(ctx)
	}
	return err
}

// scrub erases what the last transaction deleted (credentials, a whole job)
// from the WAL too; the database's free pages are zeroed as rows go
// (secure_delete). It is best effort: the change has landed, and a WAL that
// a reader holds past the busy timeout is emptied by the next scrub or
// removed when its last connection closes.
func (m *Manager) scrub(ctx context.Context) {
	_ = m.store.Scrub(context.WithoutCancel(ctx))
}

// TakeOwnership makes the caller the job's owner. As in BITS it removes what
// belonged to the old owner: credentials, custom headers, the notification
// program and the helper token.
func (m *Manager) TakeOwnership(ctx context.Context, id string) error {
	_, err := m.change(ctx, id, func(tx *storage.Tx, j *Job) error {
		if j.State.Final() {
			return errStateRefused("ownership cannot change in state " + j.State.String())
		}
		j.Owner = m.ownerName()
		j.CustomHeaders, j.HeadersWriteOnly = "", false
		j.NotifyProgram, j.NotifyParameters = "", ""
		j.HelperToken, j.HelperTokenFlags = "", 0
		j.Credentials = nil
		j.Modified = m.opts.Now()
		return tx.DeleteCredentials(id, 0, 0)
	})
	if err == nil {
		m.scrub(ctx)
	}
	return err
}
