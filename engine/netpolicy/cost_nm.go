package netpolicy

import (
	"context"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
)

// NetworkManager reads the current network's cost from NetworkManager's
// Metered property on the system bus ($DBUS_SYSTEM_BUS_ADDRESS, else the
// standard socket). The zero value is ready to use.
type NetworkManager struct {
	mu   sync.Mutex
	conn *dbus.Conn
}

// NetworkManager's NMMetered values.
const (
	nmMeteredYes      = 1
	nmMeteredGuessYes = 3
)

// Cost returns the network's cost state: Capped for a metered network
// (NetworkManager knows no cap, nor roaming), else Unrestricted. ok is
// false when NetworkManager cannot be asked.
func (n *NetworkManager) Cost(ctx context.Context) (cost uint32, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if n.conn == nil {
		c, err := dbus.ConnectSystemBus() // its own lifetime: it is kept for the next call
		if err != nil {
			return 0, false
		}
		n.conn = c
	}
	var v dbus.Variant
	err := n.conn.Object("org.freedesktop.NetworkManager", "/org/freedesktop/NetworkManager").
		CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, "org.freedesktop.NetworkManager", "Metered").Store(&v)
	if err != nil {
		if !n.conn.Connected() {
			n.conn.Close()
			n.conn = nil
		}
		return 0, false
	}
	switch m, _ := v.Value().(uint32); m {
	case nmMeteredYes, nmMeteredGuessYes:
		return CostCapped, true
	}
	return CostUnrestricted, true
}

// Close lets go of the bus.
func (n *NetworkManager) Close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn != nil {
		n.conn.Close()
		n.conn = nil
	}
}
