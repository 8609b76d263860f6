package bitsadmin

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"bits/engine"
	"bits/hresult"
)

// The /SET* verbs whose arguments are more than one value: proxy settings,
// the notification command line, credentials, custom headers, client
// certificates and the helper token. Each parses its arguments completely
// before it looks up the job, so bad input never reaches the engine.

// isNULL reports whether an argument is bitsadmin's NULL, in any case.
func isNULL(s string) bool { return strings.EqualFold(s, "NULL") }

// bindSetProxySettings reads PRECONFIG, AUTODETECT or NO_PROXY, or
// OVERRIDE with a proxy list and a bypass list. Lists may be separated by
// commas, as bitsadmin's help shows (proxy1,proxy2), or spaces, as the API
// takes them; a NULL or empty bypass list is none.
func bindSetProxySettings(ctx context.Context, e *env, c call) error {
	const action = "set proxy settings"
	usage, ok := engine.ParseProxyUsage(c.args[1])
	if !ok {
		return &actionError{action: action, err: invalidArg("proxy usage %q", c.args[1])}
	}
	px := engine.ProxySettings{Usage: usage}
	done := "Set the proxy usage to " + usage.String() + "."
	switch {
	case usage != engine.ProxyOverride && len(c.args) != 2:
		return errArgCount
	case usage == engine.ProxyOverride && len(c.args) != 4:
		return errArgCount
	case usage == engine.ProxyOverride:
		px.List, px.Bypass = proxyList(c.args[2]), proxyList(c.args[3])
		done += "\nSet the proxy list to " + orNULL(px.List) + "." +
			"\nSet the proxy bypass list to " + orNULL(px.Bypass) + "."
	}
	return runSetProps(ctx, e, propSetOptions{Job: c.args[0], Action: action,
		Props: engine.Props{Proxy: &px}, Done: done})
}

// proxyList turns a list typed with commas or spaces into the API's
// space-separated list; NULL is the empty list.
func proxyList(s string) string {
	if isNULL(s) {
		return ""
	}
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }), " ")
}

// bindSetNotifyCmdLine reads a program and its parameter string; NULL
// stands for none, so NULL NULL clears the command line. Several words
// after the program are joined with spaces into the parameter string
// (Windows' examples pass `notepad c:\eula.txt` unquoted). An empty
// argument is refused as Windows' tool refuses it.
func bindSetNotifyCmdLine(ctx context.Context, e *env, c call) error {
	if slices.Contains(c.args, "") {
		return errArgCount
	}
	prog, params := c.args[1], "NULL"
	if len(c.args) > 2 {
		params = strings.Join(c.args[2:], " ")
	}
	cmd := engine.NotifyCmdLine{Program: prog, Parameters: params}
	if isNULL(prog) {
		cmd.Program = ""
	}
	if isNULL(params) {
		cmd.Parameters = ""
	}
	return runSetProps(ctx, e, propSetOptions{Job: c.args[0], Action: "set the notification command line",
		Props: engine.Props{NotifyCmdLine: &cmd},
		Done:  "Set the notification command line to: " + notifyCmdLine(&engine.Job{NotifyProgram: cmd.Program, NotifyParameters: cmd.Parameters})})
}

// notifyCmdLine is the job's notification command line as /INFO and
// /GETNOTIFYCMDLINE print it: the program, then the parameter string after
// a colon (it repeats the program's name as its first word), or none.
func notifyCmdLine(j *engine.Job) string {
	switch {
	case j.NotifyProgram == "":
		return "none"
	case j.NotifyParameters == "":
		return j.NotifyProgram
	}
	return j.NotifyProgram + ": " + j.NotifyParameters
}

// credentialOptions name a credential. The password is never printed: not
// in confirmations, errors or listings.
type credentialOptions struct {
	Job    string
	Target engine.AuthTarget
	Scheme engine.AuthScheme
	// User and Password are nil for NULL NULL: the implicit credentials
	// of NTLM and NEGOTIATE.
	User, Password *string
}

