package testenv

// This file runs a real tinyproxy on a loopback high port, with its
// configuration and log in the test's temporary folder, and reads its log
// to tell which requests went through it.

import (
	"bufio"
	"bytes"
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

// A Proxy is a running tinyproxy on 127.0.0.1. The test's cleanup stops it.
type Proxy struct {
	port int
	log  string
}

// ProxyRequest is one request a proxy logged: "GET" and an absolute URL
// for plain HTTP, "CONNECT" and host:port for an HTTPS tunnel. tinyproxy
// logs neither user nor status: they are left empty for it.
type ProxyRequest struct {
	Method string
	Target string
	User   string // the authenticated user (squid); "" for none
	Status int    // the status the proxy answered (squid)
}

type proxyConfig struct {
	user, password string
	connectPorts   []int
}

// A ProxyOption configures a Proxy.
type ProxyOption func(*proxyConfig)

// ProxyBasicAuth makes the proxy require Basic authentication with this
// user and password (tinyproxy's BasicAuth).
func ProxyBasicAuth(user, password string) ProxyOption {
	return func(c *proxyConfig) { c.user, c.password = user, password }
}

// ProxyConnectPorts lists the ports CONNECT may reach (tinyproxy's
// ConnectPort); without it tinyproxy allows every port.
func ProxyConnectPorts(ports ...int) ProxyOption {
	return func(c *proxyConfig) { c.connectPorts = append(c.connectPorts, ports...) }
}

// StartProxy starts tinyproxy for the test. Without tinyproxy the test is
// skipped, or fails when the CI environment variable is set.
func StartProxy(tb testing.TB, opts ...ProxyOption) *Proxy {
	tb.Helper()
	bin := lookTool(tb, "tinyproxy", "tinyproxy")
	var cfg proxyConfig
	for _, o := range opts {
		o(&cfg)
	}
	dir := tb.TempDir()
	// A free port may be taken between our look and tinyproxy's bind:
	// then tinyproxy exits, and another port is tried.
	var lastOut string
	for range 3 {
		p := &Proxy{port: freePort(tb), log: filepath.Join(dir, "tinyproxy.log")}
		conf := filepath.Join(dir, "tinyproxy.conf")
		if err := os.WriteFile(conf, []byte(p.config(cfg)), 0o600); err != nil {
			tb.Fatal(err)
		}
		os.Remove(p.log)
		var out bytes.Buffer
		cmd := exec.Command(bin, "-d", "-c", conf)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			tb.Fatalf("tinyproxy: %v", err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		if waitListening(p.Addr(), exited) {
			tb.Cleanup(func() { stopProcess(cmd, exited) })
			return p
		}
		stopProcess(cmd, exited)
		lastOut = out.String() + p.logText()
	}
	tb.Fatalf("tinyproxy did not start:\n%s", lastOut)
	return nil
}

func (p *Proxy) config(c proxyConfig) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Port %d\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 60\nMaxClients 64\n", p.port)
	fmt.Fprintf(&b, "LogFile %q\nLogLevel Connect\n", p.log)
	for _, port := range c.connectPorts {
		fmt.Fprintf(&b, "ConnectPort %d\n", port)
	}
	if c.user != "" {
		fmt.Fprintf(&b, "BasicAuth %s %s\n", c.user, c.password)
	}
	return b.String()
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// URL is the proxy as an http URL.
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Requests returns the requests the proxy received so far, oldest first,
// refused ones included. tinyproxy logs a request as soon as it has read
// its first line, before it answers, so a request that got an answer is
// in the log.
func (p *Proxy) Requests() []ProxyRequest {
	var out []ProxyRequest
	sc := bufio.NewScanner(strings.NewReader(p.logText()))
	for sc.Scan() {
		// CONNECT   Nov 25 04:50:21.922 [16897]: Request (file descriptor 5): GET http://127.0.0.1:1/x HTTP/1.1
		_, line, ok := strings.Cut(sc.Text(), "]: Request (file descriptor ")
		if !ok {
			continue
		}
		_, line, _ = strings.Cut(line, "): ")
		if f := strings.Fields(line); len(f) == 3 {
			out = append(out, ProxyRequest{Method: f[0], Target: f[1]})
		}
	}
	return out
}

func (p *Proxy) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// DeadAddr returns a loopback host:port where nothing listens, for a proxy
// that cannot be connected to.
func DeadAddr(tb testing.TB) string {
	tb.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(tb)))
}

// waitListening polls addr until it accepts a connection, the process
// exits, or ten seconds pass.
func waitListening(addr string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// stopProcess asks cmd's process to stop, and kills it if it has not
// within five seconds.
func stopProcess(cmd *exec.Cmd, exited <-chan struct{}) {
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-exited
	}
}

// lookTool finds a program on PATH or in the sbin folders; when it is
// missing the test is skipped, or fails under CI.
func lookTool(tb testing.TB, name, debPackage string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	missing(tb, fmt.Sprintf("%s is not installed (Debian: apt-get install %s)", name, debPackage))
	return ""
}
