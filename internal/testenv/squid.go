package testenv

// This file runs a real squid as a forward proxy on a loopback high port,
// so that proxy authentication is checked by a proxy that is not ours:
// Basic (basic_ncsa_auth), Digest (digest_file_auth), NTLM (Samba's
// ntlm_auth with a private winbindd, as in ntlm.go) and Negotiate
// (negotiate_kerberos_auth with a keytab from a KDC), one or several at
// once, offered in the order given.
//
// squid started as root runs as cache_effective_user, and so do its
// helpers: everything they read or write is in a folder that account owns
// (ownedDir), outside the test's temporary folder, which only root may
// enter.
//
// squid forwards to loopback addresses only (any port, CONNECT included):
// anything else gets 403 before a credential is asked for, so no test
// reaches beyond the machine through it.

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"fmt"
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

// squidUser is the account squid runs as; Debian's squid package makes it.
const squidUser = "proxy"

// squidRealm is the realm squid names in its Basic and Digest challenges.
const squidRealm = "bits-squid"

// A Squid is a running squid on 127.0.0.1. The test's cleanup stops it.
type Squid struct {
	dir          string
	port         int
	ntlmPassword string
}

type squidConfig struct {
	schemes []squidScheme
}

// squidScheme is one auth_param scheme and the files its helper needs.
type squidScheme struct {
	name           string // basic, digest, ntlm, negotiate
	user, password string
	kdc            *KDC
}

// A SquidOption configures a Squid.
type SquidOption func(*squidConfig)

// SquidBasic makes the proxy offer Basic and accept user with password,
// checked by basic_ncsa_auth against an htpasswd file (an apr1 hash).
func SquidBasic(user, password string) SquidOption {
	return func(c *squidConfig) {
		c.schemes = append(c.schemes, squidScheme{name: "basic", user: user, password: password})
	}
}

// SquidDigest makes the proxy offer Digest and accept user with password,
// checked by digest_file_auth against a plain user:password file.
func SquidDigest(user, password string) SquidOption {
	return func(c *squidConfig) {
		c.schemes = append(c.schemes, squidScheme{name: "digest", user: user, password: password})
	}
}

// SquidNTLM makes the proxy offer NTLM for NTLMDomain\NTLMAccount, whose
// password NTLMPassword returns: ntlm_auth checks the handshake, backed
// by a private winbindd in a mount namespace that squid shares.
func SquidNTLM() SquidOption {
	return func(c *squidConfig) { c.schemes = append(c.schemes, squidScheme{name: "ntlm"}) }
}

// SquidNegotiate makes the proxy offer Negotiate (Kerberos) as
// HTTP/localhost in kdc's realm: clients must name the proxy localhost
// (LocalhostURL) to ask for a ticket to that service.
func SquidNegotiate(kdc *KDC) SquidOption {
	return func(c *squidConfig) { c.schemes = append(c.schemes, squidScheme{name: "negotiate", kdc: kdc}) }
}

