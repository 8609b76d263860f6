package engine

import (
	"strconv"
	"strings"
	"time"

	"bits/hresult"
	"bits/storage"
)

// The conversions between the domain and storage rows live here and, for
// the job settings, in their declarations (setting.go): storage stores
// numbers and strings, the engine gives them meaning.

func toRow(j *Job) storage.Job {
	r := storage.Job{
		ID: j.ID, Owner: j.Owner, Type: int(j.Type), State: int(j.State),
		CreatedNS: nanos(j.Created), ModifiedNS: nanos(j.Modified), CompletedNS: nanos(j.TransferCompleted),
		ErrorCount: int64(j.ErrorCount), ErrorFile: -1,
		TransientSinceNS: nanos(j.transientSince), RetryAtNS: nanos(j.retryAt),
		Resumed: j.Resumed, NotifyAtNS: nanos(j.notifyAt), TransferNS: int64(j.TransferTime),
		ReplyTemp: j.Reply.TempName, ReplyTotal: j.Reply.BytesTotal, ReplyDone: j.Reply.BytesTransferred,
		UserEnv: j.userEnv,
	}
	for i := range settings { // the settings' own columns
		settings[i].store(j, &r)
	}
	if e := j.Err; e != nil {
		r.ErrorCode, r.ErrorContext, r.ErrorMessage, r.ErrorFile = int64(e.Code), int64(e.Context), e.Msg, int64(e.FileIndex)
	}
	return r
}

func fromRow(r storage.Job, files []storage.File) *Job { return fromRowRef(&r, files) }

// fromRowRef is fromRow of a row the caller holds, which it does not copy:
// a list reads its rows into one.
func fromRowRef(r *storage.Job, files []storage.File) *Job {
	j := &Job{
		ID: r.ID, Owner: r.Owner, Type: JobType(r.Type), State: State(r.State),
		Created: fromNanos(r.CreatedNS), Modified: fromNanos(r.ModifiedNS), TransferCompleted: fromNanos(r.CompletedNS),
		ErrorCount:     int(r.ErrorCount),
		transientSince: fromNanos(r.TransientSinceNS), retryAt: fromNanos(r.RetryAtNS),
		Resumed: r.Resumed, notifyAt: fromNanos(r.NotifyAtNS), TransferTime: time.Duration(r.TransferNS),
		Reply:   Reply{TempName: r.ReplyTemp, BytesTotal: r.ReplyTotal, BytesTransferred: r.ReplyDone},
		userEnv: r.UserEnv,
	}
	for i := range settings {
		settings[i].load(r, j)
	}
	if r.ErrorCode != 0 {
		j.Err = &JobError{Code: hresult.Code(r.ErrorCode), Context: hresult.Context(r.ErrorContext),
			Msg: r.ErrorMessage, FileIndex: int(r.ErrorFile)}
	}
	if len(files) > 0 {
		j.Files = make([]File, 0, len(files))
	}
	for _, f := range files {
		j.Files = append(j.Files, File{Index: f.Idx, RemoteName: f.RemoteName, LocalName: f.LocalName,
			TempName: f.TempName, BytesTotal: f.BytesTotal, BytesTransferred: f.BytesDone,
			Complete: f.Complete, Validator: f.Validator, Ranges: parseRanges(f.Ranges), Validation: Validation(f.Validation),
			Session: f.Session, Verified: f.Verified, TempID: f.TempID, UploadReach: f.UploadReach, SHA256: f.SHA256,
			Unsynced: f.UnsyncedBoot})
	}
	return j
}

// fileRows is fileRow of each of files.
func fileRows(jobID string, files []File) []storage.File {
	rows := make([]storage.File, len(files))
	for i, f := range files {
		rows[i] = fileRow(jobID, f)
	}
	return rows
}

func fileRow(jobID string, f File) storage.File {
	return storage.File{JobID: jobID, Idx: f.Index, RemoteName: f.RemoteName, LocalName: f.LocalName,
		TempName: f.TempName, BytesTotal: f.BytesTotal, BytesDone: f.BytesTransferred,
		Complete: f.Complete, Validator: f.Validator, Ranges: formatRanges(f.Ranges), Validation: int(f.Validation),
		Session: f.Session, Verified: f.Verified, TempID: f.TempID, UploadReach: f.UploadReach, SHA256: f.SHA256,
		UnsyncedBoot: f.Unsynced}
}

// Ranges are stored as "offset:length,..." with "eof" for ToEOF.
func formatRanges(rs []Range) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		l := "eof"
		if r.Length != ToEOF {
			l = strconv.FormatUint(r.Length, 10)
		}
		parts[i] = strconv.FormatUint(r.Offset, 10) + ":" + l
	}
	return strings.Join(parts, ",")
}

func parseRanges(s string) []Range {
	if s == "" {
		return nil
	}
	var out []Range
	for _, p := range strings.Split(s, ",") {
		off, l, _ := strings.Cut(p, ":")
		r := Range{Length: ToEOF}
		r.Offset, _ = strconv.ParseUint(off, 10, 64)
		if l != "eof" {
			r.Length, _ = strconv.ParseUint(l, 10, 64)
		}
		out = append(out, r)
	}
	return out
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
