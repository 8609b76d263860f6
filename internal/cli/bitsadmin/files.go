package bitsadmin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"bits/engine"
	"bits/hresult"
)

// The verbs about a job's files beyond /ADDFILE and /LISTFILES: file sets,
// byte ranges, remote prefixes, validation, temporary names, peer
// statistics, and the reply of upload-reply jobs.

type addFileSetOptions struct {
	Job   string
	Files []engine.FileSpec
}

// bindAddFileSet reads the whole file set before anything is added: one
// `remote local` pair per line, blank lines and lines starting with # left
// out; a name with spaces is written in double quotes. Then the files are
// added all at once, or none of them.
func bindAddFileSet(ctx context.Context, e *env, c call) error {
	const action = "add file set to job"
	data, err := os.ReadFile(c.args[1])
	if err != nil {
		return &actionError{action: action, err: readError(err), note: err.Error()}
	}
	specs, err := parseFileSet(string(data))
	if err != nil {
		return &actionError{action: action, err: invalidArg("%v", err), note: err.Error()}
	}
	return runAddFileSet(ctx, e, addFileSetOptions{Job: c.args[0], Files: specs})
}

func runAddFileSet(ctx context.Context, e *env, o addFileSetOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	if err := e.m.AddFiles(ctx, j.ID, o.Files); err != nil {
		return &actionError{action: "add file set to job", err: err}
	}
	fmt.Fprintf(e.stdout, "Added %d file(s) to job.\n", len(o.Files))
	return nil
}

// readError gives a failure to read a local file its HRESULT.
func readError(err error) error {
	code := hresult.E_FAIL
	switch {
	case errors.Is(err, fs.ErrNotExist):
		code = hresult.E_FILE_NOT_FOUND
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EISDIR):
		code = hresult.E_ACCESSDENIED
	}
	return &hresult.Error{Code: code, Msg: err.Error()}
}

func parseFileSet(text string) ([]engine.FileSpec, error) {
	var specs []engine.FileSpec
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		words, ok := splitWords(line)
		if !ok || len(words) != 2 {
			return nil, fmt.Errorf("line %d: want a remote name and a local name", n+1)
		}
		specs = append(specs, engine.FileSpec{Remote: words[0], Local: words[1]})
	}
	if len(specs) == 0 {
		return nil, errors.New("the file set names no file")
	}
	return specs, nil
}

// splitWords splits a line at blanks; double quotes group a word with
// blanks in it. It fails on a quote left open.
func splitWords(line string) ([]string, bool) {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case (r == ' ' || r == '\t') && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, !quoted
}

type addFileWithRangesOptions struct {
	Job, Remote, Local string
	Ranges             []engine.Range
}

func bindAddFileWithRanges(ctx context.Context, e *env, c call) error {
	ranges, err := engine.ParseRanges(c.args[3])
	if err != nil {
		return &actionError{action: "add file to job", err: err}
	}
	return runAddFileWithRanges(ctx, e, addFileWithRangesOptions{Job: c.args[0], Remote: c.args[1], Local: c.args[2], Ranges: ranges})
}

func runAddFileWithRanges(ctx context.Context, e *env, o addFileWithRangesOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	if err := e.m.AddFileWithRanges(ctx, j.ID, o.Remote, o.Local, o.Ranges); err != nil {
		return &actionError{action: "add file to job", err: err}
	}
	fmt.Fprintf(e.stdout, "Added %s -> %s to job.\n", o.Remote, o.Local)
	return nil
}

type replacePrefixOptions struct {
	Job, Old, New string
}

func bindReplaceRemotePrefix(ctx context.Context, e *env, c call) error {
	return runReplaceRemotePrefix(ctx, e, replacePrefixOptions{Job: c.args[0], Old: c.args[1], New: c.args[2]})
}

// runReplaceRemotePrefix changes the start of the remote names. No match
// is BITS' S_FALSE: a success that changed nothing.
func runReplaceRemotePrefix(ctx context.Context, e *env, o replacePrefixOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	n, err := e.m.ReplaceRemotePrefix(ctx, j.ID, o.Old, o.New)
	if err != nil {
		return &actionError{action: "replace remote prefix", err: err}
	}
	if n == 0 {
		fmt.Fprintf(e.stdout, "No remote name starts with %s: nothing changed.\n", o.Old)
		return nil
	}
	fmt.Fprintf(e.stdout, "Remote prefix replaced in %d file(s).\n", n)
	return nil
}

// parseIndex reads a 0-based file index.
func parseIndex(action, s string) (int, error) {
	n, err := parseULONG(s)
	if err != nil {
		return 0, &actionError{action: action, err: invalidArg("%q is not a file index", s)}
	}
	return int(n), nil
}