func parseTargetScheme(action, target, scheme string) (engine.AuthTarget, engine.AuthScheme, error) {
	t, ok := engine.ParseAuthTarget(target)
	if !ok {
		return 0, 0, &actionError{action: action, err: &hresult.Error{Code: hresult.BG_E_INVALID_AUTH_TARGET}}
	}
	s, ok := engine.ParseAuthScheme(scheme)
	if !ok {
		return 0, 0, &actionError{action: action, err: &hresult.Error{Code: hresult.BG_E_INVALID_AUTH_SCHEME}}
	}
	return t, s, nil
}

func bindSetCredentials(ctx context.Context, e *env, c call) error {
	t, s, err := parseTargetScheme("add credentials", c.args[1], c.args[2])
	if err != nil {
		return err
	}
	o := credentialOptions{Job: c.args[0], Target: t, Scheme: s}
	// Only both NULL mean the implicit credentials; a user named NULL with
	// a password is a user.
	if !isNULL(c.args[3]) || !isNULL(c.args[4]) {
		o.User, o.Password = &c.args[3], &c.args[4]
	}
	return runSetCredentials(ctx, e, o)
}

func runSetCredentials(ctx context.Context, e *env, o credentialOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	err = e.m.SetCredentials(ctx, j.ID, engine.Credential{Target: o.Target, Scheme: o.Scheme, User: o.User, Password: o.Password})
	if err != nil {
		return &actionError{action: "set credentials", err: err}
	}
	fmt.Fprintf(e.stdout, "Set the %s %s credentials.\n", o.Target, o.Scheme)
	return nil
}

func bindRemoveCredentials(ctx context.Context, e *env, c call) error {
	t, s, err := parseTargetScheme("remove credentials", c.args[1], c.args[2])
	if err != nil {
		return err
	}
	return runRemoveCredentials(ctx, e, credentialOptions{Job: c.args[0], Target: t, Scheme: s})
}

// runRemoveCredentials removes a credential. Removing one that is not set
// is BITS' S_FALSE: a success that changed nothing.
func runRemoveCredentials(ctx context.Context, e *env, o credentialOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	set := slices.Contains(j.Credentials, engine.CredentialInfo{Target: o.Target, Scheme: o.Scheme})
	if err := e.m.RemoveCredentials(ctx, j.ID, o.Target, o.Scheme); err != nil {
		return &actionError{action: "remove credentials", err: err}
	}
	if !set {
		fmt.Fprintf(e.stdout, "No %s %s credentials were set: nothing removed.\n", o.Target, o.Scheme)
		return nil
	}
	fmt.Fprintf(e.stdout, "Removed the %s %s credentials.\n", o.Target, o.Scheme)
	return nil
}

// credentialsLine lists the credentials a job holds by target and scheme,
// never what they are.
func credentialsLine(cs []engine.CredentialInfo) string {
	if len(cs) == 0 {
		return "none"
	}
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = c.Target.String() + " " + c.Scheme.String()
	}
	return strings.Join(s, ", ")
}

// bindSetCustomHeaders takes one header per argument, `Name: value`, and
// joins them with CRLF as the API takes them; NULL alone removes them.
func bindSetCustomHeaders(ctx context.Context, e *env, c call) error {
	const action = "set custom headers"
	headers := c.args[1:]
	if len(headers) == 1 && isNULL(headers[0]) {
		none := ""
		return runSetProps(ctx, e, propSetOptions{Job: c.args[0], Action: action,
			Props: engine.Props{CustomHeaders: &none}, Done: "Custom headers removed."})
	}
	for _, h := range headers {
		if err := engine.CheckHeader(h); err != nil {
			return &actionError{action: action, err: err}
		}
	}
	joined := strings.Join(headers, "\r\n")
	return runSetProps(ctx, e, propSetOptions{Job: c.args[0], Action: action,
		Props: engine.Props{CustomHeaders: &joined}, Done: fmt.Sprintf("%d custom header(s) set.", len(headers))})
}

// customHeaders splits the job's CRLF-separated headers into lines.
func customHeaders(j *engine.Job) []string {
	var out []string
	for _, h := range strings.Split(j.CustomHeaders, "\r\n") {
		if h != "" {
			out = append(out, h)
		}
	}
	return out
}

func bindMakeHeadersWriteOnly(ctx context.Context, e *env, c call) error {
	return runSetProps(ctx, e, propSetOptions{Job: c.args[0], Action: "make custom headers write-only",
		Props: engine.Props{MakeHeadersWriteOnly: true}, Done: "Custom headers are now write-only."})
}

