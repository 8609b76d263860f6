package bitsjob

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"time"

	"bits/engine"
	"bits/engine/netpolicy"
	"bits/hresult"
)

// The JSON that --json prints. Field names are the property names of
// PowerShell's BitsJob and BitsFile objects, so the BitsTransfer module can
// turn a line into a BitsJob without renaming anything; settings PowerShell
// does not show keep the name of the cmdlet parameter that sets them. The
// names are a contract, listed in docs/json.md and checked by
// TestJSONFieldNames: add fields, never rename or remove one without raising
// SchemaVersion.

// SchemaVersion is the version of every JSON document bitsjob prints.
const SchemaVersion = 1

// jobJSON is a BitsJob.
type jobJSON struct {
	SchemaVersion int
	JobId         string
	DisplayName   string
	Description   string
	TransferType  string
	JobState      string
	OwnerAccount  string
	Priority      string

	TransferPolicy string
	// MaxBandwidthKbps is the job's own limit; not a BitsJob property.
	MaxBandwidthKbps int64 `json:",omitempty"`
	BytesTotal       uint64
	BytesTransferred uint64
	FilesTotal       int
	FilesTransferred int

	CreationTime           *jsonTime
	ModificationTime       *jsonTime
	TransferCompletionTime *jsonTime

	ErrorCondition          string
	ErrorContext            string
	ErrorContextDescription string
	ErrorDescription        string
	// ErrorDetail says what exactly failed; not a BitsJob property.
	ErrorDetail         string `json:",omitempty"`
	InternalErrorCode   int32
	TransientErrorCount int

	RetryInterval   int64
	RetryTimeout    int64
	MaxDownloadTime int64

	ProxyUsage      string
	ProxyList       []string
	ProxyBypassList []string

	NotifyFlags            uint32
	NotifyCmdLine          []string
	CustomHeaders          []string
	CustomHeadersWriteOnly bool
	HttpMethod             string
	SecurityFlags          uint32
	ACLFlags               uint32
	PeerCachingFlags       uint32
	CertStoreLocation      *string
	CertStoreName          string
	CertHash               string
	CertSubject            string
	HelperTokenAccount     string
	HelperTokenFlags       uint32
	ReplyFileName          string
	Dynamic                bool
	Credentials            []credentialJSON

	FileList []fileJSON
}

// fileJSON is a BitsFile.
type fileJSON struct {
	RemoteName         string
	LocalName          string
	BytesTotal         uint64
	BytesTransferred   uint64
	IsTransferComplete bool
	TemporaryName      string
	ValidationState    string
	FileRanges         []rangeJSON
	// VerifiedDigest names the server's digest the file matched ("sha-256");
	// not a BitsFile property, so PowerShell shows it as an extra one.
	VerifiedDigest string `json:",omitempty"`
	// Sha256 is the SHA-256 the file must have, as its user gave it with
	// --sha256; not a BitsFile property.
	Sha256 string `json:",omitempty"`
}

type rangeJSON struct {
	InitialOffset uint64
	Length        uint64
}

// credentialJSON says that a credential is set, never what it is.
type credentialJSON struct {
	Target string
	Scheme string
}

// jsonTime is a time printed in RFC 3339, in UTC, to the millisecond at
// most: every JSON reader, PowerShell's included, takes that precision.
type jsonTime time.Time

const timeLayout = "2006-01-02T15:04:05.999Z07:00"

func (t jsonTime) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Time(t).UTC().Format(timeLayout))
}

func timeOrNull(t time.Time) *jsonTime {
	if t.IsZero() {
		return nil
	}
	jt := jsonTime(t)
	return &jt
}

// sizeUnknown is BG_SIZE_UNKNOWN as PowerShell shows it: all ones.
const sizeUnknown = ^uint64(0)

func size(n int64) uint64 {
	if n == engine.SizeUnknown {
		return sizeUnknown
	}
	return uint64(n)
}