// fileAt returns file idx of j, or an E_INVALIDARG failure of action.
func fileAt(j *engine.Job, idx int, action string) (engine.File, error) {
	if idx >= len(j.Files) {
		return engine.File{}, &actionError{action: action, err: invalidArg("the job has no file %d", idx)}
	}
	return j.Files[idx], nil
}

type validationOptions struct {
	Job   string
	Index int
	Valid bool
}

func bindSetValidationState(ctx context.Context, e *env, c call) error {
	const action = "set validation state"
	idx, err := parseIndex(action, c.args[1])
	if err != nil {
		return err
	}
	var valid bool
	switch strings.ToUpper(c.args[2]) {
	case "TRUE":
		valid = true
	case "FALSE":
	default:
		return &actionError{action: action, err: invalidArg("%q is not TRUE or FALSE", c.args[2])}
	}
	return runSetValidationState(ctx, e, validationOptions{Job: c.args[0], Index: idx, Valid: valid})
}

func runSetValidationState(ctx context.Context, e *env, o validationOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	if err := e.m.SetValidationState(ctx, j.ID, o.Index, o.Valid); err != nil {
		return &actionError{action: "set validation state", err: err}
	}
	fmt.Fprintf(e.stdout, "Set the validation state of file %d to %s.\n", o.Index, boolWord(o.Valid))
	return nil
}

// A fileField is a value of one file that a getter prints.
type fileField struct {
	action string
	value  func(f engine.File) (string, error)
}

var (
	// A file nobody marked is not valid yet: GetValidationState says FALSE.
	fileValidation = fileField{action: "get validation state", value: func(f engine.File) (string, error) {
		return boolWord(f.Validation == engine.Valid), nil
	}}
	fileTempName = fileField{action: "get temporary name", value: func(f engine.File) (string, error) {
		return orNone(f.TempName), nil
	}}
	// Peer caching is off: no byte ever comes from a peer, and Windows
	// answers its peer caching commands with BG_E_PEERCACHING_DISABLED.
	filePeerStats = fileField{action: "get peer statistics", value: func(engine.File) (string, error) {
		return "", &hresult.Error{Code: hresult.BG_E_PEERCACHING_DISABLED}
	}}
)

type getFileOptions struct {
	Job   string
	Index int
	Raw   bool
	Field fileField
}

func fileGetter(name, help string, f fileField) verb {
	return verb{name: name, syntax: "<job> <file_index>", help: help, grammar: jobAnd1,
		run: func(ctx context.Context, e *env, c call) error {
			idx, err := parseIndex(f.action, c.args[1])
			if err != nil {
				return err
			}
			return runGetFile(ctx, e, getFileOptions{Job: c.args[0], Index: idx, Raw: c.raw, Field: f})
		}}
}

func runGetFile(ctx context.Context, e *env, o getFileOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	f, err := fileAt(j, o.Index, o.Field.action)
	if err != nil {
		return err
	}
	v, err := o.Field.value(f)
	if err != nil {
		return &actionError{action: o.Field.action, err: err}
	}
	printValue(e, o.Raw, v)
	return nil
}

func bindGetReplyData(ctx context.Context, e *env, c call) error {
	return runGetReplyData(ctx, e, jobOptions{Job: c.args[0]})
}

// runGetReplyData dumps an upload-reply job's reply in hex (the spec says
// a hex dump) once the job is TRANSFERRED; at most 1 MiB, as in BITS.
func runGetReplyData(ctx context.Context, e *env, o jobOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	data, err := e.m.ReplyData(ctx, j.ID)
	if err != nil {
		return &actionError{action: "get reply data", err: err}
	}
	writeReplyData(e.stdout, data)
	return nil
}

// writeReplyData prints the reply's length and then the bytes in the
// layout of hexdump -C: offset, sixteen bytes in hex, and the printable text.
func writeReplyData(w io.Writer, data []byte) {
	fmt.Fprintf(w, "Reply data: %d byte(s)\n", len(data))
	for off := 0; off < len(data); off += 16 {
		row := data[off:min(off+16, len(data))]
		var hexPart, text strings.Builder
		for i := range 16 {
			if i == 8 {
				hexPart.WriteByte(' ')
			}
			if i < len(row) {
				fmt.Fprintf(&hexPart, "%02x ", row[i])
				c := row[i]
				if c < 32 || c > 126 {
					c = '.'
				}
				text.WriteByte(c)
			} else {
				hexPart.WriteString("   ")
			}
		}
		fmt.Fprintf(w, "%08x  %s |%s|\n", off, hexPart.String(), text.String())
	}
}
