package testenv

// This file runs a private dbus-daemon for a test, and a stand-in for
// NetworkManager on it that serves the Metered property the test sets, so
// that the worker's network cost comes from a real bus.

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// A Bus is a dbus-daemon listening on a unix socket in the test's
// temporary folder. A path, unlike an abstract socket, is reachable from
// every network namespace.
type Bus struct {
	// Address is the bus address for $DBUS_SYSTEM_BUS_ADDRESS.
	Address string
}

// StartBus starts a dbus-daemon that lets every client own, send and
// receive anything, and stops it when the test ends. Without dbus-daemon
// the test is skipped, or fails under CI.
func StartBus(tb testing.TB) *Bus {
	tb.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		missing(tb, "dbus-daemon is not installed (Debian: apt-get install dbus-daemon)")
	}
	dir := tb.TempDir()
	socket := filepath.Join(dir, "bus")
	if len(socket) > 100 { // sun_path holds 108 bytes
		tb.Fatalf("the bus socket's path is too long for a unix socket: %s", socket)
	}
	conf := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(conf, []byte(busConfig(socket)), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+conf, "--nofork", "--nopidfile", "--print-address=1")
	var logs bytes.Buffer // its complaints, shown when the test fails
	cmd.Stderr = &logs
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("dbus-daemon: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			cmd.Wait()
		})
	}
	tb.Cleanup(func() {
		stop()
		if tb.Failed() && logs.Len() > 0 {
			tb.Logf("dbus-daemon:\n%s", logs.String())
		}
	})
	// The daemon prints its address once it listens.
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "unix:") {
		stop()
		tb.Fatalf("dbus-daemon printed %q (%v)", line, err)
	}
	return &Bus{Address: "unix:path=" + socket}
}

func busConfig(socket string) string {
	return fmt.Sprintf(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`, socket)
}

// Connect opens a connection to the bus, closed when the test ends.
func (b *Bus) Connect(tb testing.TB) *dbus.Conn {
	tb.Helper()
	c, err := dbus.Connect(b.Address)
	if err != nil {
		tb.Fatalf("connecting to %s: %v", b.Address, err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// NetworkManager's NMMetered values.
const (
	MeteredUnknown  uint32 = 0
	MeteredYes      uint32 = 1
	MeteredNo       uint32 = 2
	MeteredGuessYes uint32 = 3
	MeteredGuessNo  uint32 = 4
)

// A NetworkManager owns org.freedesktop.NetworkManager on a Bus and serves
// the Metered property of /org/freedesktop/NetworkManager, as the real
// one does, with the value the test sets.
type NetworkManager struct {
	props *prop.Properties
}

const (
	nmName  = "org.freedesktop.NetworkManager"
	nmPath  = dbus.ObjectPath("/org/freedesktop/NetworkManager")
	nmIface = "org.freedesktop.NetworkManager"
)

// NetworkManager starts a stand-in for NetworkManager on the bus whose
// Metered property is metered.
func (b *Bus) NetworkManager(tb testing.TB, metered uint32) *NetworkManager {
	tb.Helper()
	c := b.Connect(tb)
	props, err := prop.Export(c, nmPath, prop.Map{
		nmIface: {"Metered": {Value: metered, Emit: prop.EmitTrue}},
	})
	if err != nil {
		tb.Fatalf("exporting NetworkManager's properties: %v", err)
	}
	reply, err := c.RequestName(nmName, dbus.NameFlagDoNotQueue)
	if err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		tb.Fatalf("owning %s: reply %v (%v)", nmName, reply, err)
	}
	return &NetworkManager{props: props}
}

// SetMetered changes the Metered property (and signals the change).
func (n *NetworkManager) SetMetered(v uint32) {
	n.props.SetMust(nmIface, "Metered", v)
}
