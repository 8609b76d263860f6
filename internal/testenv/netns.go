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

// A Link is two network namespaces joined by a veth pair: a server side
// and a client side, 10.77.0.1 and 10.77.0.2. Traffic from the server to
// the client (downloads) goes through a tbf bottleneck on the server's
// end, and uploads through one on the client's end when asked for. Tests
// run programs on either side with Command; the worker that a front end
// starts on the client side lives there too.
type Link struct {
	Server, Client     string // namespace names
	ServerIP, ClientIP string
	Mbit               int // the bottleneck's rate; 0: none
	serverIf, clientIf string
}

// LinkOptions shape a Link's bottleneck.
type LinkOptions struct {
	// Mbit is the bottleneck's rate in Mbit/s (10^6 bits).
	Mbit int
	// Queue is how long the bottleneck's FIFO may make a packet wait
	// (tbf's latency): a deep queue shows what a transfer does to other
	// traffic's delay.
	Queue time.Duration
	// Upload also shapes the client's side the same way.
	Upload bool
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
	l := &Link{Server: id + "s", Client: id + "c", ServerIP: "10.77.0.1", ClientIP: "10.77.0.2",
		Mbit: o.Mbit, serverIf: "vs" + id, clientIf: "vc" + id}
	tb.Cleanup(l.remove)
	run := func(args ...string) {
		tb.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			tb.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", l.Server)
	run("netns", "add", l.Client)
	run("link", "add", l.serverIf, "type", "veth", "peer", "name", l.clientIf)
	run("link", "set", l.serverIf, "netns", l.Server)
	run("link", "set", l.clientIf, "netns", l.Client)
	run("-n", l.Server, "addr", "add", l.ServerIP+"/24", "dev", l.serverIf)
	run("-n", l.Client, "addr", "add", l.ClientIP+"/24", "dev", l.clientIf)
	for _, ns := range []string{l.Server, l.Client} {
		run("-n", ns, "link", "set", "lo", "up")
	}
	run("-n", l.Server, "link", "set", l.serverIf, "up")
	run("-n", l.Client, "link", "set", l.clientIf, "up")
	if o.Mbit > 0 {
		l.shape(tb, l.Server, l.serverIf, o)
		if o.Upload {
			l.shape(tb, l.Client, l.clientIf, o)
		}
	}
	return l
}

// shape puts a tbf bottleneck on an interface's egress.
func (l *Link) shape(tb testing.TB, ns, dev string, o LinkOptions) {
	tb.Helper()
	queue := o.Queue
	if queue <= 0 {
		queue = 50 * time.Millisecond
	}
	args := []string{"netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
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
// client has no route to the server; up again, the route is back.
func (l *Link) SetClientLink(tb testing.TB, up bool) {
	tb.Helper()
	state := "down"
	if up {
		state = "up"
	}
	if out, err := exec.Command("ip", "-n", l.Client, "link", "set", l.clientIf, state).CombinedOutput(); err != nil {
		tb.Fatalf("ip link set %s: %v\n%s", state, err, out)
	}
}

// Backlog returns the bytes waiting in the server side's bottleneck.
func (l *Link) Backlog() (int64, error) {
	out, err := exec.Command("ip", "netns", "exec", l.Server, "tc", "-s", "qdisc", "show", "dev", l.serverIf).CombinedOutput()
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
	for _, ns := range []string{l.Client, l.Server} {
		if out, err := exec.Command("ip", "netns", "pids", ns).Output(); err == nil {
			for _, pid := range strings.Fields(string(out)) {
				exec.Command("kill", "-9", pid).Run()
			}
		}
		exec.Command("ip", "netns", "del", ns).Run()
	}
}
