package bitsadmin

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"bits/engine"
)

// The verbs that show jobs: /LIST, /INFO and /LISTFILES, and the line
// formats they share with /TRANSFER and /GETERROR.

// timeLayout is the US short date and long time that Windows' samples show.
const timeLayout = "1/2/2006 3:04:05 PM"

func formatTime(t time.Time, tz *time.Location) string {
	if t.IsZero() {
		return "UNKNOWN"
	}
	return t.In(tz).Format(timeLayout)
}

func formatBytes(n int64) string {
	if n == engine.SizeUnknown {
		return "UNKNOWN"
	}
	return strconv.FormatInt(n, 10)
}

// listLine is one job in /LIST: {GUID} 'name' STATE files bytes.
func listLine(s engine.Summary) string {
	return fmt.Sprintf("{%s} '%s' %s %d / %d %d / %s", s.ID, s.DisplayName, s.State,
		s.FilesTransferred, s.FilesTotal, s.BytesTransferred, formatBytes(s.BytesTotal))
}

// fileLine is one entry of JOB FILES and /LISTFILES.
func fileLine(f engine.File) string {
	status := "WORKING"
	if f.Complete {
		status = "COMPLETED"
	}
	return fmt.Sprintf("%d / %s %s %s -> %s", f.BytesTransferred, formatBytes(f.BytesTotal), status,
		f.RemoteName, f.LocalName)
}

// errorLines are the ERROR FILE, CODE and CONTEXT lines of a job in ERROR
// or TRANSIENT_ERROR; none otherwise. ERROR FILE is left out for an error
// that is not about one file.
func errorLines(j *engine.Job) []string {
	if j.Err == nil || (j.State != engine.Error && j.State != engine.TransientError) {
		return nil
	}
	var out []string
	if f, ok := j.ErrorFile(); ok {
		out = append(out, fmt.Sprintf("ERROR FILE:    %s -> %s", f.RemoteName, f.LocalName))
	}
	out = append(out,
		fmt.Sprintf("ERROR CODE:    0x%08x - %s", uint32(j.Err.Code), j.Err.Code.Message()),
		fmt.Sprintf("ERROR CONTEXT: 0x%08x - %s", uint32(j.Err.Context), j.Err.Context.Message()))
	// Our own line, after the documented ones: what exactly went wrong.
	if m := j.Err.Msg; m != "" && m != j.Err.Code.Message() {
		out = append(out, "ERROR DETAIL:  "+m)
	}
	return out
}

// writeVerbose prints the /INFO /VERBOSE block: the labels and their order
// are what scripts parse.
func writeVerbose(w io.Writer, j *engine.Job, tz *time.Location) {
	total, done, files, filesDone := j.Progress()
	fmt.Fprintf(w, "GUID: {%s} DISPLAY: '%s'\n", j.ID, j.DisplayName)
	fmt.Fprintf(w, "TYPE: %s STATE: %s OWNER: %s\n", j.Type, j.State, j.Owner)
	fmt.Fprintf(w, "PRIORITY: %s FILES: %d / %d BYTES: %d / %s\n", j.Priority, filesDone, files, done, formatBytes(total))
	fmt.Fprintf(w, "CREATION TIME: %s MODIFICATION TIME: %s\n", formatTime(j.Created, tz), formatTime(j.Modified, tz))
	fmt.Fprintf(w, "COMPLETION TIME: %s\n", formatTime(j.TransferCompleted, tz))
	fmt.Fprintf(w, "NOTIFY INTERFACE: UNREGISTERED NOTIFICATION FLAGS: %d\n", j.NotifyFlags)
	fmt.Fprintf(w, "RETRY DELAY: %d NO PROGRESS TIMEOUT: %d ERROR COUNT: %d\n",
		seconds(j.MinRetryDelay), seconds(j.NoProgressTimeout), j.ErrorCount)
	fmt.Fprintf(w, "PROXY USAGE: %s PROXY LIST: %s PROXY BYPASS LIST: %s\n",
		j.ProxyUsage, orNULL(j.ProxyList), orNULL(j.ProxyBypassList))
	for _, l := range errorLines(j) {
		fmt.Fprintln(w, l)
	}
	labelled(w, "DESCRIPTION", j.Description)
	fmt.Fprintln(w, "JOB FILES:")
	for _, f := range j.Files {
		fmt.Fprintln(w, fileLine(f))
	}
	fmt.Fprintf(w, "NOTIFICATION COMMAND LINE: %s\n", notifyCmdLine(j))
	writeSettings(w, j)
	writeVerified(w, j)
	if j.Type == engine.UploadReply {
		fmt.Fprintf(w, "REPLY FILE NAME: %s REPLY PROGRESS: %s\n", orNone(j.ReplyName()), replyProgress(j))
	}
}

