package smb

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strings"

	"bits/engine/transport"
	"bits/hresult"
)

// A credential is an NTLM logon. It never appears in errors or logs.
type credential struct {
	domain, user, password string
}

// credentialsFor picks the logon for a server: the job's SERVER credential
// for NTLM or Negotiate, else the mount.cifs-style credentials file. An
// implicit credential (NULL user and password) means "the logged-on
// identity", which a Linux service cannot present to an SMB server, so it
// falls through to the file.
func credentialsFor(host string, s *transport.Settings) (credential, error) {
	for _, scheme := range []transport.AuthScheme{transport.SchemeNTLM, transport.SchemeNegotiate} {
		for _, c := range s.Credentials {
			if c.Target == transport.TargetServer && c.Scheme == scheme && !c.Implicit && c.User != "" {
				domain, user := splitUser(c.User)
				return credential{domain: domain, user: user, password: c.Password}, nil
			}
		}
	}
	if s.SMBCredentialsFile != "" {
		c, err := readCredentialsFile(s.SMBCredentialsFile)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return c, err
		}
	}
	where := "the smb-credentials file in the state folder"
	if s.SMBCredentialsFile != "" {
		where = s.SMBCredentialsFile
	}
	return credential{}, hresult.Fatal(hresult.E_ACCESSDENIED, hresult.ContextRemoteFile,
		"no credentials for the SMB server %s: give them with "+
			"`bitsadmin /setcredentials <job> SERVER NTLM <user> <password>` or in %s "+
			"(username=, password= and domain= lines, mode 600)", host, where)
}

// splitUser reads DOMAIN\user (or DOMAIN/user); user@domain is left whole,
// as NTLM takes it.
func splitUser(s string) (domain, user string) {
	if d, u, ok := strings.Cut(s, `\`); ok {
		return d, u
	}
	if d, u, ok := strings.Cut(s, "/"); ok {
		return d, u
	}
	return "", s
}

// readCredentialsFile reads a mount.cifs credentials file: username=,
// password= and domain= lines, # and ; comments. It refuses a file that
// others can read, since it holds a password in clear.
func readCredentialsFile(name string) (credential, error) {
	f, err := os.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return credential{}, err
		}
		return credential{}, hresult.Fatal(hresult.E_ACCESSDENIED, hresult.ContextLocalFile,
			"cannot read the SMB credentials file %s: %v", name, errors.Unwrap(err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return credential{}, hresult.Fatal(hresult.E_ACCESSDENIED, hresult.ContextLocalFile, "%v", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return credential{}, hresult.Fatal(hresult.E_ACCESSDENIED, hresult.ContextLocalFile,
			"the SMB credentials file %s may be read by other users (mode %04o): make it private with chmod 600",
			name, fi.Mode().Perm())
	}
	var c credential
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := bytes.TrimRight(sc.Bytes(), "\r")
		key, value, ok := strings.Cut(string(line), "=")
		key = strings.ToLower(strings.TrimSpace(key))
		if !ok || strings.HasPrefix(key, "#") || strings.HasPrefix(key, ";") {
			continue
		}
		switch key {
		case "username", "user":
			c.domain, c.user = splitUser(strings.TrimSpace(value))
		case "password", "pass":
			c.password = value // as written: a password may hold spaces
		case "domain", "dom", "workgroup":
			c.domain = strings.TrimSpace(value)
		}
	}
	if err := sc.Err(); err != nil {
		return credential{}, hresult.Fatal(hresult.E_ACCESSDENIED, hresult.ContextLocalFile,
			"cannot read the SMB credentials file %s: %v", name, err)
	}
	if c.user == "" {
		return credential{}, hresult.Fatal(hresult.E_ACCESSDENIED, hresult.ContextLocalFile,
			"the SMB credentials file %s has no username= line", name)
	}
	return c, nil
}
