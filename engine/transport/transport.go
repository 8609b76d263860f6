// Package transport defines how the engine moves bytes: small interfaces
// that each protocol (http, smb, file) implements, the job settings a
// request carries, and the facts a transport reports about a remote file.
// Transports know nothing of jobs, states or storage; they return
// *hresult.Error values that say whether a failure is worth retrying.
package transport

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// RemoteInfo is what a server says about a file before the transfer.
type RemoteInfo struct {
	Size      int64     // bytes; -1 when the server did not say
	Validator string    // strong ETag, else Last-Modified (SMB, file: size and time); empty when none
	ModTime   time.Time // modification time, zero when not known
	Ranges    bool      // the server can send byte ranges
	// Digest is a checksum of the whole file the server offered (HTTP
	// Repr-Digest or Content-MD5); the zero value when it offered none.
	Digest Digest
	// FinalURL is where a redirect led, when the job's redirect policy is
	// ALLOW_REPORT and Stat was redirected; empty otherwise.
	FinalURL string
}

// Digest is a checksum of a whole file, named by its algorithm as in the
// HTTP digest registry: "sha-256", "sha-512" or "md5".
type Digest struct {
	Algorithm string
	Sum       []byte
}

// A Request names a remote file and carries the job settings that shape
// how it is fetched. The zero Settings are BITS' defaults.
type Request struct {
	URL *url.URL // http, https, smb or file
	Settings
}

// Settings are the job options a transport applies. Each transport uses
// the ones that mean something to it and ignores the rest.
type Settings struct {
	Proxy       Proxy
	Credentials []Credential
	// Env is the job's user's environment as recorded with the job, the
	// variables of its proxies and Kerberos tickets ("NAME=value"); nil:
	// this process's environment.
	Env []string
	// Headers are extra request headers, "Name: value" each.
	Headers []string
	// Method replaces GET for downloads (BITS' custom HTTP method); empty
	// means GET. A custom method is sent once, without HEAD or ranges.
	Method string
	// ClientCert selects a client certificate for TLS; nil means none.
	ClientCert *ClientCert
	// SecurityFlags are BITS' BG_SSL_* and BG_HTTP_REDIRECT_POLICY_* bits.
	SecurityFlags uint32
	// SMBCredentialsFile is a mount.cifs-style credentials file used for
	// SMB when the job has no SERVER credential; empty means none.
	SMBCredentialsFile string
}

// ProxyUsage is BG_JOB_PROXY_USAGE.
type ProxyUsage int

const (
	ProxyPreconfig  ProxyUsage = iota // the environment's HTTP_PROXY, HTTPS_PROXY, NO_PROXY
	ProxyNone                         // connect directly
	ProxyOverride                     // List, tried in order, except for hosts in Bypass
	ProxyAutodetect                   // see docs/transports.md
)

var proxyUsageNames = [...]string{"PRECONFIG", "NO_PROXY", "OVERRIDE", "AUTODETECT"}

// String is BITS' name of the usage without its prefix: PRECONFIG,
// NO_PROXY, OVERRIDE, AUTODETECT.
func (p ProxyUsage) String() string {
	if p >= 0 && int(p) < len(proxyUsageNames) {
		return proxyUsageNames[p]
	}
	return "UNKNOWN"
}

// Proxy is a job's proxy settings. List and Bypass are BITS' space-separated
// lists, as the user gave them.
type Proxy struct {
	Usage  ProxyUsage
	List   string
	Bypass string
}

// AuthTarget says whom a credential is for.
type AuthTarget int

const (
	TargetServer AuthTarget = 1
	TargetProxy  AuthTarget = 2
)

// String is SERVER or PROXY.
func (t AuthTarget) String() string {
	switch t {
	case TargetServer:
		return "SERVER"
	case TargetProxy:
		return "PROXY"
	}
	return "UNKNOWN"
}

// AuthScheme is BG_AUTH_SCHEME.
type AuthScheme int

const (
	SchemeBasic     AuthScheme = 1
	SchemeDigest    AuthScheme = 2
	SchemeNTLM      AuthScheme = 3
	SchemeNegotiate AuthScheme = 4
	SchemePassport  AuthScheme = 5
)

var schemeNames = [...]string{"", "BASIC", "DIGEST", "NTLM", "NEGOTIATE", "PASSPORT"}

