package testenv

// This file runs a real MIT Kerberos KDC on a loopback high port with a
// realm of its own, so that Negotiate clients and servers are checked with
// real tickets. Its configuration, database, stash and log live in the
// test's temporary folder; nothing of the machine's Kerberos is read.
//
// Services are named after the host "localhost", which resolves to
// 127.0.0.1 only here (see /etc/hosts): tests reach the servers as
// localhost:PORT, so a client derives the SPN HTTP/localhost, and every
// server listens on 127.0.0.1.

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// KDCRealm is the realm of every KDC the tests start.
const KDCRealm = "BITS.TEST"

// A KDC is a running krb5kdc on 127.0.0.1. The test's cleanup stops it.
type KDC struct {
	dir     string
	port    int
	conf    string // the clients' krb5.conf
	profile string // kdc.conf
	kadmin  string
	kinit   string
	klist   string
	keytabs map[string]string // by service principal
}

// StartKDC creates a realm and starts its KDC for the test. Without MIT
// Kerberos (krb5-kdc, krb5-admin-server, krb5-user) the test is skipped,
// or fails when the CI environment variable is set.
func StartKDC(tb testing.TB) *KDC {
	tb.Helper()
	krb5kdc := lookTool(tb, "krb5kdc", "krb5-kdc")
	kdb5util := lookTool(tb, "kdb5_util", "krb5-kdc")
	k := &KDC{
		dir:    tb.TempDir(),
		kadmin: lookTool(tb, "kadmin.local", "krb5-admin-server"),
		kinit:  lookTool(tb, "kinit", "krb5-user"),
		klist:  lookTool(tb, "klist", "krb5-user"),

		keytabs: map[string]string{},
	}
	k.conf = filepath.Join(k.dir, "krb5.conf")
	k.profile = filepath.Join(k.dir, "kdc.conf")
	k.write(tb, "kadm5.acl", "")
	// The database does not depend on the port, so it is made once, with
	// a master password that is thrown away (the stash file unlocks it).
	k.port = freePort(tb)
	k.writeConfig(tb)
	k.run(tb, kdb5util, "-r", KDCRealm, "create", "-s", "-P", "Mk-"+randomHex(tb, 16))

	// A free port may be taken between our look and the KDC's bind: then
	// krb5kdc exits, and another port is tried.
	var lastOut string
	for try := range 3 {
		if try > 0 {
			k.port = freePort(tb)
			k.writeConfig(tb)
		}
		var out bytes.Buffer
		cmd := exec.Command(krb5kdc, "-n", "-r", KDCRealm, "-P", filepath.Join(k.dir, "kdc.pid"))
		cmd.Env = k.adminEnv()
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			tb.Fatalf("krb5kdc: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		if waitListening(k.addr(), exited) {
			tb.Cleanup(func() { stopProcess(cmd, exited) })
			return k
		}
		stopProcess(cmd, exited)
		log, _ := os.ReadFile(filepath.Join(k.dir, "kdc.log"))
		lastOut = out.String() + string(log)
	}
	tb.Fatalf("krb5kdc did not start:\n%s", lastOut)
	return nil
}

// writeConfig writes the KDC's profile and the clients' krb5.conf for the
// current port. The KDC answers on TCP only; clients are told to use TCP
// and never to ask DNS, so nothing leaves the loopback.
func (k *KDC) writeConfig(tb testing.TB) {
	tb.Helper()
	addr := k.addr()
	k.write(tb, "kdc.conf", fmt.Sprintf(`[kdcdefaults]
 kdc_listen = ""
 kdc_tcp_listen = %[3]s
[realms]
 %[1]s = {
  database_name = %[2]s/principal
  key_stash_file = %[2]s/stash
  acl_file = %[2]s/kadm5.acl
  kdc_listen = ""
  kdc_tcp_listen = %[3]s
  max_life = 1h
  max_renewable_life = 0
 }
[logging]
 kdc = FILE:%[2]s/kdc.log
 default = FILE:%[2]s/kdc.log
`, KDCRealm, k.dir, addr))
	k.write(tb, "krb5.conf", fmt.Sprintf(`[libdefaults]
 default_realm = %[1]s
 dns_lookup_kdc = false
 dns_lookup_realm = false
 rdns = false
 dns_canonicalize_hostname = false
 udp_preference_limit = 1
[realms]
 %[1]s = {
  kdc = %[2]s
 }
[domain_realm]
 localhost = %[1]s
 127.0.0.1 = %[1]s
`, KDCRealm, addr))
}

