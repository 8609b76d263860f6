package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A Link is a server and a client in network namespaces of their own,
// with a router between them in a third: server 10.77.1.1, client
// 10.77.2.1. Traffic from the server to the client (downloads) goes through
// a tbf bottleneck on the router's side toward the client, and uploads
// through one toward the server when asked for. With the bottleneck on a
// router, as on a real path, a sender's own queue limits (TCP small
// queues) do not hide how deep its queue grows. Tests run programs on
// either side with Command; the worker that a front end starts on the
// client side lives there too.
type Link struct {
	Server, Router, Client string // namespace names
	ServerIP, ClientIP     string
	Mbit                   int // the bottleneck's rate; 0: none
	clientIf, routerIf     string
}

// LinkOptions shape a Link's bottleneck.
type LinkOptions struct {
	// Mbit is the bottleneck's rate in Mbit/s (10^6 bits).
	Mbit int
	// Queue is how long the bottleneck's FIFO may make a packet wait
	// (tbf's latency): a deep queue shows what a transfer does to other
	// traffic's delay.
	Queue time.Duration
	// Upload also shapes the way to the server.
	Upload bool
	// Congestion is the server's TCP congestion control, "" for the
	// system's. Most servers run cubic, which fills a deep queue; a
	// system that defaults to bbr must first allow cubic in new
	// namespaces, which NewLink does and undoes when the test ends.
	Congestion string
}

var linkCount atomic.Int32

// NewLink makes a Link, and removes it (with every process still in its
// namespaces) when the test ends. It needs root and iproute2: without them
// the test is skipped, or fails under CI.
func NewLink(tb testing.TB, o LinkOptions) *Link {
	tb.Helper()
	if os.Geteuid() != 0 {
		missing(tb, "network namespaces need root")
	}
	for _, tool := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(tb, tool+" is not installed (Debian: apt-get install iproute2)")
		}
	}
	n := linkCount.Add(1)
	id := fmt.Sprintf("b%d-%d", os.Getpid()%100000, n)
	l := &Link{Server: id + "s", Router: id + "r", Client: id + "c", ServerIP: "10.77.1.1", ClientIP: "10.77.2.1",
		Mbit: o.Mbit, clientIf: "vc" + id, routerIf: "rc" + id}
	tb.Cleanup(l.remove)
	run := func(args ...string) {
		tb.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			tb.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	serverIf, routerServerIf := "vs"+id, "rs"+id
	for _, ns := range []string{l.Server, l.Router, l.Client} {
		run("netns", "add", ns)
		run("-n", ns, "link", "set", "lo", "up")
	}
	for _, pair := range [][4]string{
		{serverIf, l.Server, routerServerIf, l.Router},
		{l.clientIf, l.Client, l.routerIf, l.Router},
	} {
		run("link", "add", pair[0], "type", "veth", "peer", "name", pair[2])
		run("link", "set", pair[0], "netns", pair[1])
		run("link", "set", pair[2], "netns", pair[3])
		run("-n", pair[1], "link", "set", pair[0], "up")
		run("-n", pair[3], "link", "set", pair[2], "up")
	}
	run("-n", l.Server, "addr", "add", l.ServerIP+"/24", "dev", serverIf)
	run("-n", l.Router, "addr", "add", "10.77.1.2/24", "dev", routerServerIf)
	run("-n", l.Router, "addr", "add", "10.77.2.2/24", "dev", l.routerIf)
	run("-n", l.Client, "addr", "add", l.ClientIP+"/24", "dev", l.clientIf)
	run("-n", l.Server, "route", "add", "10.77.2.0/24", "via", "10.77.1.2")
	run("-n", l.Client, "route", "add", "10.77.1.0/24", "via", "10.77.2.2")
	l.sysctl(tb, l.Router, "net.ipv4.ip_forward=1")
	if o.Congestion != "" {
		allowCongestion(tb, o.Congestion)
		l.sysctl(tb, l.Server, "net.ipv4.tcp_congestion_control="+o.Congestion)
	}
	if o.Mbit > 0 {
		l.shape(tb, l.routerIf, o)
		if o.Upload {
			l.shape(tb, routerServerIf, o)
		}
	}
	return l
}