// String is BITS' name of the scheme without its prefix: BASIC, DIGEST,
// NTLM, NEGOTIATE, PASSPORT.
func (s AuthScheme) String() string {
	if s >= SchemeBasic && s <= SchemePassport {
		return schemeNames[s]
	}
	return "UNKNOWN"
}

// A Credential answers one authentication scheme for one target. Implicit
// marks BITS' NULL user and NULL password for NTLM and Negotiate: use the
// logged-on identity.
type Credential struct {
	Target   AuthTarget
	Scheme   AuthScheme
	User     string
	Password string
	Implicit bool
}

// ClientCert names a client certificate as BITS does: by the SHA-1 hash of
// the certificate or by its subject, in a store. Dirs are the folders that
// hold the store's PEM files, searched in order (see docs/transports.md).
type ClientCert struct {
	Dirs    []string
	Hash    []byte // SHA-1 of the DER certificate; nil when Subject is set
	Subject string
}

// A Downloader reads remote files.
type Downloader interface {
	// Stat asks the server for the file's size and validators.
	Stat(ctx context.Context, r *Request) (RemoteInfo, error)

	// Download writes the file's bytes from offset off up to end (exclusive;
	// end < 0 means the end of the file) to w and returns how many it wrote.
	// want is what Stat said when the transfer began: when the server's copy
	// no longer matches it, Download returns ErrChanged; when the server
	// cannot send the bytes from off (it ignores ranges), it returns
	// ErrNoRanges. In both cases it has written nothing, and the caller
	// restarts the file from byte 0 with a fresh Stat. It never writes more
	// than end-off bytes, nor past want.Size. With want.Size < 0 (dynamic
	// content, a custom method) it copies from 0 until the server stops.
	Download(ctx context.Context, r *Request, off, end int64, want RemoteInfo, w io.Writer) (int64, error)
}

// A Prefetcher is a Downloader that can learn what Stat says from the GET
// of the whole file, sparing a request (HTTP's HEAD) per file.
type Prefetcher interface {
	// StatGet asks for the whole file and returns what Stat would have
	// returned, with the response held open. Download, given the returned
	// Body and this info, reads the bytes from byte 0 out of it instead of
	// asking again. The caller closes the Body. When the answer is not
	// the plain whole file (an error status, no size), StatGet returns no
	// Body and what Stat itself returns.
	StatGet(ctx context.Context, r *Request) (RemoteInfo, Body, error)
}

// A Body is the open answer of Prefetcher.StatGet.
type Body interface {
	// Copy writes the whole file to w, as Download from byte 0 to the end
	// would, with the same errors, and returns how many bytes it wrote. It
	// may be called once.
	Copy(ctx context.Context, w io.Writer) (int64, error)
	// Close releases the response; a body not read to its end drops its
	// connection.
	Close() error
}

// An Uploader writes files to a server in sessions that survive
// interruptions: the engine records the session's token and the bytes the
// server holds, and carries on from there after a crash or a reboot.
type Uploader interface {
	// Begin starts a session for an upload of size bytes and returns its
	// token, which the engine stores.
	Begin(ctx context.Context, r *Request, size int64) (session string, err error)

	// Resume reports how many bytes the server holds for the session.
	// recorded is the offset the engine last recorded as confirmed, and
	// reach how far an earlier Send may have sent (see File.UploadReach);
	// an uploader that cannot ask without sending file bytes (the BITS
	// upload protocol) returns recorded, or what it confirmed since, and
	// Send's first fragment learns the truth, which it believes up to
	// reach. A session the server no longer knows returns ErrSessionLost,
	// and the engine begins a new one.
	Resume(ctx context.Context, r *Request, session string, recorded, reach int64) (int64, error)

	// Send writes src's bytes (the file's, from offset off, up to where
	// src ends: the engine sends a file in chunks) into the session and
	// returns the offset the server confirms it holds, which may be less
	// than off plus what was read after an error. size is the whole file's
	// size, which some protocols send with every fragment. src is a
	// section of the file, which an uploader may read at any offset and
	// more than once: a fragment the server did not take is read again
	// rather than held in memory.
	Send(ctx context.Context, r *Request, session string, off, size int64, src *io.SectionReader) (int64, error)

	// Commit ends the session and makes the file appear under its remote
	// name. A server that answers with a reply (upload-reply jobs) writes
	// it to reply, which may be nil when the job wants none.
	Commit(ctx context.Context, r *Request, session string, reply io.Writer) error

	// Cancel abandons the session and deletes what the server holds of it.
	Cancel(ctx context.Context, r *Request, session string) error
}