// certLocations are the certificate store locations, in the order of
// their API values (0-7); bitsadmin numbers them from 1.
var certLocations = []string{"CURRENT_USER", "LOCAL_MACHINE", "CURRENT_SERVICE", "SERVICES", "USERS",
	"CURRENT_USER_GROUP_POLICY", "LOCAL_MACHINE_GROUP_POLICY", "LOCAL_MACHINE_ENTERPRISE"}

// parseCertLocation reads a store location as bitsadmin's syntax gives it
// (1 to 8) or as Windows' own example does (BG_CERT_STORE_LOCATION_CURRENT_USER),
// and returns its API value.
func parseCertLocation(s string) (int, bool) {
	if n, err := strconv.Atoi(s); err == nil {
		return n - 1, n >= 1 && n <= len(certLocations)
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "BG_CERT_STORE_LOCATION_")
	i := slices.Index(certLocations, name)
	return i, i >= 0
}

// clientCertLine shows a client certificate: store location, store, and
// the SHA-1 hash in hex or the subject in quotes.
func clientCertLine(c *engine.ClientCert) string {
	if c == nil {
		return "none"
	}
	loc := "UNKNOWN"
	if c.StoreLocation >= 0 && c.StoreLocation < len(certLocations) {
		loc = certLocations[c.StoreLocation]
	}
	if len(c.Hash) > 0 {
		return fmt.Sprintf("%s %s %X", loc, c.StoreName, c.Hash)
	}
	return fmt.Sprintf("%s %s '%s'", loc, c.StoreName, c.Subject)
}

// bindSetClientCertByID reads a store location, a store name and a SHA-1
// hash of 40 hex digits.
func bindSetClientCertByID(ctx context.Context, e *env, c call) error {
	const action = "set client certificate"
	loc, ok := parseCertLocation(c.args[1])
	if !ok {
		return &actionError{action: action, err: invalidArg("certificate store location %q", c.args[1])}
	}
	hash, err := hex.DecodeString(c.args[3])
	if err != nil || len(hash) != 20 {
		return &actionError{action: action, err: invalidArg("a certificate hash is 40 hex digits")}
	}
	cert := engine.ClientCert{StoreLocation: loc, StoreName: c.args[2], Hash: hash}
	return runSetProps(ctx, e, propSetOptions{Job: c.args[0], Action: action,
		Props: engine.Props{ClientCert: &cert}, Done: "Client certificate set."})
}

func bindSetClientCertByName(ctx context.Context, e *env, c call) error {
	const action = "set client certificate"
	loc, ok := parseCertLocation(c.args[1])
	if !ok {
		return &actionError{action: action, err: invalidArg("certificate store location %q", c.args[1])}
	}
	if c.args[3] == "" {
		return &actionError{action: action, err: invalidArg("empty subject name")}
	}
	cert := engine.ClientCert{StoreLocation: loc, StoreName: c.args[2], Subject: c.args[3]}
	return runSetProps(ctx, e, propSetOptions{Job: c.args[0], Action: action,
		Props: engine.Props{ClientCert: &cert}, Done: "Client certificate set."})
}

func bindRemoveClientCert(ctx context.Context, e *env, c call) error {
	return runSetProps(ctx, e, propSetOptions{Job: c.args[0], Action: "remove client certificate",
		Props: engine.Props{RemoveClientCert: true}, Done: "Client certificate removed."})
}

// bindSetHelperToken attaches the caller's account, or the account named
// by user and password, to the job. Only the account's name is kept: the
// password is neither checked nor stored (there is no Windows logon to give
// it to), and it is never printed.
func bindSetHelperToken(ctx context.Context, e *env, c call) error {
	account := e.user()
	switch len(c.args) {
	case 2:
		return errArgCount
	case 3:
		account = c.args[1]
		if account == "" {
			return &actionError{action: "set helper token", err: invalidArg("empty account name")}
		}
	}
	return runSetProps(ctx, e, propSetOptions{Job: c.args[0], Action: "set helper token",
		Props: engine.Props{HelperToken: &account}, Done: "Set the helper token to " + account + "."})
}