// PowerShell's enum member names.
var (
	stateNames = map[engine.State]string{
		engine.Queued: "Queued", engine.Connecting: "Connecting", engine.Transferring: "Transferring",
		engine.Suspended: "Suspended", engine.Error: "Error", engine.TransientError: "TransientError",
		engine.Transferred: "Transferred", engine.Acknowledged: "Acknowledged", engine.Cancelled: "Cancelled",
	}
	typeNames     = map[engine.JobType]string{engine.Download: "Download", engine.Upload: "Upload", engine.UploadReply: "UploadReply"}
	priorityNames = map[engine.Priority]string{
		engine.Foreground: "Foreground", engine.High: "High", engine.Normal: "Normal", engine.Low: "Low",
	}
	proxyNames = map[engine.ProxyUsage]string{
		engine.ProxyPreconfig: "SystemDefault", engine.ProxyNone: "NoProxy",
		engine.ProxyOverride: "Override", engine.ProxyAutodetect: "AutoDetect",
	}
	contextNames = map[hresult.Context]string{
		hresult.ContextNone: "None", hresult.ContextUnknown: "Unknown",
		hresult.ContextGeneralQueueManager: "GeneralQueueManager", hresult.ContextQueueManagerNotification: "QueueManagerNotification",
		hresult.ContextLocalFile: "LocalFile", hresult.ContextRemoteFile: "RemoteFile",
		hresult.ContextGeneralTransport: "GeneralTransport", hresult.ContextRemoteApplication: "RemoteApplication",
		hresult.ContextServerCertificate: "ServerCertificateCallback",
	}
	targetNames = map[engine.AuthTarget]string{engine.TargetServer: "Server", engine.TargetProxy: "Proxy"}
	schemeNames = map[engine.AuthScheme]string{
		engine.SchemeBasic: "Basic", engine.SchemeDigest: "Digest", engine.SchemeNTLM: "Ntlm",
		engine.SchemeNegotiate: "Negotiate", engine.SchemePassport: "Passport",
	}
	validationNames = map[engine.Validation]string{engine.ValidationUnset: "None", engine.Valid: "Valid", engine.Invalid: "Invalid"}
	// certLocationNames are BITS' store locations, by their API value.
	certLocationNames = []string{"CURRENT_USER", "LOCAL_MACHINE", "CURRENT_SERVICE", "SERVICES", "USERS",
		"CURRENT_USER_GROUP_POLICY", "LOCAL_MACHINE_GROUP_POLICY", "LOCAL_MACHINE_ENTERPRISE"}
)

func nameOr[K comparable](m map[K]string, k K) string {
	if n, ok := m[k]; ok {
		return n
	}
	return "Unknown"
}

// jobID is how bitsjob shows a job's GUID: lower case without braces, as
// PowerShell shows a Guid.
func jobID(id string) string { return strings.ToLower(id) }

// toJSON converts a job for printing. Credentials appear as the target and
// scheme pairs that are set: the engine never hands out more.
func toJSON(j *engine.Job) jobJSON { return toJSONReusing(j, nil) }

