package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
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
	cmd.Dir = notifyDir()
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

// notifyDir is where a notification program runs: the user's home
// folder, so that a relative name such as `touch done` lands where the user
// looks, as a program started from their shell would; / without one.
func notifyDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		if fi, err := os.Stat(home); err == nil && fi.IsDir() {
			return home
		}
	}
	return "/"
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

// SplitCommandLine splits a command line as a Windows program's C runtime
// splits its own, by the rules that CommandLineToArgvW documents, as the
// worker does with a notification program's parameter string. The first
// word is the program's name: blanks end it, double quotes group and are
// dropped, backslashes are plain. In the others, blanks separate words
// outside double quotes; 2n backslashes before a quote are n backslashes
// and the quote groups, 2n+1 are n backslashes and a literal quote; other
// backslashes are plain; "" inside quotes is a literal quote.
func SplitCommandLine(s string) []string {
	var args []string
	i := 0
	blanks := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
	}
	blanks()
	if i < len(s) {
		var b strings.Builder
		for quoted := false; i < len(s); i++ {
			c := s[i]
			if c == '"' {
				quoted = !quoted
				continue
			}
			if (c == ' ' || c == '\t') && !quoted {
				break
			}
			b.WriteByte(c)
		}
		args = append(args, b.String())
	}
	for blanks(); i < len(s); blanks() {
		var w string
		w, i = argument(s, i)
		args = append(args, w)
	}
	return args
}

// argument reads the word of a command line that starts at i, by the C
// runtime's rules, and returns it with the index after it.
func argument(s string, i int) (string, int) {
	var b strings.Builder
	quoted := false
	for i < len(s) {
		c := s[i]
		switch {
		case c == '\\':
			n := 0
			for ; i < len(s) && s[i] == '\\'; i++ {
				n++
			}
			if i < len(s) && s[i] == '"' {
				b.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					b.WriteByte('"')
					i++
				}
			} else {
				b.WriteString(strings.Repeat(`\`, n))
			}
			continue
		case c == '"' && quoted && i+1 < len(s) && s[i+1] == '"':
			b.WriteByte('"')
			i++
		case c == '"':
			quoted = !quoted
		case (c == ' ' || c == '\t') && !quoted:
			return b.String(), i
		default:
			b.WriteByte(c)
		}
		i++
	}
	return b.String(), i
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
