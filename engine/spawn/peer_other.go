//go:build !linux

package spawn

import (
	"errors"
	"net"
)

// peerUID is Linux's: the machine-wide systemd service is Linux's only.
func peerUID(*net.UnixConn) (int, error) {
	return 0, errors.New("the machine-wide service's socket is for systemd only")
}
