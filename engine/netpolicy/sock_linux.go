package netpolicy

import (
	"encoding/binary"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// canWatch says whether connections can be watched here.
const canWatch = true

// tcpStats returns what the kernel knows of a TCP connection in one
// direction: the round-trip time it measures (for downloads the receiver's
// estimate, which TCP timestamps give while data flows in; for uploads the
// sender's smoothed RTT; 0 when there is no sample yet), and the bytes
// that crossed it (received, or sent and acknowledged).
func tcpStats(rc syscall.RawConn, dir Direction) (rtt time.Duration, bytes uint64, err error) {
	var info *unix.TCPInfo
	var serr error
	err = rc.Control(func(fd uintptr) {
		info, serr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, 0, err
	}
	if dir == Down {
		return time.Duration(info.Rcv_rtt) * time.Microsecond, info.Bytes_received, nil
	}
	return time.Duration(info.Rtt) * time.Microsecond, info.Bytes_acked, nil
}

// setReceiveBuffer sets a download connection's receive buffer, which also
// bounds the window it advertises, and turns the kernel's autotuning off
// for it. The kernel doubles the value for its bookkeeping and caps it at
// net.core.rmem_max.
func setReceiveBuffer(rc syscall.RawConn, n int) {
	rc.Control(func(fd uintptr) {
		unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, n)
	})
}

// notSentLowat bounds the bytes an upload connection holds unsent, so a
// lower rate takes effect within a round trip rather than after the
// kernel's whole send buffer has gone out at the old one.
const notSentLowat = 128 << 10

// tuneBackground prepares a background connection and returns what undoes
// it, for when a FOREGROUND transfer takes the pooled connection over.
// Uploads keep little unsent data and ask for the scavenger congestion
// control "lp" (TCP Low Priority), which yields to other flows at the
// kernel's own pace; a kernel without it keeps its default, and the
// pacing does the work.
func tuneBackground(rc syscall.RawConn, dir Direction) (undo func()) {
	if dir == Down {
		// A small window to start with, before any data: the shaper
		// grows it with the rate (sizeWindows). Autotuning stays off once
		// a size is set, so a FOREGROUND transfer gets the largest.
		setReceiveBuffer(rc, minWindow)
		return func() { setReceiveBuffer(rc, maxWindow) }
	}
	var cc string
	rc.Control(func(fd uintptr) {
		cc, _ = unix.GetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION)
		unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, notSentLowat)
		unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, "lp")
	})
	return func() {
		rc.Control(func(fd uintptr) {
			unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, 0) // 0: the system's default
			if cc != "" {
				unix.SetsockoptString(int(fd), unix.IPPROTO_TCP, unix.TCP_CONGESTION, cc)
			}
		})
	}
}

// iflaStats64 is the attribute of a link message that holds its counters
// (struct rtnl_link_stats64: rx_packets, tx_packets, rx_bytes, tx_bytes...).
const iflaStats64 = 23

// linkCounters returns the bytes each interface has received and sent,
// by interface index, from the kernel's netlink link dump (which, unlike
// /sys, always speaks of the caller's network namespace).
func linkCounters() (map[int][2]uint64, error) {
	rib, err := syscall.NetlinkRIB(syscall.RTM_GETLINK, syscall.AF_UNSPEC)
	if err != nil {
		return nil, err
	}
	msgs, err := syscall.ParseNetlinkMessage(rib)
	if err != nil {
		return nil, err
	}
	out := map[int][2]uint64{}
	for i := range msgs {
		m := &msgs[i]
		if m.Header.Type != syscall.RTM_NEWLINK || len(m.Data) < syscall.SizeofIfInfomsg {
			continue
		}
		ifi := (*syscall.IfInfomsg)(unsafe.Pointer(&m.Data[0]))
		attrs, err := syscall.ParseNetlinkRouteAttr(m)
		if err != nil {
			continue
		}
		for _, a := range attrs {
			if a.Attr.Type == iflaStats64 && len(a.Value) >= 32 {
				out[int(ifi.Index)] = [2]uint64{
					binary.NativeEndian.Uint64(a.Value[16:]), binary.NativeEndian.Uint64(a.Value[24:]),
				}
			}
		}
	}
	return out, nil
}
