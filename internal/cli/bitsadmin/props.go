package bitsadmin

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"bits/engine"
	"bits/engine/hresult"
)

// The /GET* and /SET* verbs. A getter prints one value: on its own line
// after the banner, or with /RAWRETURN bare, with no newline, for scripts.

// A field is a value a getter prints.
type field struct {
	value func(j *engine.Job) string
}

var (
	fieldState      = field{func(j *engine.Job) string { return j.State.String() }}
	fieldBytesTotal = field{func(j *engine.Job) string {
		total, _, _, _ := j.Progress()
		return formatBytes(total)
	}}
	fieldBytesTransferred = field{func(j *engine.Job) string {
		_, done, _, _ := j.Progress()
		return strconv.FormatInt(done, 10)
	}}
	fieldFilesTotal = field{func(j *engine.Job) string {
		_, _, files, _ := j.Progress()
		return strconv.Itoa(files)
	}}
	fieldFilesTransferred = field{func(j *engine.Job) string {
		_, _, _, done := j.Progress()
		return strconv.Itoa(done)
	}}
	fieldErrorCount        = field{func(j *engine.Job) string { return strconv.Itoa(j.ErrorCount) }}
	fieldMinRetryDelay     = field{func(j *engine.Job) string { return strconv.FormatInt(seconds(j.MinRetryDelay), 10) }}
	fieldNoProgressTimeout = field{func(j *engine.Job) string { return strconv.FormatInt(seconds(j.NoProgressTimeout), 10) }}
)

type getOptions struct {
	Job   string
	Raw   bool
	Field field
}

func runGet(ctx context.Context, e *env, o getOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	printValue(e, o.Raw, o.Field.value(j))
	return nil
}

func printValue(e *env, raw bool, v string) {
	if raw {
		fmt.Fprint(e.stdout, v)
		return
	}
	fmt.Fprintln(e.stdout, v)
}

type getErrorOptions struct {
	Job string
	Raw bool // print only the error code, 0x8xxxxxxx
}

func bindGetError(ctx context.Context, e *env, c call) error {
	return runGetError(ctx, e, getErrorOptions{Job: c.args[0], Raw: c.raw})
}

func runGetError(ctx context.Context, e *env, o getErrorOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	lines := errorLines(j)
	if len(lines) == 0 {
		return &actionError{action: "get error", err: &hresult.Error{Code: hresult.BG_E_ERROR_INFORMATION_UNAVAILABLE}}
	}
	if o.Raw {
		printValue(e, true, fmt.Sprintf("0x%08x", uint32(j.Err.Code)))
		return nil
	}
	fmt.Fprintln(e.stdout, strings.Join(lines, "\n"))
	return nil
}

// A setting is a job property that a /SET* verb changes, in whole seconds.
type setting struct {
	action string // for "Unable to <action>"
	done   string // confirmation, with %d for the value the job now has
	props  func(d time.Duration) engine.Props
	value  func(j *engine.Job) time.Duration
}

var (
	settingMinRetryDelay = setting{
		action: "set the minimum retry delay",
		done:   "Minimum retry delay set to %d seconds.",
		props:  func(d time.Duration) engine.Props { return engine.Props{MinRetryDelay: &d} },
		value:  func(j *engine.Job) time.Duration { return j.MinRetryDelay },
	}
	settingNoProgressTimeout = setting{
		action: "set the no progress timeout",
		done:   "No progress timeout set to %d seconds.",
		props:  func(d time.Duration) engine.Props { return engine.Props{NoProgressTimeout: &d} },
		value:  func(j *engine.Job) time.Duration { return j.NoProgressTimeout },
	}
)

type setOptions struct {
	Job     string
	Value   string // seconds, as typed: a decimal ULONG
	Setting setting
}

func runSetSeconds(ctx context.Context, e *env, o setOptions) error {
	j, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	n, perr := strconv.ParseUint(o.Value, 10, 32)
	if perr != nil {
		return &actionError{action: o.Setting.action, err: invalidArg("%q is not a number of seconds", o.Value)}
	}
	if err := e.m.Set(ctx, j.ID, o.Setting.props(time.Duration(n)*time.Second)); err != nil {
		return &actionError{action: o.Setting.action, err: err}
	}
	// The engine raises values below a floor silently, as BITS does; read
	// the job back so the confirmation says what it now holds.
	now := time.Duration(n) * time.Second
	if j, err := e.m.Get(ctx, j.ID); err == nil {
		now = o.Setting.value(j)
	}
	fmt.Fprintf(e.stdout, o.Setting.done+"\n", seconds(now))
	return nil
}