func (l *Link) sysctl(tb testing.TB, ns, setting string) {
	tb.Helper()
	if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", setting).CombinedOutput(); err != nil {
		tb.Fatalf("sysctl %s in %s: %v\n%s", setting, ns, err, out)
	}
}

// allowCongestion adds cc to the congestion controls that new network
// namespaces may use, until the test ends.
func allowCongestion(tb testing.TB, cc string) {
	tb.Helper()
	const path = "/proc/sys/net/ipv4/tcp_allowed_congestion_control"
	old, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	allowed := strings.Fields(string(old))
	for _, a := range allowed {
		if a == cc {
			return
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(append(allowed, cc), " ")), 0o644); err != nil {
		tb.Fatalf("allowing %s: %v", cc, err)
	}
	tb.Cleanup(func() { os.WriteFile(path, old, 0o644) })
}

// shape puts a tbf bottleneck on a router interface's egress.
func (l *Link) shape(tb testing.TB, dev string, o LinkOptions) {
	tb.Helper()
	queue := o.Queue
	if queue <= 0 {
		queue = 50 * time.Millisecond
	}
	args := []string{"netns", "exec", l.Router, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
		"rate", fmt.Sprintf("%dmbit", o.Mbit), "burst", "32kb", "latency", fmt.Sprintf("%dms", queue.Milliseconds())}
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		tb.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Command returns a command that runs in namespace ns (l.Server or
// l.Client).
func (l *Link) Command(ns string, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// CommandContext is Command with a context that kills the command.
func (l *Link) CommandContext(ctx context.Context, ns string, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// SetClientLink takes the client's interface down or up: down, the
// client has no route to the server; up again, the route is back (the
// kernel drops a route through an interface that goes down, so it is
// added again, as a network manager would).
func (l *Link) SetClientLink(tb testing.TB, up bool) {
	tb.Helper()
	args := [][]string{{"-n", l.Client, "link", "set", l.clientIf, "down"}}
	if up {
		args = [][]string{
			{"-n", l.Client, "link", "set", l.clientIf, "up"},
			{"-n", l.Client, "route", "replace", "10.77.1.0/24", "via", "10.77.2.2"},
		}
	}
	for _, a := range args {
		if out, err := exec.Command("ip", a...).CombinedOutput(); err != nil {
			tb.Fatalf("ip %s: %v\n%s", strings.Join(a, " "), err, out)
		}
	}
}

// Backlog returns the bytes waiting in the bottleneck toward the client.
func (l *Link) Backlog() (int64, error) {
	out, err := exec.Command("ip", "netns", "exec", l.Router, "tc", "-s", "qdisc", "show", "dev", l.routerIf).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("tc -s qdisc: %v: %s", err, out)
	}
	return parseBacklog(string(out)), nil
}

// parseBacklog reads "backlog 12345b 3p" (or 1398Kb, 2Mb) from tc -s.
func parseBacklog(s string) int64 {
	f := strings.Fields(s)
	for i, w := range f {
		if w != "backlog" || i+1 == len(f) {
			continue
		}
		v, mult := f[i+1], int64(1)
		switch {
		case strings.HasSuffix(v, "Mb"):
			v, mult = strings.TrimSuffix(v, "Mb"), 1<<20
		case strings.HasSuffix(v, "Kb"):
			v, mult = strings.TrimSuffix(v, "Kb"), 1<<10
		default:
			v = strings.TrimSuffix(v, "b")
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		return n * mult
	}
	return 0
}

// remove kills what runs in the namespaces and deletes them; the veth
// pair goes with them.
func (l *Link) remove() {
	for _, ns := range []string{l.Client, l.Router, l.Server} {
		if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				exec.Command("kill", "-9", pid).Run()
			}
		}
		exec.Command("ip", "netns", "del", ns).Run()
	}
}