// toJSONReusing is toJSON with the files listed in fileBuf's array, which
// a list reuses from one job to the next.
func toJSONReusing(j *engine.Job, fileBuf []fileJSON) jobJSON {
	if fileBuf == nil {
		fileBuf = []fileJSON{} // FileList is [] when empty, never null
	}
	total, done, files, filesDone := j.Progress()
	out := jobJSON{
		SchemaVersion: SchemaVersion,
		JobId:         jobID(j.ID), DisplayName: j.DisplayName, Description: j.Description,
		TransferType: nameOr(typeNames, j.Type), JobState: nameOr(stateNames, j.State),
		OwnerAccount: j.Owner, Priority: nameOr(priorityNames, j.Priority),
		TransferPolicy:   netpolicy.FormatCostStates(j.TransferPolicy),
		MaxBandwidthKbps: j.MaxBandwidth,
		BytesTotal:       size(total), BytesTransferred: uint64(done), FilesTotal: files, FilesTransferred: filesDone,
		CreationTime: timeOrNull(j.Created), ModificationTime: timeOrNull(j.Modified),
		TransferCompletionTime: timeOrNull(j.TransferCompleted),
		ErrorCondition:         "NoError", ErrorContext: "None",
		TransientErrorCount: j.ErrorCount,
		RetryInterval:       int64(j.MinRetryDelay / time.Second), RetryTimeout: int64(j.NoProgressTimeout / time.Second),
		MaxDownloadTime: int64(j.MaxDownloadTime / time.Second),
		ProxyUsage:      nameOr(proxyNames, j.ProxyUsage),
		ProxyList:       nonNil(strings.Fields(j.ProxyList)), ProxyBypassList: nonNil(strings.Fields(j.ProxyBypassList)),
		NotifyFlags: j.NotifyFlags, NotifyCmdLine: []string{},
		CustomHeaders: splitHeaders(j.CustomHeaders), CustomHeadersWriteOnly: j.HeadersWriteOnly,
		HttpMethod:    j.Method(),
		SecurityFlags: j.SecurityFlags, ACLFlags: j.ACLFlags, PeerCachingFlags: j.PeerCachingFlags,
		HelperTokenAccount: j.HelperToken, HelperTokenFlags: j.HelperTokenFlags,
		ReplyFileName: j.ReplyFileName, Dynamic: j.Dynamic,
		Credentials: []credentialJSON{}, FileList: slices.Grow(fileBuf[:0], len(j.Files)),
	}
	if j.NotifyProgram != "" {
		out.NotifyCmdLine = notifyCmdLine(j.NotifyProgram, j.NotifyParameters)
	}
	if e := j.Err; e != nil && (j.State == engine.Error || j.State == engine.TransientError) {
		out.ErrorCondition = "Error"
		if j.State == engine.TransientError {
			out.ErrorCondition = "TransientError"
		}
		out.ErrorContext = nameOr(contextNames, e.Context)
		out.ErrorContextDescription = e.Context.Message()
		out.ErrorDescription = e.Code.Message()
		if e.Msg != e.Code.Message() {
			out.ErrorDetail = e.Msg
		}
		out.InternalErrorCode = int32(e.Code)
	}
	if c := j.ClientCert; c != nil {
		loc := "Unknown"
		if c.StoreLocation >= 0 && c.StoreLocation < len(certLocationNames) {
			loc = certLocationNames[c.StoreLocation]
		}
		out.CertStoreLocation = &loc
		out.CertStoreName, out.CertHash, out.CertSubject = c.StoreName, strings.ToUpper(hex.EncodeToString(c.Hash)), c.Subject
	}
	for _, c := range j.Credentials {
		out.Credentials = append(out.Credentials, credentialJSON{Target: nameOr(targetNames, c.Target), Scheme: nameOr(schemeNames, c.Scheme)})
	}
	for _, f := range j.Files {
		fj := fileJSON{
			RemoteName: f.RemoteName, LocalName: f.LocalName,
			BytesTotal: size(f.BytesTotal), BytesTransferred: uint64(f.BytesTransferred),
			IsTransferComplete: f.Complete, TemporaryName: f.TempName,
			ValidationState: nameOr(validationNames, f.Validation), VerifiedDigest: f.Verified, Sha256: f.SHA256,
		}
		for _, r := range f.Ranges {
			fj.FileRanges = append(fj.FileRanges, rangeJSON{InitialOffset: r.Offset, Length: r.Length})
		}
		out.FileList = append(out.FileList, fj)
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// splitHeaders turns the CRLF-separated header block into one string per
// header.
func splitHeaders(h string) []string {
	out := []string{}
	for _, l := range strings.Split(h, "\r\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

// writeJSON prints v as one line of JSON: every document bitsjob prints is
// on its own line (JSON Lines), so a reader can take one line at a time.
func writeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
