package bitsjob

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// appendJob appends v as encoding/json marshals it, byte for byte
// (TestAppendJobMatchesEncodingJSON): a list prints a million files, and
// reflection took most of the time that printing them took. A field added
// to jobJSON, fileJSON, credentialJSON or rangeJSON must be added here too;
// the test fails until it is.
func appendJob(b []byte, v *jobJSON) []byte {
	b = strconv.AppendInt(append(b, `{"SchemaVersion":`...), int64(v.SchemaVersion), 10)
	b = appendJSONString(append(b, `,"JobId":`...), v.JobId)
	b = appendJSONString(append(b, `,"DisplayName":`...), v.DisplayName)
	b = appendJSONString(append(b, `,"Description":`...), v.Description)
	b = appendJSONString(append(b, `,"TransferType":`...), v.TransferType)
	b = appendJSONString(append(b, `,"JobState":`...), v.JobState)
	b = appendJSONString(append(b, `,"OwnerAccount":`...), v.OwnerAccount)
	b = appendJSONString(append(b, `,"Priority":`...), v.Priority)
	b = appendJSONString(append(b, `,"TransferPolicy":`...), v.TransferPolicy)
	if v.MaxBandwidthKbps != 0 {
		b = strconv.AppendInt(append(b, `,"MaxBandwidthKbps":`...), v.MaxBandwidthKbps, 10)
	}
	b = strconv.AppendUint(append(b, `,"BytesTotal":`...), v.BytesTotal, 10)
	b = strconv.AppendUint(append(b, `,"BytesTransferred":`...), v.BytesTransferred, 10)
	b = strconv.AppendInt(append(b, `,"FilesTotal":`...), int64(v.FilesTotal), 10)
	b = strconv.AppendInt(append(b, `,"FilesTransferred":`...), int64(v.FilesTransferred), 10)
	b = appendJSONTime(append(b, `,"CreationTime":`...), v.CreationTime)
	b = appendJSONTime(append(b, `,"ModificationTime":`...), v.ModificationTime)
	b = appendJSONTime(append(b, `,"TransferCompletionTime":`...), v.TransferCompletionTime)
	b = appendJSONString(append(b, `,"ErrorCondition":`...), v.ErrorCondition)
	b = appendJSONString(append(b, `,"ErrorContext":`...), v.ErrorContext)
	b = appendJSONString(append(b, `,"ErrorContextDescription":`...), v.ErrorContextDescription)
	b = appendJSONString(append(b, `,"ErrorDescription":`...), v.ErrorDescription)
	if v.ErrorDetail != "" {
		b = appendJSONString(append(b, `,"ErrorDetail":`...), v.ErrorDetail)
	}
	b = strconv.AppendInt(append(b, `,"InternalErrorCode":`...), int64(v.InternalErrorCode), 10)
	b = strconv.AppendInt(append(b, `,"TransientErrorCount":`...), int64(v.TransientErrorCount), 10)
	b = strconv.AppendInt(append(b, `,"RetryInterval":`...), v.RetryInterval, 10)
	b = strconv.AppendInt(append(b, `,"RetryTimeout":`...), v.RetryTimeout, 10)
	b = strconv.AppendInt(append(b, `,"MaxDownloadTime":`...), v.MaxDownloadTime, 10)
	b = appendJSONString(append(b, `,"ProxyUsage":`...), v.ProxyUsage)
	b = appendJSONStrings(append(b, `,"ProxyList":`...), v.ProxyList)
	b = appendJSONStrings(append(b, `,"ProxyBypassList":`...), v.ProxyBypassList)
	b = strconv.AppendUint(append(b, `,"NotifyFlags":`...), uint64(v.NotifyFlags), 10)
	b = appendJSONStrings(append(b, `,"NotifyCmdLine":`...), v.NotifyCmdLine)
	b = appendJSONStrings(append(b, `,"CustomHeaders":`...), v.CustomHeaders)
	b = strconv.AppendBool(append(b, `,"CustomHeadersWriteOnly":`...), v.CustomHeadersWriteOnly)
	b = appendJSONString(append(b, `,"HttpMethod":`...), v.HttpMethod)
	b = strconv.AppendUint(append(b, `,"SecurityFlags":`...), uint64(v.SecurityFlags), 10)
	b = strconv.AppendUint(append(b, `,"ACLFlags":`...), uint64(v.ACLFlags), 10)
	b = strconv.AppendUint(append(b, `,"PeerCachingFlags":`...), uint64(v.PeerCachingFlags), 10)
	b = append(b, `,"CertStoreLocation":`...)
	if v.CertStoreLocation == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, *v.CertStoreLocation)
	}
	b = appendJSONString(append(b, `,"CertStoreName":`...), v.CertStoreName)
	b = appendJSONString(append(b, `,"CertHash":`...), v.CertHash)
	b = appendJSONString(append(b, `,"CertSubject":`...), v.CertSubject)
	b = appendJSONString(append(b, `,"HelperTokenAccount":`...), v.HelperTokenAccount)
	b = strconv.AppendUint(append(b, `,"HelperTokenFlags":`...), uint64(v.HelperTokenFlags), 10)
	b = appendJSONString(append(b, `,"ReplyFileName":`...), v.ReplyFileName)
	b = strconv.AppendBool(append(b, `,"Dynamic":`...), v.Dynamic)
	b = append(b, `,"Credentials":`...)
	if v.Credentials == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, c := range v.Credentials {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(append(b, `{"Target":`...), c.Target)
			b = appendJSONString(append(b, `,"Scheme":`...), c.Scheme)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"FileList":`...)
	if v.FileList == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range v.FileList {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendFile(b, &v.FileList[i])
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendFile(b []byte, f *fileJSON) []byte {
	b = appendJSONString(append(b, `{"RemoteName":`...), f.RemoteName)
	b = appendJSONString(append(b, `,"LocalName":`...), f.LocalName)
	b = strconv.AppendUint(append(b, `,"BytesTotal":`...), f.BytesTotal, 10)
	b = strconv.AppendUint(append(b, `,"BytesTransferred":`...), f.BytesTransferred, 10)
	b = strconv.AppendBool(append(b, `,"IsTransferComplete":`...), f.IsTransferComplete)
	b = appendJSONString(append(b, `,"TemporaryName":`...), f.TemporaryName)
	b = appendJSONString(append(b, `,"ValidationState":`...), f.ValidationState)
	b = append(b, `,"FileRanges":`...)
	if f.FileRanges == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, r := range f.FileRanges {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(append(b, `{"InitialOffset":`...), r.InitialOffset, 10)
			b = strconv.AppendUint(append(b, `,"Length":`...), r.Length, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if f.VerifiedDigest != "" {
		b = appendJSONString(append(b, `,"VerifiedDigest":`...), f.VerifiedDigest)
	}
	if f.Sha256 != "" {
		b = appendJSONString(append(b, `,"Sha256":`...), f.Sha256)
	}
	return append(b, '}')
}

func appendJSONTime(b []byte, t *jsonTime) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	// The layout's characters need no escaping.
	b = append(b, '"')
	b = time.Time(*t).UTC().AppendFormat(b, timeLayout)
	return append(b, '"')
}

func appendJSONStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s)
	}
	return append(b, ']')
}

// appendJSONString quotes s as encoding/json does by default: HTML's <, >
// and & escaped, bytes that are not UTF-8 as U+FFFD, and U+2028 and U+2029
// escaped.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
