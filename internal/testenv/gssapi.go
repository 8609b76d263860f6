package testenv

// This file runs a real Apache httpd with mod_auth_gssapi on loopback high
// ports, so that Negotiate (Kerberos) to a server is checked by a server
// that is not ours. It serves files for download, over HTTP and HTTPS,
// only to clients with a ticket for HTTP/localhost from a KDC.
//
// Apache started as root serves as www-data: its keytab, the served files
// and its runtime folder are in a folder that account owns (ownedDir), as
// the test's temporary folder is closed to it. The certificate's key and
// the logs are opened by the root parent.

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// apacheUser is the account Apache serves as; Debian's apache2 makes it.
const apacheUser = "www-data"

// apacheModules is where Debian keeps Apache's modules.
const apacheModules = "/usr/lib/apache2/modules"

// A NegotiateServer is a running Apache that asks for Negotiate. The
// test's cleanup stops it.
type NegotiateServer struct {
	root      string // config, runtime, logs
	docs      string // the served folder
	port      int    // HTTP
	tlsPort   int    // HTTPS
	cert      string // PEM certificate, its own CA
	certBytes []byte
}

// ServerRequest is one request the server logged: method, path, the user
// it was authenticated as ("" for none) and the status it answered.
type ServerRequest struct {
	Method string
	Path   string
	User   string
	Status int
	TLS    bool
}

// StartNegotiateServer starts Apache for the test, serving a copy of the
// files under dir (made now; "" serves an empty folder, and Dir or
// WriteFile add files later) at the root of URL and TLSURL, to clients
// that authenticate with Negotiate as a user of kdc. It needs root and
// Apache with mod_auth_gssapi: without them the test is skipped, or fails
// when the CI environment variable is set.
func StartNegotiateServer(tb testing.TB, kdc *KDC, dir string) *NegotiateServer {
	tb.Helper()
	if os.Geteuid() != 0 {
		missing(tb, "Apache as a test server needs root")
	}
	bin := lookTool(tb, "apache2", "apache2")
	lookFile(tb, apacheModules+"/mod_auth_gssapi.so", "libapache2-mod-auth-gssapi")
	root, uid, gid := ownedDir(tb, apacheUser)
	s := &NegotiateServer{root: root, docs: filepath.Join(root, "docs")}
	for _, d := range []string{s.docs, filepath.Join(root, "run"), filepath.Join(root, "rcache")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			tb.Fatal(err)
		}
	}
	if dir != "" {
		// Files become 0644 and folders 0755 (under the usual umask).
		if err := os.CopyFS(s.docs, os.DirFS(dir)); err != nil {
			tb.Fatalf("copying %s to serve it: %v", dir, err)
		}
	}
	kt, err := os.ReadFile(kdc.AddService(tb, "HTTP/localhost"))
	if err != nil {
		tb.Fatal(err)
	}
	keytab := filepath.Join(root, "http.keytab")
	writeOwned(tb, keytab, kt, uid, gid)
	conf, err := os.ReadFile(kdc.Config())
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "krb5.conf"), conf, 0o644); err != nil {
		tb.Fatal(err)
	}
	s.cert, _ = SelfSigned(tb, s.root) // key.pem beside it, as config names it
	if s.certBytes, err = os.ReadFile(s.cert); err != nil {
		tb.Fatal(err)
	}

	env := append(os.Environ(),
		"KRB5_CONFIG="+filepath.Join(root, "krb5.conf"),
		"KRB5RCACHEDIR="+filepath.Join(root, "rcache"))
	// Free ports may be taken between our look and Apache's bind: then
	// Apache exits, and other ports are tried.
	var lastOut string
	for range 3 {
		s.port, s.tlsPort = freePort(tb), freePort(tb)
		if s.port == s.tlsPort {
			continue
		}
		confPath := filepath.Join(root, "httpd.conf")
		if err := os.WriteFile(confPath, []byte(s.config(keytab)), 0o644); err != nil {
			tb.Fatal(err)
		}
		os.Remove(filepath.Join(root, "error.log"))
		var out SyncBuffer
		cmd := exec.Command(bin, "-DFOREGROUND", "-f", confPath)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = &out, &out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			tb.Fatalf("apache2: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		if waitListening(s.addr(s.port), exited) && waitListening(s.addr(s.tlsPort), exited) {
			tb.Cleanup(func() { stopGroup(tb, cmd, exited, syscall.SIGTERM) })
			return s
		}
		stopGroup(tb, cmd, exited, syscall.SIGTERM)
		lastOut = out.String() + s.file("error.log")
	}
	tb.Fatalf("apache2 did not start:\n%s", lastOut)
	return nil
}

// apacheLog is the access log's format: the port that took the request
// (HTTP or HTTPS), method, path, user (- when none) and status.
const apacheLog = `%{local}p %m %U %u %>s`

