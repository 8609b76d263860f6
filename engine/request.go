package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"bits/engine/transport"
	"bits/hresult"
	"bits/storage"
)

// machineCertDir holds the certificate stores of the LOCAL_MACHINE family
// of store locations; CURRENT_USER ones live in the state folder.
const machineCertDir = "/etc/bits/certs"

// settings reads what a transport needs to know of a job, secrets included:
// its credentials and its custom headers even when they are write-only.
// Only the worker calls it; nothing it returns is shown or logged.
func (m *Manager) settings(ctx context.Context, id string) (transport.Settings, error) {
	var s transport.Settings
	err := m.store.View(ctx, func(tx *storage.Tx) error {
		j, err := loadJob(tx, id)
		if err != nil {
			return err
		}
		creds, err := tx.Credentials(id)
		if err != nil {
			return err
		}
		s = transportSettings(j, creds, m.home)
		return nil
	})
	return s, err
}

func transportSettings(j *Job, creds []storage.Credential, home string) transport.Settings {
	s := transport.Settings{
		Proxy:         transport.Proxy{Usage: j.ProxyUsage, List: j.ProxyList, Bypass: j.ProxyBypassList},
		Env:           userEnvOf(j),
		SecurityFlags: j.SecurityFlags,
	}
	if !strings.EqualFold(j.HTTPMethod, "GET") {
		s.Method = j.HTTPMethod
	}
	for h := range strings.SplitSeq(j.CustomHeaders, "\r\n") {
		if h = strings.TrimSpace(h); h != "" {
			s.Headers = append(s.Headers, h)
		}
	}
	for _, c := range creds {
		tc := transport.Credential{Target: transport.AuthTarget(c.Target), Scheme: transport.AuthScheme(c.Scheme)}
		if c.User == nil {
			tc.Implicit = true
		} else {
			tc.User, tc.Password = *c.User, *c.Password
		}
		s.Credentials = append(s.Credentials, tc)
	}
	if cc := j.ClientCert; cc != nil {
		dir := filepath.Join(home, "certs", strings.ToUpper(cc.StoreName))
		if cc.StoreLocation != 0 { // not CURRENT_USER
			dir = filepath.Join(machineCertDir, strings.ToUpper(cc.StoreName))
		}
		s.ClientCert = &transport.ClientCert{Dirs: []string{dir}, Hash: cc.Hash, Subject: cc.Subject}
	}
	if f := filepath.Join(home, SMBCredentialsFile); fileExists(f) {
		s.SMBCredentialsFile = f
	}
	return s
}

// SMBCredentialsFile, in the state folder, holds the SMB user for jobs
// without a SERVER credential (see docs/transports.md).
const SMBCredentialsFile = "smb-credentials"

func fileExists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

// request resolves a file's remote name for its transport.
func (m *Manager) request(s transport.Settings, remote string) (*transport.Request, transport.Entry, error) {
	u, e, err := m.opts.Transports.Resolve(remote)
	if err != nil {
		return nil, e, hresult.Fatal(hresult.E_INVALIDARG, hresult.ContextRemoteFile, "%v", err)
	}
	return &transport.Request{URL: u, Settings: s}, e, nil
}

func noTransport(r *transport.Request, what string) error {
	return hresult.Fatal(hresult.WINHTTP_UNRECOGNIZED_SCHEME, hresult.ContextRemoteFile, "%s over %s is not supported", what, r.URL.Scheme)
}

// downloader returns the request and transport that download remote.
func (m *Manager) downloader(s transport.Settings, remote string) (*transport.Request, transport.Entry, error) {
	r, e, err := m.request(s, remote)
	if err != nil {
		return nil, e, err
	}
	if e.Downloader == nil {
		return nil, e, noTransport(r, "downloading")
	}
	return r, e, nil
}

// uploader returns the request and transport that upload to remote.
func (m *Manager) uploader(s transport.Settings, remote string) (*transport.Request, transport.Uploader, error) {
	r, e, err := m.request(s, remote)
	if err != nil {
		return nil, nil, err
	}
	if e.Uploader == nil {
		return nil, nil, noTransport(r, "uploading")
	}
	return r, e.Uploader, nil
}
