package bitsjob

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/olekukonko/tablewriter"

	"bits/engine"
)

// Human output: tables without borders, one row per job, in the style of
// kubectl and docker. Scripts should use --json instead: these columns may
// change.

// table is a tablewriter.Table that writes its lines without the blanks
// that pad the last column.
type table struct {
	*tablewriter.Table
	buf bytes.Buffer
	w   io.Writer
}

func (t *table) Render() {
	t.Table.Render()
	for _, l := range strings.SplitAfter(t.buf.String(), "\n") {
		if l != "" {
			io.WriteString(t.w, strings.TrimRight(l, " \n")+"\n")
		}
	}
	t.buf.Reset()
}

func newTable(w io.Writer, header ...string) *table {
	t := &table{w: w}
	t.Table = tablewriter.NewWriter(&t.buf)
	t.SetHeader(header)
	t.SetAutoFormatHeaders(false)
	t.SetAutoWrapText(false)
	t.SetHeaderAlignment(tablewriter.ALIGN_LEFT)
	t.SetAlignment(tablewriter.ALIGN_LEFT)
	t.SetBorder(false)
	t.SetHeaderLine(false)
	t.SetColumnSeparator("")
	t.SetCenterSeparator("")
	t.SetRowSeparator("")
	t.SetTablePadding("  ")
	t.SetNoWhiteSpace(true)
	return t
}

// printJobs prints jobs as JSON Lines or as a table.
func (e *env) printJobs(w io.Writer, jobs []*engine.Job) error {
	if e.json {
		for _, j := range jobs {
			v := toJSONReusing(j, e.fileBuf)
			e.fileBuf = v.FileList
			e.line = append(appendJob(e.line[:0], &v), '\n')
			if _, err := w.Write(e.line); err != nil {
				return err
			}
		}
		return nil
	}
	if len(jobs) == 0 {
		return nil
	}
	summaries := make([]engine.Summary, len(jobs))
	for i, j := range jobs {
		summaries[i] = j.Summary()
	}
	printSummaries(w, summaries)
	return nil
}

// printSummaries prints jobs as a table, a row each.
func printSummaries(w io.Writer, jobs []engine.Summary) {
	t := newTable(w, "JOB ID", "NAME", "TYPE", "STATE", "OWNER", "FILES", "BYTES")
	for _, s := range jobs {
		t.Append([]string{jobID(s.ID), s.DisplayName, nameOr(typeNames, s.Type), nameOr(stateNames, s.State), s.Owner,
			fmt.Sprintf("%d/%d", s.FilesTransferred, s.FilesTotal), progressText(s.BytesTransferred, s.BytesTotal)})
	}
	t.Render()
}

// progressText is "done/total", with "?" for a total not known yet.
func progressText(done, total int64) string {
	t := "?"
	if total != engine.SizeUnknown {
		t = strconv.FormatInt(total, 10)
	}
	return fmt.Sprintf("%d/%s", done, t)
}

// printDetails prints each job's properties and files: what `get` shows.
func (e *env) printDetails(w io.Writer, jobs []*engine.Job) error {
	if e.json {
		return e.printJobs(w, jobs)
	}
	for i, j := range jobs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		v := toJSON(j)
		t := newTable(w, "PROPERTY", "VALUE")
		rows := [][2]string{
			{"JobId", v.JobId}, {"DisplayName", v.DisplayName}, {"Description", v.Description},
			{"TransferType", v.TransferType}, {"JobState", v.JobState}, {"OwnerAccount", v.OwnerAccount},
			{"Priority", v.Priority}, {"TransferPolicy", v.TransferPolicy},
			{"Files", fmt.Sprintf("%d/%d", v.FilesTransferred, v.FilesTotal)},
			{"Bytes", progressText(int64(v.BytesTransferred), sizeOrUnknown(v.BytesTotal))},
			{"CreationTime", timeText(j.Created)}, {"ModificationTime", timeText(j.Modified)},
			{"TransferCompletionTime", timeText(j.TransferCompleted)},
		}
		if v.ErrorCondition != "NoError" {
			rows = append(rows, [][2]string{
				{"ErrorCondition", v.ErrorCondition},
				{"Error", fmt.Sprintf("0x%08X %s", uint32(v.InternalErrorCode), v.ErrorDescription)},
				{"ErrorContext", v.ErrorContext + ": " + v.ErrorContextDescription},
			}...)
		}
		rows = append(rows, [][2]string{
			{"TransientErrorCount", strconv.Itoa(v.TransientErrorCount)},
			{"RetryInterval", seconds(v.RetryInterval)}, {"RetryTimeout", seconds(v.RetryTimeout)},
			{"MaxDownloadTime", seconds(v.MaxDownloadTime)},
			{"ProxyUsage", v.ProxyUsage}, {"ProxyList", strings.Join(v.ProxyList, " ")},
			{"ProxyBypassList", strings.Join(v.ProxyBypassList, " ")},
			{"NotifyFlags", fmt.Sprintf("0x%X", v.NotifyFlags)}, {"NotifyCmdLine", strings.Join(v.NotifyCmdLine, " ")},
			{"CustomHeaders", headersText(v)}, {"HttpMethod", v.HttpMethod},
			{"SecurityFlags", fmt.Sprintf("0x%X", v.SecurityFlags)}, {"ACLFlags", aclText(v.ACLFlags)},
			{"Dynamic", strconv.FormatBool(v.Dynamic)},
		}...)
		if v.CertStoreLocation != nil {
			cert := *v.CertStoreLocation + `\` + v.CertStoreName + `\`
			if v.CertHash != "" {
				cert += v.CertHash
			} else {
				cert += v.CertSubject
			}
			rows = append(rows, [2]string{"ClientCertificate", cert})
		}
		if v.HelperTokenAccount != "" {
			rows = append(rows, [2]string{"HelperToken", fmt.Sprintf("%s (flags 0x%X)", v.HelperTokenAccount, v.HelperTokenFlags)})
		}
		if j.Type == engine.UploadReply {
			rows = append(rows, [2]string{"ReplyFileName", v.ReplyFileName})
		}
		var creds []string
		for _, c := range v.Credentials {
			creds = append(creds, c.Target+"/"+c.Scheme)
		}
		rows = append(rows, [2]string{"Credentials", strings.Join(creds, ", ")})
		for _, r := range rows {
			t.Append(r[:])
		}
		t.Render()
		if len(j.Files) > 0 {
			fmt.Fprintln(w)
			ft := newTable(w, "#", "STATE", "BYTES", "REMOTE NAME", "LOCAL NAME")
			for _, f := range j.Files {
				state := "working"
				if f.Complete {
					state = "complete"
				}
				ft.Append([]string{strconv.Itoa(f.Index), state, progressText(f.BytesTransferred, f.BytesTotal), f.RemoteName, f.LocalName})
			}
			ft.Render()
		}
	}
	return nil
}

func sizeOrUnknown(n uint64) int64 {
	if n == sizeUnknown {
		return engine.SizeUnknown
	}
	return int64(n)
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func seconds(s int64) string { return strconv.FormatInt(s, 10) + " s" }

func headersText(v jobJSON) string {
	if v.CustomHeadersWriteOnly {
		return "(write-only)"
	}
	return strings.Join(v.CustomHeaders, "; ")
}

func aclText(f uint32) string {
	var s strings.Builder
	for i, c := range "ogds" {
		if f&(1<<i) != 0 {
			s.WriteRune(c)
		}
	}
	if s.Len() == 0 {
		return "-"
	}
	return s.String()
}
