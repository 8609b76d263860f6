package http

import (
	"math"
	nethttp "net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"bits/hresult"
	"bits/internal/uploadproto"
)

// ack is what the headers of a server's answer to a packet say. Fields the
// answer lacks, or carries in a form that cannot be used, keep their zero
// value (received: -1), and invalid names the headers in the second case.
type ack struct {
	isAck        bool   // BITS-Packet-Type: Ack
	session      string // BITS-Session-Id, checked by validSessionID
	protocol     string // BITS-Protocol
	received     int64  // BITS-Received-Content-Range: the next byte the server expects
	replyURL     string // BITS-Reply-URL
	hostID       string // BITS-Host-Id
	hostFallback int64  // BITS-Host-Id-Fallback-Timeout, in seconds; 0 when absent
	errorCode    hresult.Code
	errorContext hresult.Context
	invalid      []string
}

// parseAck reads an answer's BITS headers. It never fails: what it could
// not use is listed in invalid, for the caller to judge.
func parseAck(h nethttp.Header) ack {
	a := ack{received: -1}
	bad := func(name string) { a.invalid = append(a.invalid, name) }
	a.isAck = strings.EqualFold(strings.TrimSpace(h.Get(uploadproto.HeaderPacketType)), uploadproto.PacketAck)
	if v, ok := field(h, uploadproto.HeaderSessionID); ok {
		if validSessionID(v) {
			a.session = v
		} else {
			bad(uploadproto.HeaderSessionID)
		}
	}
	if v, ok := field(h, uploadproto.HeaderProtocol); ok {
		a.protocol = v
	}
	name := uploadproto.HeaderReceived
	v, ok := field(h, name)
	if !ok {
		name = uploadproto.HeaderReceivedMisspelt
		v, ok = field(h, name)
	}
	if ok {
		if n, good := parseReceived(v); good {
			a.received = n
		} else {
			bad(name)
		}
	}
	if v, ok := field(h, uploadproto.HeaderReplyURL); ok {
		if v != "" && isFieldValue(v) {
			a.replyURL = v
		} else {
			bad(uploadproto.HeaderReplyURL)
		}
	}
	if v, ok := field(h, uploadproto.HeaderHostID); ok {
		if validHostID(v) {
			a.hostID = v
		} else {
			bad(uploadproto.HeaderHostID)
		}
	}
	if v, ok := field(h, uploadproto.HeaderHostFallback); ok {
		if n, err := parseCount(v); err == nil && n <= maxFallbackSeconds {
			a.hostFallback = n
		} else {
			bad(uploadproto.HeaderHostFallback)
		}
	}
	name = uploadproto.HeaderErrorCode
	v, ok = field(h, name)
	if !ok {
		name = uploadproto.HeaderError
		v, ok = field(h, name)
	}
	if ok {
		if c, good := parseErrorCode(v); good {
			a.errorCode = c
		} else {
			bad(name)
		}
	}
	if v, ok := field(h, uploadproto.HeaderErrorContext); ok {
		if c, good := parseErrorContext(v); good {
			a.errorContext = c
		} else {
			bad(uploadproto.HeaderErrorContext)
		}
	}
	return a
}

// field returns a header's first value without surrounding blanks, and
// whether the header is there at all.
func field(h nethttp.Header, name string) (string, bool) {
	vs := h.Values(name)
	if len(vs) == 0 {
		return "", false
	}
	return strings.Trim(vs[0], " \t"), true
}

// parseReceived reads BITS-Received-Content-Range: the offset of the next
// byte the server expects ("213"). The form "0-212", a range of what it
// holds, is read as the same offset.
func parseReceived(v string) (int64, bool) {
	first, last, isRange := strings.Cut(v, "-")
	if !isRange {
		n, err := parseCount(v)
		return n, err == nil
	}
	a, err := parseCount(first)
	if err != nil || a != 0 {
		return 0, false
	}
	b, err := parseCount(last)
	if err != nil || b == math.MaxInt64 {
		return 0, false
	}
	return b + 1, true
}