// writeSettings prints the settings that Windows' documented /INFO block
// has no line for, after all of its lines, so that scripts that read the
// documented lines by position or by label are not disturbed.
func writeSettings(w io.Writer, j *engine.Job) {
	fmt.Fprintf(w, "MAXIMUM DOWNLOAD TIME: %d\n", seconds(j.MaxDownloadTime))
	labelled(w, "ACL FLAGS", aclLetters(j.ACLFlags))
	fmt.Fprintf(w, "PEERCACHING FLAGS: %d\n", j.PeerCachingFlags)
	switch headers := customHeaders(j); {
	case j.HeadersWriteOnly:
		fmt.Fprintln(w, "CUSTOM HEADERS: (write-only)")
	case len(headers) == 0:
		fmt.Fprintln(w, "CUSTOM HEADERS: none")
	default:
		fmt.Fprintln(w, "CUSTOM HEADERS:")
		for _, h := range headers {
			fmt.Fprintf(w, "\t%s\n", h)
		}
	}
	fmt.Fprintf(w, "HTTP METHOD: %s SECURITY FLAGS: %d\n", j.Method(), j.SecurityFlags)
	fmt.Fprintf(w, "CLIENT CERTIFICATE: %s\n", clientCertLine(j.ClientCert))
	fmt.Fprintf(w, "CREDENTIALS: %s\n", credentialsLine(j.Credentials))
	fmt.Fprintf(w, "HELPER TOKEN: %s HELPER TOKEN FLAGS: %s\n", orNone(j.HelperToken), helperFlags(j.HelperTokenFlags))
	fmt.Fprintf(w, "DYNAMIC CONTENT: %s TRANSFER POLICY: 0x%08x\n", boolWord(j.Dynamic), j.TransferPolicy)
}

// writeVerified prints a line for each file whose content was checked
// against the server's digest; it comes after the settings for the same
// reason they do.
func writeVerified(w io.Writer, j *engine.Job) {
	for i, f := range j.Files {
		if f.Verified != "" {
			fmt.Fprintf(w, "FILE %d VERIFIED: %s digest from the server matched\n", i, f.Verified)
		}
	}
}

// labelled prints "LABEL: value", or "LABEL:" alone for an empty value, as
// DESCRIPTION does.
func labelled(w io.Writer, label, value string) {
	if value == "" {
		fmt.Fprintf(w, "%s:\n", label)
		return
	}
	fmt.Fprintf(w, "%s: %s\n", label, value)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func boolWord(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

func seconds(d time.Duration) int64 { return int64(d / time.Second) }

func orNULL(s string) string {
	if s == "" {
		return "NULL"
	}
	return s
}

type listOptions struct {
	AllUsers bool // every user's jobs (root only)
	Verbose  bool
}

func bindList(ctx context.Context, e *env, c call) error {
	return runList(ctx, e, listOptions{AllUsers: c.has(swAllUsers.name), Verbose: c.has(swVerbose.name)})
}

// runList prints the jobs as the store is read, through a buffer: a list
// of any length holds one job at a time, and costs a write per buffer, not
// per line.
func runList(ctx context.Context, e *env, o listOptions) error {
	w := bufio.NewWriter(e.stdout)
	defer w.Flush()
	n := 0
	var err error
	if o.Verbose {
		err = e.eachJob(ctx, o.AllUsers, func(j *engine.Job) error {
			if n++; n > 1 {
				fmt.Fprintln(w)
			}
			writeVerbose(w, j, e.tz)
			return nil
		})
	} else {
		// One row per job: the store keeps each job's totals.
		err = e.eachManager(ctx, o.AllUsers, func(m *engine.Manager) error {
			return m.EachSummary(ctx, func(s engine.Summary) error {
				n++
				fmt.Fprintln(w, listLine(s))
				return nil
			})
		})
	}
	if err != nil {
		w.Flush() // the jobs read before the failure, then the failure
		return failed("list jobs", err)
	}
	// A blank line closes the list, as on Windows; with no jobs the
	// banner's own blank line already stands before the count.
	if n > 0 {
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Listed %d job(s).\n", n)
	return nil
}

type infoOptions struct {
	Job     string
	Verbose bool
}

func bindInfo(ctx context.Context, e *env, c call) error {
	return runInfo(ctx, e, infoOptions{Job: c.args[0], Verbose: c.has(swVerbose.name)})
}

func runInfo(ctx context.Context, e *env, o infoOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	if o.Verbose {
		writeVerbose(e.stdout, j, e.tz)
	} else {
		fmt.Fprintln(e.stdout, listLine(j.Summary()))
	}
	return nil
}

func bindListFiles(ctx context.Context, e *env, c call) error {
	return runListFiles(ctx, e, jobOptions{Job: c.args[0]})
}

func runListFiles(ctx context.Context, e *env, o jobOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	for _, f := range j.Files {
		fmt.Fprintln(e.stdout, fileLine(f))
	}
	if len(j.Files) > 0 {
		fmt.Fprintln(e.stdout)
	}
	fmt.Fprintf(e.stdout, "Listed %d file(s).\n", len(j.Files))
	return nil
}
