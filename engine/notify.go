package engine

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"time"

	"bits/storage"
)

// maxNotifyOutput bounds how much of a notification program's output goes
// into the worker log.
const maxNotifyOutput = 64 << 10

// notifyDue starts the notification programs that are due. Each runs in
// its own goroutine, at most one per job, so a slow program holds up
// nothing else.
func (w *worker) notifyDue(ctx context.Context) (pending bool, next time.Time) {
	var due []*Job
	err := w.m.store.View(ctx, func(tx *storage.Tx) error {
		rows, err := tx.JobsNotifyDue()
		for _, r := range rows {
			due = append(due, fromRow(r, nil))
		}
		return err
	})
	if err != nil {
		w.log.Error("notifications", "err", err)
		return false, time.Time{}
	}
	now := w.m.opts.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, j := range due {
		if now.Before(j.notifyAt) {
			if next.IsZero() || j.notifyAt.Before(next) {
				next = j.notifyAt
			}
			continue
		}
		if w.notifying[j.ID] {
			continue
		}
		w.notifying[j.ID] = true
		go func() {
			w.notify(ctx, j)
			w.mu.Lock()
			delete(w.notifying, j.ID)
			w.mu.Unlock()
		}()
	}
	return len(due) > 0, next
}

// notify runs a job's notification program as BITS does: without a shell,
// with the parameter string split into its arguments (the first is the
// program's own name), as the worker's user, who owns the job. A program
// that fails runs again after the job's retry delay, as long as the job
// stays in the state that called for it.
func (w *worker) notify(ctx context.Context, j *Job) {
	args := SplitCommandLine(j.NotifyParameters)
	if len(args) == 0 {
		args = []string{j.NotifyProgram}
	}
	cmd := exec.CommandContext(ctx, j.NotifyProgram)
	cmd.Args = args
	cmd.Dir = "/"
	out := &limitedBuffer{max: maxNotifyOutput}
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()

	retryAt := time.Time{}
	_, cerr := w.m.change(context.WithoutCancel(ctx), j.ID, func(_ *storage.Tx, cur *Job) error {
		if cur.State != j.State || !cur.notifyAt.Equal(j.notifyAt) {
			return errStateRefused("the job moved on") // completed, cancelled or resumed meanwhile
		}
		cur.notifyAt = time.Time{}
		if err != nil {
			cur.notifyAt = w.m.opts.Now().Add(cur.MinRetryDelay)
			retryAt = cur.notifyAt
		}
		return nil
	})
	if cerr != nil {
		retryAt = time.Time{} // nothing left to retry
	}
	w.log.Info("notification program ran", "job", j.ID, "state", j.State, "program", j.NotifyProgram,
		"err", errString(err), "retry_at", retryAt, "output", strings.TrimRight(out.String(), "\n"))
}

func errString(err error) string {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &exit):
		return exit.String()
	}
	return err.Error()
}

// SplitCommandLine splits a Windows-style command line, as the worker does
// with a notification program's parameter string: words separated by
// blanks, double quotes group, and \" is a literal quote.
func SplitCommandLine(s string) []string {
	var args []string
	var cur strings.Builder
	inWord, quoted := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
			inWord = true
		case c == '"':
			quoted = !quoted
			inWord = true
		case (c == ' ' || c == '\t') && !quoted:
			if inWord {
				args = append(args, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		args = append(args, cur.String())
	}
	return args
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