// StartSquid starts squid for the test. It needs root (squid drops to the
// proxy account; NTLM needs a mount namespace) and squid itself: without
// them the test is skipped, or fails when the CI environment variable is
// set.
func StartSquid(tb testing.TB, opts ...SquidOption) *Squid {
	tb.Helper()
	if os.Geteuid() != 0 {
		missing(tb, "squid as a test proxy needs root")
	}
	bin := lookTool(tb, "squid", "squid")
	var cfg squidConfig
	for _, o := range opts {
		o(&cfg)
	}
	dir, uid, gid := ownedDir(tb, squidUser)
	s := &Squid{dir: dir}
	env := os.Environ()
	var auth strings.Builder
	ntlm := false
	for _, sc := range cfg.schemes {
		switch sc.name {
		case "basic":
			helper := lookTool(tb, "/usr/lib/squid/basic_ncsa_auth", "squid")
			file := filepath.Join(dir, "basic.passwd")
			writeOwned(tb, file, []byte(sc.user+":"+apr1(sc.password, randomHex(tb, 4))+"\n"), uid, gid)
			fmt.Fprintf(&auth, "auth_param basic program %s %s\nauth_param basic realm %s\nauth_param basic children 2\n", helper, file, squidRealm)
		case "digest":
			helper := lookTool(tb, "/usr/lib/squid/digest_file_auth", "squid")
			file := filepath.Join(dir, "digest.passwd")
			writeOwned(tb, file, []byte(sc.user+":"+sc.password+"\n"), uid, gid)
			fmt.Fprintf(&auth, "auth_param digest program %s %s\nauth_param digest realm %s\nauth_param digest children 2\n", helper, file, squidRealm)
		case "ntlm":
			ntlm = true
			helper := lookTool(tb, "ntlm_auth", "winbind")
			fmt.Fprintf(&auth, "auth_param ntlm program %s --helper-protocol=squid-2.5-ntlmssp --configfile=%s\nauth_param ntlm children 2\nauth_param ntlm keep_alive on\n",
				helper, filepath.Join(dir, "samba", "smb.conf"))
		case "negotiate":
			helper := lookTool(tb, "/usr/lib/squid/negotiate_kerberos_auth", "squid")
			keytab := filepath.Join(dir, "http.keytab")
			kt, err := os.ReadFile(sc.kdc.AddService(tb, "HTTP/localhost"))
			if err != nil {
				tb.Fatal(err)
			}
			writeOwned(tb, keytab, kt, uid, gid)
			conf, err := os.ReadFile(sc.kdc.Config())
			if err != nil {
				tb.Fatal(err)
			}
			writeOwned(tb, filepath.Join(dir, "krb5.conf"), conf, uid, gid)
			rcache := filepath.Join(dir, "rcache")
			if err := os.Mkdir(rcache, 0o700); err != nil {
				tb.Fatal(err)
			}
			if err := os.Chown(rcache, uid, gid); err != nil {
				tb.Fatal(err)
			}
			// squid hands its environment to its helpers.
			env = append(env, "KRB5_CONFIG="+filepath.Join(dir, "krb5.conf"), "KRB5_KTNAME=FILE:"+keytab, "KRB5RCACHEDIR="+rcache)
			fmt.Fprintf(&auth, "auth_param negotiate program %s -k %s -s HTTP/localhost@%s\nauth_param negotiate children 2\nauth_param negotiate keep_alive on\n",
				helper, keytab, sc.kdc.Realm())
		}
	}

	var run []string
	if ntlm {
		unshare := lookTool(tb, "unshare", "util-linux")
		winbindd := lookTool(tb, "winbindd", "winbind")
		smbpasswd := lookTool(tb, "smbpasswd", "samba-common-bin")
		sdir := filepath.Join(dir, "samba")
		if err := os.Mkdir(sdir, 0o755); err != nil {
			tb.Fatal(err)
		}
		var conf string
		conf, s.ntlmPassword = ntlmPassdb(tb, sdir, smbpasswd)
		run = []string{unshare, "--mount", "--propagation", "private", "sh", "-c", runSquidNTLM, "squid-ntlm"}
		env = append(env, "WINBINDD="+winbindd, "CONF="+conf, "DIR="+sdir, "SQUID_GID="+strconv.Itoa(gid))
	}

	// A free port may be taken between our look and squid's bind: then
	// squid exits, and another port is tried.
	var lastOut string
	for range 3 {
		s.port = freePort(tb)
		conf := filepath.Join(dir, "squid.conf")
		if err := os.WriteFile(conf, []byte(s.config(auth.String(), len(cfg.schemes) > 0)), 0o644); err != nil {
			tb.Fatal(err)
		}
		os.Remove(filepath.Join(dir, "cache.log"))
		var out SyncBuffer
		args := append(run, bin, "-N", "-d1", "-f", conf)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = &out, &out
		// The script, winbindd, squid and its helpers form one group, so
		// that the cleanup ends them all.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			tb.Fatalf("squid: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		// squid's orderly shutdown takes two seconds of its event loop,
		// however short shutdown_lifetime is, and it keeps nothing a test
		// needs (its logs are not buffered): it is killed.
		if waitListening(s.Addr(), exited) {
			tb.Cleanup(func() { stopGroup(tb, cmd, exited, syscall.SIGKILL) })
			return s
		}
		stopGroup(tb, cmd, exited, syscall.SIGKILL)
		lastOut = out.String() + s.file("cache.log") + s.file("samba/winbindd.log")
	}
	tb.Fatalf("squid did not start:\n%s", lastOut)
	return nil
}

// runSquidNTLM starts the private winbindd, lets squid's account reach
// its privileged socket (ntlm_auth needs it to check answers), and
// becomes squid, which then shares the private /run/samba with its
// helpers.
const runSquidNTLM = startWinbindd + `chmod 0711 "$DIR/state"
chgrp "$SQUID_GID" "$DIR/state/winbindd_privileged"
exec "$@"
`

// squidLog is the access log's format: method, URL (host:port for
// CONNECT), user (- when none) and the status squid answered.
const squidLog = "%rm %ru %un %>Hs"

