package engine

import (
	"strconv"
	"strings"
	"time"

	"bits/engine/transport"
	"bits/hresult"
	"bits/internal/uploadproto"
)

// SizeUnknown marks a byte count that is not known yet (BG_SIZE_UNKNOWN).
const SizeUnknown int64 = -1

// BITS defaults for a new job.
const (
	DefaultMinRetryDelay     = 600 * time.Second
	DefaultNoProgressTimeout = 1209600 * time.Second // 14 days
	DefaultMaxDownloadTime   = 7776000 * time.Second // 90 days
	DefaultNotifyFlags       = NotifyTransferred | NotifyError
	MinRetryDelayFloor       = 5 * time.Second
)

// Notify flags (BG_NOTIFY_*).
const (
	NotifyTransferred     uint32 = 0x1
	NotifyError           uint32 = 0x2
	NotifyDisable         uint32 = 0x4
	NotifyModification    uint32 = 0x8
	NotifyFileTransferred uint32 = 0x10
)

// ProxyUsage is BG_JOB_PROXY_USAGE, as the transports take it.
type ProxyUsage = transport.ProxyUsage

const (
	ProxyPreconfig  = transport.ProxyPreconfig
	ProxyNone       = transport.ProxyNone
	ProxyOverride   = transport.ProxyOverride
	ProxyAutodetect = transport.ProxyAutodetect
)

// Job is one transfer job and its files, as a snapshot.
type Job struct {
	ID          string // upper-case GUID without braces
	DisplayName string
	Description string
	Type        JobType
	State       State
	Priority    Priority
	Owner       string // DOMAIN\user shape: host\user

	Created           time.Time
	Modified          time.Time
	TransferCompleted time.Time // zero until TRANSFERRED

	MinRetryDelay     time.Duration
	NoProgressTimeout time.Duration
	MaxDownloadTime   time.Duration
	NotifyFlags       uint32
	NotifyProgram     string // empty: none
	NotifyParameters  string
	ProxyUsage        ProxyUsage
	ProxyList         string
	ProxyBypassList   string

	ErrorCount int
	Err        *JobError // set while the job is in ERROR or TRANSIENT_ERROR
	// TransferTime is the time spent connecting and transferring, summed
	// over attempts: MaxDownloadTime bounds it.
	TransferTime time.Duration

	CustomHeaders    string // CRLF-separated; empty when HeadersWriteOnly (never read back)
	HeadersWriteOnly bool
	HTTPMethod       string // empty: the default (GET, or BITS_POST for uploads)
	SecurityFlags    uint32
	ACLFlags         uint32
	PeerCachingFlags uint32
	ClientCert       *ClientCert
	HelperToken      string // the account whose token helps; empty: none
	HelperTokenFlags uint32
	ReplyFileName    string // empty: DefaultReplyName
	Reply            Reply  // an upload-reply job's reply
	Dynamic          bool   // DYNAMIC_CONTENT
	TransferPolicy   uint32 // cost flags (BITS_COST_STATE_*); 0: the policy's default for the priority
	MaxBandwidth     int64  // the job's own limit in Kbps; 0: none
	Resumed          bool   // Resume was called at least once
	Credentials      []CredentialInfo

	Files []File

	transientSince time.Time // first transient error since the last progress
	retryAt        time.Time // when a TRANSIENT_ERROR job goes back to QUEUED
	notifyAt       time.Time // when the notification program is due; zero: not due
	// userEnv is the network environment of the user who last made or
	// resumed the job, or set its proxy or credentials, as stored (see
	// userenv.go).
	userEnv string
}

// Reply is where an upload-reply job's reply stands: its temporary file
// (beside the reply file name, until Complete) and its progress.
type Reply struct {
	TempName         string
	BytesTotal       int64 // SizeUnknown until the reply has arrived
	BytesTransferred int64
}

// ReplyName is where Complete puts the reply: the reply file name, or by
// default <local file>.<job GUID>.reply beside the uploaded file.
func (j *Job) ReplyName() string {
	if j.ReplyFileName != "" || len(j.Files) == 0 {
		return j.ReplyFileName
	}
	return j.Files[0].LocalName + "." + j.ID + ".reply"
}

// Method is the HTTP method the job uses: its own, or its type's default,
// GET for downloads and BITS_POST for uploads.
func (j *Job) Method() string {
	if j.HTTPMethod != "" {
		return j.HTTPMethod
	}
	return defaultMethod(j.Type)
}

func defaultMethod(t JobType) string {
	if t == Download {
		return "GET"
	}
	return uploadproto.Method
}

// ClientCert names a client certificate as BITS does: a store and a SHA-1
// hash, or a store and a subject name.
type ClientCert struct {
	StoreLocation int // 0 CURRENT_USER ... 7 LOCAL_MACHINE_ENTERPRISE
	StoreName     string
	Hash          []byte // 20 bytes, or nil when Subject is set
	Subject       string
}