// parseErrorCode reads an HRESULT as servers write it: "0x8020001F",
// also without the prefix, or as a signed decimal ("-2145386465").
func parseErrorCode(v string) (hresult.Code, bool) {
	if strings.HasPrefix(v, "-") {
		n, err := strconv.ParseInt(v, 10, 32)
		return hresult.Code(uint32(int32(n))), err == nil
	}
	hex := strings.TrimPrefix(strings.TrimPrefix(v, "0x"), "0X")
	if hex == "" || len(hex) > 8 || strings.TrimLeft(hex, "0123456789abcdefABCDEF") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 32)
	return hresult.Code(n), err == nil
}

// parseErrorContext reads BITS-Error-Context: "0x5", "0x7", or decimal.
// Only the contexts BITS defines (1 to 8) are accepted.
func parseErrorContext(v string) (hresult.Context, bool) {
	var n uint64
	var err error
	if hex, ok := strings.CutPrefix(strings.ToLower(v), "0x"); ok {
		n, err = strconv.ParseUint(hex, 16, 8)
	} else {
		n, err = strconv.ParseUint(v, 10, 8)
	}
	if err != nil || n < uint64(hresult.ContextUnknown) || n > uint64(hresult.ContextServerCertificate) {
		return 0, false
	}
	return hresult.Context(n), true
}

// validSessionID accepts what can travel back in a header unchanged: 1 to
// 100 visible ASCII characters (Windows servers send a GUID in braces).
func validSessionID(s string) bool {
	if s == "" || len(s) > uploadproto.MaxSessionID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// A session token is what Begin returns and the engine stores:
// "<size>:<BITS-Session-Id>", or, when the server named a host for the
// session (BITS-Host-Id, web farms), "<size>;<host>;<fallback seconds>:
// <BITS-Session-Id>" with the host query-escaped. The upload's size is in
// it because every fragment carries it and Resume is not told it; the host
// because a client that restarts must go on talking to the host that holds
// the session.
type token struct {
	size     int64
	id       string
	host     string        // BITS-Host-Id, or ""
	fallback time.Duration // BITS-Host-Id-Fallback-Timeout; 0: never fall back
}

func (k token) String() string {
	head := strconv.FormatInt(k.size, 10)
	if k.host != "" {
		head += ";" + url.QueryEscape(k.host) + ";" + strconv.FormatInt(int64(k.fallback/time.Second), 10)
	}
	return head + ":" + k.id
}

// parseToken reads a token; ok is false for anything Begin cannot have
// returned.
func parseToken(s string) (k token, ok bool) {
	head, id, found := strings.Cut(s, ":")
	if !found || !validSessionID(id) {
		return token{}, false
	}
	fields := strings.Split(head, ";")
	size, err := parseCount(fields[0])
	if err != nil {
		return token{}, false
	}
	k = token{size: size, id: id}
	switch len(fields) {
	case 1:
		return k, true
	case 3:
		host, err := url.QueryUnescape(fields[1])
		secs, serr := parseCount(fields[2])
		if err != nil || serr != nil || !validHostID(host) || secs > maxFallbackSeconds {
			return token{}, false
		}
		k.host, k.fallback = host, time.Duration(secs)*time.Second
		return k, true
	}
	return token{}, false
}

// Bounds of what a server may name for a session's host: the length IIS
// allows, and a fallback timeout of at most a year.
const (
	maxHostID          = 300
	maxFallbackSeconds = 366 * 24 * 3600
)

// validHostID accepts a host name or address, with a port or without.
func validHostID(h string) bool {
	if h == "" || len(h) > maxHostID {
		return false
	}
	u, err := url.Parse("http://" + h + "/")
	return err == nil && u.Host == h && u.Hostname() != "" && u.User == nil
}