func (s *NegotiateServer) config(keytab string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ServerRoot %s\nServerName localhost\n", s.root)
	fmt.Fprintf(&b, "Listen 127.0.0.1:%d\nListen 127.0.0.1:%d\n", s.port, s.tlsPort)
	for _, m := range []string{"mpm_event", "authz_core", "authz_user", "authn_core", "auth_gssapi", "mime", "dir", "ssl", "socache_shmcb", "setenvif"} {
		fmt.Fprintf(&b, "LoadModule %s_module %s/mod_%s.so\n", m, apacheModules, m)
	}
	fmt.Fprintf(&b, "User %s\nGroup %s\n", apacheUser, apacheUser)
	for _, kv := range [][2]string{
		{"PidFile", filepath.Join(s.root, "httpd.pid")},
		{"DefaultRuntimeDir", filepath.Join(s.root, "run")},
		{"Mutex", "file:" + filepath.Join(s.root, "run") + " default"},
		{"ErrorLog", filepath.Join(s.root, "error.log")},
		{"LogLevel", "warn auth_gssapi:info"},
		{"LogFormat", fmt.Sprintf("%q bits", apacheLog)},
		{"CustomLog", filepath.Join(s.root, "access.log") + " bits"},
		{"TypesConfig", "/etc/mime.types"},
		{"StartServers", "1"},
		{"ServerLimit", "1"},
		{"ThreadsPerChild", "16"},
		{"MaxRequestWorkers", "16"},
		{"KeepAlive", "On"},
		{"SSLSessionCache", "shmcb:" + filepath.Join(s.root, "run", "ssl_scache") + "(512000)"},
		{"DocumentRoot", s.docs},
	} {
		fmt.Fprintf(&b, "%s %s\n", kv[0], kv[1])
	}
	fmt.Fprintf(&b, `<Directory />
  Require all denied
  AllowOverride None
</Directory>
<Directory %s>
  AuthType GSSAPI
  AuthName "bits"
  GssapiCredStore keytab:%s
  GssapiAcceptorName HTTP@localhost
  GssapiAllowedMech krb5
  GssapiBasicAuth Off
  GssapiLocalName Off
  Require valid-user
</Directory>
<VirtualHost 127.0.0.1:%d>
  SSLEngine on
  SSLCertificateFile %s
  SSLCertificateKeyFile %s
</VirtualHost>
`, s.docs, keytab, s.tlsPort, s.cert, filepath.Join(s.root, "key.pem"))
	return b.String()
}

// SelfSigned writes a TLS certificate for localhost and 127.0.0.1, its
// own CA, valid for a day, to dir: cert.pem (0644) and key.pem (0600, so
// only root reads it: servers load it before they drop privileges).
func SelfSigned(tb testing.TB, dir string) (certFile, keyFile string) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return certFile, keyFile
}

// lookFile checks that a file a server loads (a module) exists; when it
// is missing the test is skipped, or fails under CI.
func lookFile(tb testing.TB, path, debPackage string) {
	tb.Helper()
	if _, err := os.Stat(path); err != nil {
		missing(tb, fmt.Sprintf("%s is not installed (Debian: apt-get install %s)", path, debPackage))
	}
}

func (s *NegotiateServer) addr(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}

// URL is the server's HTTP root, named localhost so that a client asks
// for a ticket to HTTP/localhost.
func (s *NegotiateServer) URL() string { return "http://localhost:" + strconv.Itoa(s.port) }

// TLSURL is the server's HTTPS root, named localhost.
func (s *NegotiateServer) TLSURL() string { return "https://localhost:" + strconv.Itoa(s.tlsPort) }

// CertFile is the path of the HTTPS certificate (PEM), which is its own
// CA: a client trusts the server with it (curl --cacert).
func (s *NegotiateServer) CertFile() string { return s.cert }

// TLSConfig returns a config that trusts the HTTPS certificate.
func (s *NegotiateServer) TLSConfig() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.certBytes)
	return &tls.Config{RootCAs: pool}
}

// WriteFile writes a file the server serves at /name.
func (s *NegotiateServer) WriteFile(tb testing.TB, name string, data []byte) {
	tb.Helper()
	p := filepath.Join(s.docs, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// Requests returns the requests Apache logged so far, oldest first. It
// logs a request once it has answered it, so one a client has just seen
// answered may take a moment to appear: poll with Eventually.
func (s *NegotiateServer) Requests() []ServerRequest {
	var out []ServerRequest
	sc := bufio.NewScanner(strings.NewReader(s.file("access.log")))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 5 {
			continue
		}
		r := ServerRequest{TLS: f[0] == strconv.Itoa(s.tlsPort), Method: f[1], Path: f[2]}
		if f[3] != "-" {
			r.User = f[3]
		}
		r.Status, _ = strconv.Atoi(f[4])
		out = append(out, r)
	}
	return out
}

// Log returns Apache's error log, where mod_auth_gssapi says why it
// refused a client.
func (s *NegotiateServer) Log() string { return s.file("error.log") }

func (s *NegotiateServer) file(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.root, name))
	return string(b)
}
