//go:build !linux

package netpolicy

import (
	"syscall"
	"time"
)

// Other systems give neither the receiver's RTT estimate nor netlink
// counters: background transfers keep their limits and schedules there,
// but do not yield to other traffic.
const canWatch = false

func tcpStats(syscall.RawConn, Direction) (time.Duration, uint64, error) { return 0, 0, errUnsupported }

func tuneBackground(syscall.RawConn, Direction) func() { return func() {} }

func setReceiveBuffer(syscall.RawConn, int) {}

func linkCounters() (map[int][2]uint64, error) { return nil, errUnsupported }
