package bitsadmin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"bits/engine"
	"bits/hresult"
	"bits/internal/progress"
)

// /TRANSFER: create a job, add its files, resume it and wait, showing its
// progress, until it is TRANSFERRED (then complete it) or in ERROR (then
// report and cancel it). Ctrl+C cancels it.

type transferOptions struct {
	Name     string
	Type     engine.JobType
	Priority *string // as typed; nil: NORMAL
	ACLFlags *string // as typed; nil when not given
	Dynamic  bool
	Files    [][2]string // remote, local
}

func bindTransfer(ctx context.Context, e *env, c call) error {
	o := transferOptions{Name: c.args[0], Type: engine.Download, Dynamic: c.has("/DYNAMIC")}
	if c.has(swUpload.name) {
		o.Type = engine.Upload
	}
	if p, ok := c.sw["/PRIORITY"]; ok {
		o.Priority = &p
	}
	if f, ok := c.sw["/ACLFLAGS"]; ok {
		o.ACLFlags = &f
	}
	for i := 1; i+1 < len(c.args); i += 2 {
		o.Files = append(o.Files, [2]string{c.args[i], c.args[i+1]})
	}
	return runTransfer(ctx, e, o)
}

func runTransfer(ctx context.Context, e *env, o transferOptions) error {
	// Everything that can be checked is checked before the job exists.
	prio := engine.Normal
	if o.Priority != nil {
		p, ok := engine.ParsePriority(*o.Priority)
		if !ok {
			return &actionError{action: "set the job priority", err: invalidArg("priority %q", *o.Priority)}
		}
		prio = p
	}
	var acl *uint32
	if o.ACLFlags != nil {
		f, ok := parseACLLetters(*o.ACLFlags)
		if !ok {
			return &actionError{action: "set the ACL flags", err: invalidArg("ACL flags %q", *o.ACLFlags)}
		}
		acl = &f
	}
	m, err := e.manager()
	if err != nil {
		return err
	}
	sig, stop := e.interrupt()
	defer stop()

	spec := engine.JobSpec{Name: o.Name, Type: o.Type}
	var settingActions []string
	setting := func(action string, p engine.Props) {
		spec.Settings = append(spec.Settings, p)
		settingActions = append(settingActions, action)
	}
	if prio != engine.Normal {
		setting("set the job priority", engine.Props{Priority: &prio})
	}
	if acl != nil {
		setting("set the ACL flags", engine.Props{ACLFlags: acl})
	}
	if o.Dynamic {
		// Dynamic content is for servers that give no size or ranges; the
		// engine says whether this job may have it.
		setting("set dynamic content", engine.Props{Dynamic: &o.Dynamic})
	}
	for _, f := range o.Files {
		spec.Files = append(spec.Files, engine.FileSpec{Remote: f[0], Local: f[1]})
	}
	// The job is made whole or not at all: bad input leaves nothing.
	j, err := m.Submit(ctx, spec)
	var se *engine.SubmitError
	if errors.As(err, &se) {
		action := map[engine.SubmitStep]string{engine.StepCreate: "create job", engine.StepFiles: "add file"}[se.Step]
		if se.Step == engine.StepSettings {
			action = settingActions[se.Setting]
		}
		return &actionError{action: action, err: se.Err}
	}
	if err != nil {
		return &actionError{action: "create job", err: err}
	}
	// From here on a failure cancels the job.
	t := &transfer{e: e, m: m, id: j.ID, sig: sig}
	if t.interrupted() {
		return t.canceled()
	}
	if err := m.Resume(ctx, j.ID); err != nil {
		return t.abandon(&actionError{action: "resume job", err: err})
	}
	return t.wait(ctx)
}

type transfer struct {
	e   *env
	m   *engine.Manager
	id  string
	sig <-chan os.Signal
}

func (t *transfer) interrupted() bool {
	select {
	case <-t.sig:
		return true
	default:
		return false
	}
}

// abandon cancels the job and returns err. The job is gone either way, so
// a failure to cancel it is only reported.
func (t *transfer) abandon(err error) error {
	if _, cerr := t.m.Cancel(context.Background(), t.id); cerr != nil && !hresult.Is(cerr, hresult.BG_E_NOT_FOUND) {
		code, msg := codeAndMessage(cerr)
		t.e.printFailure("cancel job", code, msg)
	}
	return err
}