// CredentialInfo says that a credential is set, never what it is.
type CredentialInfo struct {
	Target AuthTarget
	Scheme AuthScheme
}

// Range is a byte range of a remote file; Length ToEOF runs to the end.
type Range struct {
	Offset, Length uint64
}

// ToEOF is the length of a range that runs to the end of the file.
const ToEOF = ^uint64(0)

// ParseRanges reads ranges as both command lines take them: OFFSET:LENGTH
// pairs separated by commas, where LENGTH may be eof, as in
// 0:100,2000:100,5000:eof. Blanks around a pair are ignored. Overlaps are
// refused when the file is added, not here.
func ParseRanges(s string) ([]Range, error) {
	var out []Range
	for _, p := range strings.Split(s, ",") {
		off, length, ok := strings.Cut(strings.TrimSpace(p), ":")
		o, err := strconv.ParseUint(off, 10, 64)
		if !ok || err != nil {
			return nil, invalidArg("range %q is not offset:length", p)
		}
		r := Range{Offset: o, Length: ToEOF}
		if !strings.EqualFold(length, "eof") {
			if r.Length, err = strconv.ParseUint(length, 10, 64); err != nil || r.Length == ToEOF {
				return nil, invalidArg("range %q is not offset:length", p)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// Validation is the state an application gave a transferred file.
type Validation int

const (
	ValidationUnset Validation = iota
	Valid
	Invalid
)

// JobError is the error object of a job in ERROR or TRANSIENT_ERROR.
type JobError struct {
	Code      hresult.Code
	Context   hresult.Context
	Msg       string
	FileIndex int // -1 when the error is not tied to a file
}

// File is one file of a job.
type File struct {
	Index            int
	RemoteName       string
	LocalName        string
	TempName         string // full path of BIT<hex>.tmp, empty until created
	TempID           string // its "device:inode:birth" when it was made (see identity)
	BytesTotal       int64  // SizeUnknown until the server says
	BytesTransferred int64  // the last checkpoint: synced to disk, or held by the boot Unsynced names
	Complete         bool
	Validator        string  // ETag or Last-Modified seen when the transfer began
	Ranges           []Range // sorted by offset; nil: the whole file
	Validation       Validation
	// Session is an upload's session with the server, kept so that the
	// upload resumes; empty before the upload begins.
	Session string
	// UploadReach is how far the session's fragments may have reached:
	// recorded before each chunk is sent, so that after a restart a
	// server's offset up to it is believed and one beyond it is not.
	UploadReach int64
	// Verified names the server's digest algorithm that the transferred
	// file matched ("sha-256"...); empty when the server offered none.
	Verified string
	// SHA256 is the digest the file's user gave (lower-case hex), which
	// the finished file must have; empty for none.
	SHA256 string
	// Unsynced names the boot whose page cache alone holds the complete
	// file's bytes; empty once they are on disk (see unsynced.go).
	Unsynced string
}

// Progress sums the files: byte total is SizeUnknown while any file's is.
func (j *Job) Progress() (bytesTotal, bytesTransferred int64, filesTotal, filesTransferred int) {
	filesTotal = len(j.Files)
	for _, f := range j.Files {
		if f.BytesTotal == SizeUnknown {
			bytesTotal = SizeUnknown
		} else if bytesTotal != SizeUnknown {
			bytesTotal += f.BytesTotal
		}
		bytesTransferred += f.BytesTransferred
		if f.Complete {
			filesTransferred++
		}
	}
	return
}

// Summary is what a list shows of a job: who it is, its state and its
// progress, read from one row per job (the store keeps the totals over the
// files), so a list of any length reads no file.
type Summary struct {
	ID, DisplayName, Owner string
	Type                   JobType
	State                  State
	// BytesTotal is SizeUnknown while any file's size is.
	BytesTotal, BytesTransferred int64
	FilesTotal, FilesTransferred int
}

// Moving is the file a transfer works on now, the first that is not
// complete, and whether there is one.
func (j *Job) Moving() (File, bool) {
	for _, f := range j.Files {
		if !f.Complete {
			return f, true
		}
	}
	return File{}, false
}

// Summary is j as a list shows it.
func (j *Job) Summary() Summary {
	total, done, files, filesDone := j.Progress()
	return Summary{ID: j.ID, DisplayName: j.DisplayName, Owner: j.Owner, Type: j.Type, State: j.State,
		BytesTotal: total, BytesTransferred: done, FilesTotal: files, FilesTransferred: filesDone}
}

// ErrorFile returns the file the job's error is about, if any.
func (j *Job) ErrorFile() (File, bool) {
	if j.Err == nil || j.Err.FileIndex < 0 || j.Err.FileIndex >= len(j.Files) {
		return File{}, false
	}
	return j.Files[j.Err.FileIndex], true
}