func (k *KDC) write(tb testing.TB, name, text string) {
	tb.Helper()
	if err := os.WriteFile(filepath.Join(k.dir, name), []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// adminEnv is the environment of the KDC's own tools: the private
// profile and krb5.conf, never the machine's.
func (k *KDC) adminEnv() []string {
	return append(os.Environ(), "KRB5_CONFIG="+k.conf, "KRB5_KDC_PROFILE="+k.profile)
}

// run runs a Kerberos tool with the private configuration and fails the
// test with its output if it fails.
func (k *KDC) run(tb testing.TB, bin string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = k.adminEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// kadminQuery runs one kadmin.local request on the realm's database.
func (k *KDC) kadminQuery(tb testing.TB, query string) {
	tb.Helper()
	out := k.run(tb, k.kadmin, "-r", KDCRealm, "-q", query)
	// kadmin.local reports some failures on its output with status 0.
	if strings.Contains(out, "while ") || strings.Contains(out, "error") {
		tb.Fatalf("kadmin.local -q %q:\n%s", query, out)
	}
}

func (k *KDC) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(k.port)) }

// Realm is the KDC's realm.
func (k *KDC) Realm() string { return KDCRealm }

// Config is the path of the krb5.conf a client of the realm needs.
func (k *KDC) Config() string { return k.conf }

// Env is what a client process adds to its environment to use the realm:
// KRB5_CONFIG, and nothing else, so the caller still picks its own
// credential cache (KRB5CCNAME) and keytab (KRB5_KTNAME).
func (k *KDC) Env() []string { return []string{"KRB5_CONFIG=" + k.conf} }

// AddUser creates the principal name@Realm() with a random password, and
// returns the password.
func (k *KDC) AddUser(tb testing.TB, name string) (password string) {
	tb.Helper()
	password = "Pw-" + randomHex(tb, 8)
	k.kadminQuery(tb, fmt.Sprintf("addprinc -pw %s %s", password, name))
	return password
}

// AddService creates the service principal spn (e.g. "HTTP/localhost")
// with a random key and returns the path of a keytab that holds its keys.
// Asked again for the same spn (a proxy and a server both on localhost),
// it returns the same keytab, as new keys would void the first one. The
// file is root's, mode 0600: a server that drops its privileges reads a
// copy of its own (see writeOwned).
func (k *KDC) AddService(tb testing.TB, spn string) (keytab string) {
	tb.Helper()
	if kt, ok := k.keytabs[spn]; ok {
		return kt
	}
	keytab = filepath.Join(k.dir, fmt.Sprintf("service%d.keytab", len(k.keytabs)+1))
	k.kadminQuery(tb, "addprinc -randkey "+spn)
	k.kadminQuery(tb, fmt.Sprintf("ktadd -k %s %s", keytab, spn))
	k.keytabs[spn] = keytab
	return keytab
}

// Kinit gets a ticket-granting ticket for user into the credential cache
// file ccache with the real kinit (which reads the password from its
// standard input when that is not a terminal), and checks with klist -s
// that the cache holds a valid ticket.
func (k *KDC) Kinit(tb testing.TB, user, password, ccache string) {
	tb.Helper()
	env := append(os.Environ(), append(k.Env(), "KRB5CCNAME=FILE:"+ccache)...)
	cmd := exec.Command(k.kinit, user)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(k.dir, "kdc.log"))
		tb.Fatalf("kinit %s: %v\n%s\nKDC log:\n%s", user, err, out, log)
	}
	check := exec.Command(k.klist, "-s")
	check.Env = env
	if err := check.Run(); err != nil {
		tb.Fatalf("klist -s after kinit %s: %v", user, err)
	}
}
