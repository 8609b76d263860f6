package bitsjob

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"

	fastjson "github.com/segmentio/encoding/json"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"bits/engine"
)

type importOptions struct {
	File   string // "-": standard input
	Format string // "", "ndjson" or "aria2"; "" looks at the first line
	NewIDs bool   // mint GUIDs instead of keeping those the lines give
	Resume bool
	Props  engine.Props // settings for every job, before each line's own
}

func newImportCmd(e *env) *cobra.Command {
	var (
		s settings
		o importOptions
	)
	cmd := &cobra.Command{
		Use:   "import [flags] FILE|-",
		Short: "Create many jobs from a file: JSON Lines as list --json prints, or an aria2 URL list",
		Long: `Create one job for each entry of FILE (- reads standard input), each whole or
not at all, many thousands a second. Two formats, told apart by the first line
that is neither blank nor a comment (or named with --format):

  ndjson  one job per line, as "bitsjob get --json" and "list --json" print
          them, so a list from one store imports into another. Every setting
          the line carries is applied; fields that only report (JobState,
          OwnerAccount, progress, times, errors, credentials) are ignored, and
          a missing field keeps a new job's default. The job keeps its JobId
          unless --new-ids is given or a job of the store has it already
          (then the line is refused): an interrupted import run again creates
          only the jobs that are missing.
  aria2   aria2c -i's list: a URL per line, one job each, followed by indented
          option lines; dir= (default: the current folder) and out= (default:
          the URL's last path segment) name the local file. Lines starting
          with # are comments.

Settings given as flags apply to every job, before the line's own. Jobs start
suspended unless --resume is given. A line that is refused is reported as
FILE:LINE with the reason and skipped; the others are created. The exit status
is 1 when any line was refused.`,
		Example: `  bitsjob list --json > jobs.ndjson && BITS_HOME=/other bitsjob import jobs.ndjson
  bitsjob import --resume --priority low urls.txt
  bitsjob import --json --new-ids - < jobs.ndjson | jq -r .JobId`,
		Args: nArgs(1, "one FILE, or - for standard input"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.File = args[0]
			switch o.Format {
			case "", "ndjson", "aria2":
			default:
				return usageErr("--format: %q is not ndjson or aria2", o.Format)
			}
			var err error
			if o.Props, err = s.props(cmd.Flags()); err != nil {
				return err
			}
			defer lessGC()()
			return runImport(cmd.Context(), e, o)
		},
	}
	cmd.Flags().StringVar(&o.Format, "format", "", "ndjson or aria2 (default: from the first line)")
	cmd.Flags().BoolVar(&o.NewIDs, "new-ids", false, "give every job a new GUID instead of the JobId of its line")
	cmd.Flags().BoolVar(&o.Resume, "resume", false, "queue the jobs for transfer as they are created")
	s.register(cmd.Flags())
	return cmd
}

// importedJSON is what import --json prints for each job it created.
type importedJSON struct {
	SchemaVersion int
	JobId         string
	Line          int // the line of the input that made it
}

func runImport(ctx context.Context, e *env, o importOptions) error {
	m, err := e.manager()
	if err != nil {
		return err
	}
	name, in := o.File, e.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return &opError{action: "read " + name, err: err}
		}
		defer f.Close()
		in = f
	}
	var common []engine.Props
	if !empty(o.Props) {
		common = append(common, o.Props)
	}
	r := &importReader{o: o, common: common}
	// The lines of the jobs read and not reported yet: Import reports each
	// item in the order it was read, from another goroutine.
	var (
		mu      sync.Mutex
		pending []int
	)
	specs := func(yield func(engine.JobSpec, error) bool) {
		for line, spec := range r.read(in) {
			mu.Lock()
			pending = append(pending, line)
			mu.Unlock()
			if !yield(spec.JobSpec, spec.err) {
				return
			}
		}
	}
	// Each line makes garbage and the import keeps little: collecting
	// less often saves a fifth of its time.
	defer debug.SetGCPercent(debug.SetGCPercent(400))
	created, refused := 0, 0
	err = m.Import(ctx, specs, func(id string, err error) {
		mu.Lock()
		line := pending[0]
		pending = pending[1:]
		mu.Unlock()
		if err != nil {
			refused++
			var se *engine.SubmitError
			if errors.As(err, &se) {
				err = &opError{action: submitActions[se.Step], err: se.Err}
			}
			e.report(&inputError{pos: fmt.Sprintf("%s:%d", name, line), err: err})
			return
		}
		created++
		if e.json {
			writeJSON(e.stdout, importedJSON{SchemaVersion: SchemaVersion, JobId: jobID(id), Line: line})
		}
	})
	if err == nil {
		err = r.err
	}
	if !e.json {
		fmt.Fprintf(e.stdout, "%d jobs created, %d refused\n", created, refused)
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &interrupted{note: fmt.Sprintf("%d jobs were created before the interruption", created)}
	case err != nil:
		return &opError{action: "import " + name, err: err}
	case refused > 0:
		return reported(exitFailed)
	}
	return nil
}