func (s *Squid) config(auth string, authenticate bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "http_port 127.0.0.1:%d\n", s.port)
	fmt.Fprintf(&b, "cache_effective_user %s\n", squidUser)
	fmt.Fprintf(&b, "pid_filename %s\n", filepath.Join(s.dir, "squid.pid"))
	fmt.Fprintf(&b, "cache_log %s\n", filepath.Join(s.dir, "cache.log"))
	fmt.Fprintf(&b, "logformat bits %s\naccess_log stdio:%s bits\n", squidLog, filepath.Join(s.dir, "access.log"))
	fmt.Fprintf(&b, "coredump_dir %s\n", s.dir)
	b.WriteString(`cache deny all
cache_mem 8 MB
cache_store_log none
shutdown_lifetime 0 seconds
pinger_enable off
icp_port 0
htcp_port 0
snmp_port 0
via on
forwarded_for on
visible_hostname localhost
hosts_file /etc/hosts
acl localhost src 127.0.0.1/32
acl loopback dst 127.0.0.0/8
acl Safe_ports port 1-65535
acl SSL_ports port 1-65535
acl CONNECT method CONNECT
http_access deny !loopback
http_access deny !Safe_ports
http_access deny CONNECT !SSL_ports
`)
	b.WriteString(auth)
	if authenticate {
		b.WriteString("acl authenticated proxy_auth REQUIRED\nhttp_access allow localhost authenticated\n")
	} else {
		b.WriteString("http_access allow localhost\n")
	}
	b.WriteString("http_access deny all\n")
	return b.String()
}

// stopGroup stops a process group: sig to all of it, SIGKILL to what is
// left after five seconds, and a wait until none of it runs.
func stopGroup(tb testing.TB, cmd *exec.Cmd, exited <-chan struct{}, sig syscall.Signal) {
	pgid := cmd.Process.Pid
	syscall.Kill(-pgid, sig)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
	}
	deadline := time.Now().Add(5 * time.Second)
	for groupAlive(pgid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(-pgid, syscall.SIGKILL)
	<-exited
	Eventually(tb, "the processes of group "+strconv.Itoa(pgid)+" to exit", func() bool { return !groupAlive(pgid) })
}

// Addr is the proxy's host:port.
func (s *Squid) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the proxy as an http URL with its address.
func (s *Squid) URL() string { return "http://" + s.Addr() }

// LocalhostURL is the proxy as an http URL named localhost, which a
// Negotiate client turns into the service name HTTP/localhost.
func (s *Squid) LocalhostURL() string { return "http://localhost:" + strconv.Itoa(s.port) }

// NTLMPassword is the password of NTLMDomain\NTLMAccount for SquidNTLM.
func (s *Squid) NTLMPassword() string { return s.ntlmPassword }

// Requests returns the requests squid logged so far, oldest first, with
// the user they were authenticated as and the status squid answered (407
// for a refused or missing credential). squid logs a request when it is
// done with it, so an answer the client has read may take a moment to
// appear: poll with Eventually.
func (s *Squid) Requests() []ProxyRequest {
	var out []ProxyRequest
	sc := bufio.NewScanner(strings.NewReader(s.file("access.log")))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// A connection closed before a request (the start-up check that
		// squid listens) is logged with method "-".
		if len(f) != 4 || f[0] == "-" {
			continue
		}
		r := ProxyRequest{Method: f[0], Target: f[1]}
		if f[2] != "-" {
			r.User = f[2]
		}
		r.Status, _ = strconv.Atoi(f[3])
		out = append(out, r)
	}
	return out
}

// Log returns squid's cache.log, where it reports its helpers' troubles.
func (s *Squid) Log() string { return s.file("cache.log") }

func (s *Squid) file(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.dir, name))
	return string(b)
}

// apr1 is Apache's MD5-crypt of password with salt (up to 8 characters of
// ./0-9A-Za-z), "$apr1$salt$hash", which basic_ncsa_auth accepts.
func apr1(password, salt string) string {
	const magic = "$apr1$"
	pw := []byte(password)
	alt := md5.Sum(bytes.Join([][]byte{pw, []byte(salt), pw}, nil))
	h := md5.New()
	h.Write(pw)
	h.Write([]byte(magic + salt))
	for i := len(pw); i > 0; i -= 16 {
		h.Write(alt[:min(i, 16)])
	}
	for i := len(pw); i > 0; i >>= 1 {
		if i&1 != 0 {
			h.Write([]byte{0})
		} else {
			h.Write(pw[:1])
		}
	}
	final := h.Sum(nil)
	for i := range 1000 {
		h := md5.New()
		if i&1 != 0 {
			h.Write(pw)
		} else {
			h.Write(final)
		}
		if i%3 != 0 {
			h.Write([]byte(salt))
		}
		if i%7 != 0 {
			h.Write(pw)
		}
		if i&1 != 0 {
			h.Write(final)
		} else {
			h.Write(pw)
		}
		final = h.Sum(nil)
	}
	const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var b strings.Builder
	b.WriteString(magic + salt + "$")
	put := func(v uint32, n int) {
		for range n {
			b.WriteByte(itoa64[v&0x3f])
			v >>= 6
		}
	}
	for _, g := range [][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}} {
		put(uint32(final[g[0]])<<16|uint32(final[g[1]])<<8|uint32(final[g[2]]), 4)
	}
	put(uint32(final[11]), 2)
	return b.String()
}