func (t *transfer) canceled() error {
	err := t.abandon(exitStatus(exitUsage))
	fmt.Fprintln(t.e.stderr, "Transfer canceled.")
	return err
}

// wait follows the job until it ends and reports how it ended: it reads
// the job again whenever the store changes, and at least every poll.
func (t *transfer) wait(ctx context.Context) error {
	view := &progressView{w: t.e.stdout, terminal: t.e.terminal}
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	for {
		j, err := t.m.Get(ctx, t.id)
		if err != nil {
			return t.abandon(&actionError{action: "get the job state", err: err})
		}
		view.show(j)
		switch j.State {
		case engine.Transferred:
			// A failed Complete keeps the job: its files are on disk and
			// /COMPLETE can be tried again.
			if _, err := t.m.Complete(ctx, t.id); err != nil {
				return &actionError{action: "complete job", err: err}
			}
			fmt.Fprintln(t.e.stdout, "Transfer complete.")
			return nil
		case engine.Error:
			code := hresult.E_FAIL
			if j.Err != nil {
				code = j.Err.Code
			}
			for _, l := range errorLines(j) {
				fmt.Fprintln(t.e.stderr, l)
			}
			fmt.Fprintln(t.e.stderr, "Unable to complete transfer.")
			return t.abandon(exitStatus(exitCode(code)))
		}
		// TRANSIENT_ERROR and SUSPENDED keep waiting, as on Windows.
		changed := make(chan error, 1)
		wait := t.m.WaitState // progress is shown on a terminal only
		if t.e.terminal {
			wait = t.m.WaitJob
		}
		go func() { changed <- wait(wctx, t.id, j.State, t.e.poll) }()
		select {
		case <-t.sig:
			return t.canceled()
		case <-ctx.Done():
			return t.canceled()
		case err := <-changed:
			if err != nil && ctx.Err() == nil {
				return t.abandon(&actionError{action: "get the job state", err: err})
			}
		}
	}
}

// statusLines are the two lines /TRANSFER shows for a job.
func statusLines(j *engine.Job) (string, string) {
	total, done, files, filesDone := j.Progress()
	bytes := fmt.Sprintf("%d / %s", done, formatBytes(total))
	if total != engine.SizeUnknown {
		bytes += fmt.Sprintf(" (%d%%)", progress.Percent(done, total))
	}
	return fmt.Sprintf("DISPLAY: '%s' TYPE: %s STATE: %s", j.DisplayName, j.Type, j.State),
		fmt.Sprintf("PRIORITY: %s FILES: %d / %d BYTES: %s", j.Priority, filesDone, files, bytes)
}

// progressView shows a transfer's two status lines: on a terminal it
// redraws them in place whenever they change, with a third line for people
// (the file that moves, its progress, the rate and the time left);
// otherwise it prints the two once per state, so a log gets a line per step
// and no escape codes.
type progressView struct {
	w        io.Writer
	terminal bool
	drawn    bool
	last     string       // the lines last drawn
	state    engine.State // the state last printed
	meter    progress.Meter
	now      func() time.Time // nil: time.Now
}

func (v *progressView) show(j *engine.Job) {
	l1, l2 := statusLines(j)
	text := l1 + "\n" + l2 + "\n"
	if v.terminal {
		now := time.Now
		if v.now != nil {
			now = v.now
		}
		total, done, _, _ := j.Progress()
		name := ""
		if f, ok := j.Moving(); ok && f.LocalName != "" {
			name = filepath.Base(f.LocalName)
		}
		text += progress.Line(name, done, total, v.meter.Rate(done, now())) + "\n"
	}
	switch {
	case v.terminal && !v.drawn:
		io.WriteString(v.w, text)
	case v.terminal && text != v.last:
		// Up to the first of the three lines, then clear and rewrite each.
		io.WriteString(v.w, "\r\x1b[3A\x1b[J"+text)
	case !v.drawn || j.State != v.state:
		io.WriteString(v.w, text)
	}
	v.drawn, v.last, v.state = true, text, j.State
}