// An inputError is a line of an import's input that was refused; pos is
// FILE:LINE.
type inputError struct {
	pos string
	err error
}

func (e *inputError) Error() string { return e.pos + ": " + e.err.Error() }
func (e *inputError) Unwrap() error { return e.err }

// importReader turns an import's input into job specs.
type importReader struct {
	o      importOptions
	common []engine.Props
	err    error // what stopped the reading early
}

// lineSpec is the job an entry of the input makes, or why it makes none.
type lineSpec struct {
	engine.JobSpec
	err error
}

// maxImportLine bounds a line: a job of 200 files of the longest names
// takes less than 1 MB of JSON.
const maxImportLine = 16 << 20

// read yields each entry of in with the number of the line it starts on
// (or of the line at fault), reading as it goes.
func (r *importReader) read(in io.Reader) iter.Seq2[int, lineSpec] {
	return func(yield func(int, lineSpec) bool) {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), maxImportLine)
		format := r.o.Format
		var entry *ariaEntry // the aria2 entry being read
		flush := func() bool {
			if entry == nil {
				return true
			}
			at, spec := entry.spec(r)
			entry = nil
			return yield(at, spec)
		}
		n := 0
		for sc.Scan() {
			n++
			line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
			trimmed := bytes.TrimSpace(line)
			if len(trimmed) == 0 || trimmed[0] == '#' && format != "ndjson" {
				continue
			}
			if format == "" {
				format = "aria2"
				if trimmed[0] == '{' {
					format = "ndjson"
				}
			}
			if format == "ndjson" {
				if !yield(n, r.fromJSON(trimmed)) {
					return
				}
				continue
			}
			if line[0] == ' ' || line[0] == '\t' {
				if entry == nil {
					if !yield(n, lineSpec{err: usageErr("an option line before any URL")}) {
						return
					}
					continue
				}
				entry.option(n, string(trimmed))
				continue
			}
			if !flush() {
				return
			}
			entry = &ariaEntry{line: n, uris: strings.Split(string(line), "\t")}
		}
		if !flush() {
			return
		}
		if err := sc.Err(); err != nil {
			if errors.Is(err, bufio.ErrTooLong) {
				err = fmt.Errorf("line %d is longer than %d bytes", n+1, maxImportLine)
			}
			r.err = err
		}
	}
}

// ariaEntry is a URL of an aria2 input file and the option lines under it.
type ariaEntry struct {
	line     int
	uris     []string
	dir, out string
	errLine  int
	err      error
}

func (a *ariaEntry) option(line int, s string) {
	if a.err != nil {
		return
	}
	name, value, _ := strings.Cut(s, "=")
	switch strings.TrimSpace(name) {
	case "dir":
		a.dir = value
	case "out":
		a.out = value
	default:
		a.errLine, a.err = line, usageErr("aria2 option %q is not supported (only dir= and out=)", strings.TrimSpace(name))
	}
}

// spec is the job of one aria2 entry: one file, named after its local file.
func (a *ariaEntry) spec(r *importReader) (int, lineSpec) {
	if a.err != nil {
		return a.errLine, lineSpec{err: a.err}
	}
	uris := slices.DeleteFunc(a.uris, func(s string) bool { return strings.TrimSpace(s) == "" })
	if len(uris) != 1 {
		return a.line, lineSpec{err: usageErr("%d tab-separated URLs (aria2 mirrors of one file): a job takes one", len(uris))}
	}
	remote := strings.TrimSpace(uris[0])
	out := a.out
	if out == "" {
		if u, err := url.Parse(remote); err == nil {
			out, _ = url.PathUnescape(path.Base(u.EscapedPath()))
		}
		if out == "" || out == "/" || out == "." {
			return a.line, lineSpec{err: usageErr("the URL names no file: give out=")}
		}
	}
	local, err := filepath.Abs(filepath.Join(a.dir, out))
	if err != nil {
		return a.line, lineSpec{err: usageErr("local name %q: %v", out, err)}
	}
	return a.line, lineSpec{JobSpec: engine.JobSpec{
		Name: filepath.Base(local), Type: engine.Download, Settings: r.common,
		Files: []engine.FileSpec{{Remote: remote, Local: local}}, Resume: r.o.Resume,
	}}
}

