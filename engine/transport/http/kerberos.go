package http

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/spnego"

	"bits/engine/transport"
)

// Negotiate answers with Kerberos, as Windows does: a SPNEGO token that
// carries a ticket for the service HTTP/<host>, the host name of the
// server's or the proxy's URL as written (no DNS canonicalisation). The
// ticket comes from the user's credential cache for the implicit
// credential (/SETCREDENTIALS ... NEGOTIATE NULL NULL), or from a login
// with the job's user name and password. gokrb5 does the Kerberos work.
//
// The user's environment as recorded with the job says where things are:
// KRB5_CONFIG (else /etc/krb5.conf) and KRB5CCNAME (else
// /tmp/krb5cc_<uid>, MIT's default). Only FILE credential caches can be
// read.

// kerberos makes Negotiate tokens for one client.
type kerberos struct {
	getenv func(string) string

	mu     sync.Mutex
	logins map[transport.Credential]*client.Client // by password credential: its tickets
}

func newKerberos(getenv func(string) string) *kerberos {
	return &kerberos{getenv: getenv, logins: map[transport.Credential]*client.Client{}}
}

// token returns the SPNEGO token with a Kerberos ticket for HTTP/host.
func (k *kerberos) token(cred transport.Credential, host string) ([]byte, error) {
	cfg, err := k.config()
	if err != nil {
		return nil, err
	}
	cl, err := k.client(cred, cfg)
	if err != nil {
		return nil, err
	}
	s := spnego.SPNEGOClient(cl, "HTTP/"+host)
	if err := s.AcquireCred(); err != nil {
		return nil, fmt.Errorf("Kerberos: %w", err)
	}
	t, err := s.InitSecContext()
	if err != nil {
		return nil, fmt.Errorf("Kerberos: no ticket for HTTP/%s: %w", host, err)
	}
	return t.Marshal()
}

// config reads the Kerberos configuration: the first file of KRB5_CONFIG
// (a list, as MIT takes it) that exists, else /etc/krb5.conf.
func (k *kerberos) config() (*config.Config, error) {
	paths := []string{"/etc/krb5.conf"}
	if v := k.getenv("KRB5_CONFIG"); v != "" {
		paths = filepath.SplitList(v)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			cfg, err := config.Load(p)
			if err != nil {
				return nil, fmt.Errorf("Kerberos: the configuration %s: %w", p, err)
			}
			return cfg, nil
		}
	}
	return nil, fmt.Errorf("Kerberos: no configuration (%s)", strings.Join(paths, ", "))
}

// client is the user's Kerberos identity for cred.
func (k *kerberos) client(cred transport.Credential, cfg *config.Config) (*client.Client, error) {
	if cred.Implicit {
		cc, err := k.ccache()
		if err != nil {
			return nil, err
		}
		cl, err := client.NewFromCCache(cc, cfg, client.DisablePAFXFAST(true))
		if err != nil {
			return nil, fmt.Errorf("Kerberos: the credential cache: %w (run kinit)", err)
		}
		return cl, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if cl, ok := k.logins[cred]; ok {
		return cl, nil
	}
	user, realm := splitPrincipal(cred.User, cfg)
	if realm == "" {
		return nil, fmt.Errorf("Kerberos: no realm for %q: name one (user@REALM) or set default_realm", cred.User)
	}
	cl := client.NewWithPassword(user, realm, cred.Password, cfg, client.DisablePAFXFAST(true))
	if err := cl.Login(); err != nil {
		return nil, fmt.Errorf("Kerberos: login of %s@%s: %w", user, realm, err)
	}
	k.logins[cred] = cl
	return cl, nil
}

// ccache loads the user's credential cache, a file that must be theirs:
// a cache in /tmp that someone else made, or a link, is refused.
func (k *kerberos) ccache() (*credentials.CCache, error) {
	name := k.getenv("KRB5CCNAME")
	path, isFile := strings.CutPrefix(name, "FILE:")
	switch {
	case name == "":
		path = fmt.Sprintf("/tmp/krb5cc_%d", os.Getuid())
	case !isFile && !strings.HasPrefix(name, "/"):
		kind, _, _ := strings.Cut(name, ":")
		return nil, fmt.Errorf("Kerberos: the credential cache %s is of type %s; only FILE caches can be read", name, kind)
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fmt.Errorf("Kerberos: no credential cache %s (%v): run kinit", path, errors.Unwrap(err))
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.Mode().IsRegular() || !ok || int(st.Uid) != os.Getuid() {
		return nil, fmt.Errorf("Kerberos: the credential cache %s is not a file of this user's", path)
	}
	cc, err := credentials.LoadCCache(path)
	if err != nil {
		return nil, fmt.Errorf("Kerberos: the credential cache %s: %w", path, err)
	}
	return cc, nil
}

// splitPrincipal reads user@REALM, DOMAIN\user and user: a domain names
// the realm when the configuration knows a realm of that name, and the
// default realm stands in for a missing or unknown one.
func splitPrincipal(name string, cfg *config.Config) (user, realm string) {
	if u, r, ok := strings.Cut(name, "@"); ok {
		return u, r
	}
	user, realm = name, cfg.LibDefaults.DefaultRealm
	if d, u, ok := strings.Cut(name, `\`); ok {
		user = u
		for _, r := range cfg.Realms {
			if strings.EqualFold(r.Realm, d) {
				realm = r.Realm
			}
		}
	}
	return user, realm
}