var (
	// ErrChanged means the remote file is not the one the transfer began on.
	ErrChanged = errors.New("the remote file changed")
	// ErrNoRanges means the server sent the whole file instead of the
	// requested range.
	ErrNoRanges = errors.New("the server ignored the byte range")
	// ErrSessionLost means the server no longer knows an upload session.
	ErrSessionLost = errors.New("the server no longer knows the upload session")
)

// connObserverKey carries a request's connection observer in its context.
type connObserverKey struct{}

// WithConnObserver returns a context whose requests tell observe of each
// network connection they use: the engine watches them to pace background
// transfers and to notice a lost network.
func WithConnObserver(ctx context.Context, observe func(net.Conn)) context.Context {
	return context.WithValue(ctx, connObserverKey{}, observe)
}

// ObserveConn tells ctx's observer, if any, that a request uses c.
// Transports call it whenever a request gets its connection.
func ObserveConn(ctx context.Context, c net.Conn) {
	if observe, ok := ctx.Value(connObserverKey{}).(func(net.Conn)); ok && c != nil {
		observe(c)
	}
}

// pacerKey carries a transfer's Pacer in its context.
type pacerKey struct{}

// A Pacer paces a transfer's bytes: Wait blocks until n more bytes may
// move (or ctx ends), and Rate says how many bytes per second may move
// now, +Inf when nothing limits them.
type Pacer interface {
	Wait(ctx context.Context, n int) error
	Rate() float64
}

// WithPacer returns a context under which uploaders hold the bytes they
// send back until p lets them go: the engine's bandwidth limits, where the
// bytes leave. (Downloads are paced by the engine where it writes them.)
func WithPacer(ctx context.Context, p Pacer) context.Context {
	return context.WithValue(ctx, pacerKey{}, p)
}

// Pacing reads: one read returns what the allowed rate moves in about
// paceSlice, so that a slow rate still sends something often and a fast
// one is read in large blocks (few system calls), within these bounds.
const (
	paceSlice    = 50 * time.Millisecond
	minPaceChunk = 4 << 10
	maxPaceChunk = 1 << 20
)

// PacedReader returns r read no faster than ctx's pacer allows, or r
// itself when ctx has none. Uploaders read what they send through it.
func PacedReader(ctx context.Context, r io.Reader) io.Reader {
	p, ok := ctx.Value(pacerKey{}).(Pacer)
	if !ok {
		return r
	}
	return &pacedReader{ctx: ctx, p: p, r: r}
}

type pacedReader struct {
	ctx context.Context
	p   Pacer
	r   io.Reader
}

func (p *pacedReader) Read(b []byte) (int, error) {
	chunk := maxPaceChunk
	if rate := p.p.Rate(); !math.IsInf(rate, 1) {
		chunk = int(min(max(rate*paceSlice.Seconds(), minPaceChunk), maxPaceChunk))
	}
	if len(b) > chunk {
		b = b[:chunk]
	}
	n, err := p.r.Read(b)
	if n > 0 {
		if perr := p.p.Wait(p.ctx, n); perr != nil {
			return n, perr
		}
	}
	return n, err
}

// UserVariables are the variables the transports read from the user's
// environment, which front ends record with a job (Settings.Env): the
// proxies of PRECONFIG, where the desktop keeps its proxy settings, and
// where Negotiate finds the user's Kerberos tickets.
var UserVariables = []string{"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
	"all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY", "XDG_CONFIG_HOME", "XDG_CURRENT_DESKTOP", "GSETTINGS_BACKEND",
	"KRB5CCNAME", "KRB5_CONFIG"}

// Getenv reads a variable of the job's user's environment: one of
// UserVariables from Env, as recorded (unset there is unset), others, and
// all when nothing was recorded, from this process's environment, which
// is the same user's.
func (s *Settings) Getenv(name string) string {
	if s.Env == nil || !slices.Contains(UserVariables, name) {
		return os.Getenv(name)
	}
	for _, kv := range s.Env {
		if n, v, _ := strings.Cut(kv, "="); n == name {
			return v
		}
	}
	return ""
}