// fromJSON reads a job as toJSON prints it.
func (r *importReader) fromJSON(line []byte) lineSpec {
	v, err := decodeJob(line)
	if err != nil {
		return lineSpec{err: err}
	}
	typ, err := parseJobType(v.TransferType)
	if err != nil {
		return lineSpec{err: usageErr("TransferType: %v", err)}
	}
	spec := engine.JobSpec{Name: v.DisplayName, Type: typ, Settings: r.common, Resume: r.o.Resume}
	if v.JobId != "" && !r.o.NewIDs {
		g, ok := parseJobGUID(v.JobId)
		if !ok {
			return lineSpec{err: usageErr("JobId: %q is not a GUID", v.JobId)}
		}
		spec.ID = strings.Trim(g, "{}")
	}
	p, err := jsonProps(&v.jobJSON, typ)
	if err != nil {
		return lineSpec{err: err}
	}
	if !empty(p) {
		spec.Settings = append(slices.Clip(spec.Settings), p)
	}
	for i, f := range v.FileList {
		local, err := filepath.Abs(f.LocalName)
		if f.LocalName == "" || err != nil {
			return lineSpec{err: usageErr("FileList[%d]: no LocalName", i)}
		}
		fs := engine.FileSpec{Remote: f.RemoteName, Local: local, SHA256: f.Sha256}
		for _, rg := range f.FileRanges {
			fs.Ranges = append(fs.Ranges, engine.Range{Offset: rg.InitialOffset, Length: rg.Length})
		}
		spec.Files = append(spec.Files, fs)
	}
	return lineSpec{JobSpec: spec}
}

// importJSON is a job's JSON as import reads it: the printed shape, with
// the fields that only report read as anything at all, and ignored (a
// tool such as jq may have rounded BytesTotal's 2^64-1).
type importJSON struct {
	jobJSON
	JobState, OwnerAccount                                 json.RawMessage
	BytesTotal, BytesTransferred                           json.RawMessage
	FilesTotal, FilesTransferred                           json.RawMessage
	CreationTime, ModificationTime, TransferCompletionTime json.RawMessage
	ErrorCondition, ErrorContext, ErrorContextDescription  json.RawMessage
	ErrorDescription, ErrorDetail                          json.RawMessage
	InternalErrorCode, TransientErrorCount, Credentials    json.RawMessage
	FileList                                               []importFileJSON
}

type importFileJSON struct {
	fileJSON
	BytesTotal, BytesTransferred, IsTransferComplete json.RawMessage
	TemporaryName, ValidationState, VerifiedDigest   json.RawMessage
}

// decodeJob reads one line of JSON. What the line leaves out keeps the
// value a new job of its type shows, so it is no setting; a field that no
// job shows is refused, as a misspelled setting would be lost.
func decodeJob(line []byte) (*importJSON, error) {
	v, err := decodeOver(line, newJobJSON(engine.Download))
	if err != nil {
		return nil, err
	}
	if t, err := parseJobType(v.TransferType); err == nil && t != engine.Download {
		// Read again over the defaults of its type (its HTTP method).
		if v, err = decodeOver(line, newJobJSON(t)); err != nil {
			return nil, err
		}
	}
	if v.SchemaVersion > SchemaVersion {
		return nil, usageErr("SchemaVersion %d is newer than this bitsjob's (%d)", v.SchemaVersion, SchemaVersion)
	}
	return v, nil
}

// decodeOver reads a job's line over def. segmentio's decoder reads a line
// in a third of the time encoding/json takes (an import reads millions);
// a line it refuses is read again by encoding/json, whose messages say
// what is wrong.
func decodeOver(line []byte, def jobJSON) (*importJSON, error) {
	v := importJSON{jobJSON: def}
	if rest, err := fastjson.Parse(line, &v, fastjson.DisallowUnknownFields); err == nil && len(bytes.TrimSpace(rest)) == 0 {
		return &v, nil
	}
	v = importJSON{jobJSON: def}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return nil, usageErr("not a job's JSON: %v", err)
	}
	if dec.More() {
		return nil, usageErr("more than one JSON document on the line")
	}
	return &v, nil
}

// newJobJSON is how a new job of this type prints. Its lists are empty
// with no room, so what decodes over a copy never writes into them.
func newJobJSON(t engine.JobType) jobJSON { return newJobsJSON()[t] }

var newJobsJSON = sync.OnceValue(func() map[engine.JobType]jobJSON {
	out := map[engine.JobType]jobJSON{}
	for t := range typeNames {
		v := toJSON(engine.NewJobTemplate(t))
		v.DisplayName = defaultName
		out[t] = v
	}
	return out
})

// jsonSettings are the settings a job's JSON carries: the field, the flag
// of create that sets it, and the field's value as that flag's values.
// Import gives the flags whose values differ from a new job's and parses
// them as create does, so both read every value the same way. The settings
// of one value are those of engine.Settings with a flag, whose JSON field
// is the setting's name; the rest are the compound settings' parts.
var jsonSettings = append([]jsonSetting{
	{"NotifyCmdLine", "notify-cmdline", func(v *jobJSON) []string { return v.NotifyCmdLine }},
	{"ProxyUsage", "proxy-usage", func(v *jobJSON) []string { return []string{v.ProxyUsage} }},
	{"ProxyList", "proxy-list", func(v *jobJSON) []string { return v.ProxyList }},
	{"ProxyBypassList", "proxy-bypass", func(v *jobJSON) []string { return v.ProxyBypassList }},
	{"CustomHeaders", "custom-header", func(v *jobJSON) []string { return v.CustomHeaders }},
	{"CustomHeadersWriteOnly", "custom-headers-write-only", func(v *jobJSON) []string { return []string{strconv.FormatBool(v.CustomHeadersWriteOnly)} }},
	{"CertStoreLocation", "cert-store-location", func(v *jobJSON) []string {
		if v.CertStoreLocation == nil {
			return nil
		}
		return []string{*v.CertStoreLocation}
	}},
	{"CertStoreName", "cert-store-name", func(v *jobJSON) []string { return []string{v.CertStoreName} }},
	{"CertHash", "cert-hash", func(v *jobJSON) []string { return []string{v.CertHash} }},
	{"CertSubject", "cert-subject", func(v *jobJSON) []string { return []string{v.CertSubject} }},
}, settingFields()...)

type jsonSetting struct {
	field, flag string
	values      func(v *jobJSON) []string
}

// settingFields are the jsonSettings of engine.Settings: each reads the
// field of jobJSON named after the setting.
func settingFields() []jsonSetting {
	var out []jsonSetting
	t := reflect.TypeFor[jobJSON]()
	for _, st := range engine.Settings() {
		if st.Kind == engine.KindCompound || st.Flag == "" {
			continue
		}
		f, ok := t.FieldByName(st.Name)
		if !ok {
			panic("bitsjob: no JSON field " + st.Name)
		}
		i := f.Index
		out = append(out, jsonSetting{st.Name, st.Flag, func(v *jobJSON) []string {
			switch f := reflect.ValueOf(v).Elem().FieldByIndex(i); f.Kind() {
			case reflect.String:
				return []string{f.String()}
			case reflect.Bool:
				return []string{strconv.FormatBool(f.Bool())}
			case reflect.Uint32:
				return number(uint32(f.Uint()))
			case reflect.Int64:
				return number(f.Int())
			default:
				panic("bitsjob: JSON field " + st.Name + " of kind " + f.Kind().String())
			}
		}})
	}
	return out
}

func number[T int64 | uint32](n T) []string { return []string{strconv.FormatInt(int64(n), 10)} }

// jsonProps converts the settings of a job's JSON that differ from a new
// job's into Props, through create's flags.
func jsonProps(v *jobJSON, typ engine.JobType) (engine.Props, error) {
	def := newJobJSON(typ)
	var args []string
	for _, s := range jsonSettings {
		vals := s.values(v)
		if slices.Equal(vals, s.values(&def)) {
			continue
		}
		if len(vals) == 0 {
			vals = []string{""} // a list emptied: one empty value clears it
		}
		for _, val := range vals {
			args = append(args, "--"+s.flag+"="+val)
		}
	}
	if len(args) == 0 {
		return engine.Props{}, nil
	}
	fs := pflag.NewFlagSet("import", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var s settings
	s.register(fs)
	err := fs.Parse(args)
	var p engine.Props
	if err == nil {
		p, err = s.props(fs)
	}
	if err != nil {
		// Name the field, not the flag that read it.
		msg := err.Error()
		for _, s := range jsonSettings {
			msg = strings.ReplaceAll(msg, "--"+s.flag, s.field)
		}
		return p, usageErr("%s", msg)
	}
	return p, nil
}
