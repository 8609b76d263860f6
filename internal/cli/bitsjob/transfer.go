package bitsjob

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	pathpkg "path"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"bits/engine"
	"bits/hresult"
	"bits/internal/progress"
)

// transferOptions are transfer's own flags.
type transferOptions struct {
	noComplete  bool   // leave the job TRANSFERRED
	remoteName  bool   // -O: every argument is a REMOTE, saved under its own name
	outputDir   string // with -O: where
	onInterrupt string // cancel, keep or ask
}

func newTransferCmd(e *env) *cobra.Command {
	var (
		s        settings
		sums     []string
		name     string
		typeName string
		t        transferOptions
	)
	cmd := &cobra.Command{
		Use:   "transfer [flags] REMOTE LOCAL [REMOTE LOCAL]... | -O REMOTE...",
		Short: "Transfer files now and wait: create, resume, follow, complete",
		Long: `Create a job with the given settings and files, resume it, and wait. On a
terminal a progress bar follows it; with --json every step (a change of state,
bytes or files) is printed as the job's JSON, one line each. When the job is
transferred it is completed, so the files appear under their final names, and
the last line shows it Acknowledged (--no-complete leaves it Transferred).
When it fails the job is left in ERROR for "bitsjob get" to explain, and the
exit status is 4. Transient errors are waited out, as BITS does. The job is
Foreground unless --priority says otherwise, as with Start-BitsTransfer. With
-O each argument is a REMOTE saved under its own name, in --output-dir or
here, as curl -O does. Ctrl+C asks whether to cancel the job or leave it
running in the background (on a terminal; --on-interrupt decides instead).`,
		Example: `  bitsjob transfer https://example.com/a.iso ~/a.iso
  bitsjob transfer -O --output-dir ~/Downloads https://example.com/a.iso https://example.com/b.iso
  bitsjob transfer --json https://example.com/a.iso a.iso | jq -c '[.JobState, .BytesTransferred]'`,
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case t.remoteName && len(args) == 0:
				return usageErr("missing REMOTE")
			case t.remoteName:
				return nil
			case len(args) == 0:
				return usageErr("missing REMOTE LOCAL")
			}
			return pairs(0)(cmd, args)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if t.remoteName {
				var err error
				if args, err = remoteNames(args, t.outputDir); err != nil {
					return err
				}
			} else if cmd.Flags().Changed("output-dir") {
				return usageErr("--output-dir goes with -O")
			}
			switch t.onInterrupt {
			case "":
				t.onInterrupt = "cancel"
				if e.interactive() {
					t.onInterrupt = "ask"
				}
			case "cancel", "keep", "ask":
			default:
				return usageErr("--on-interrupt: %q is not cancel, keep or ask", t.onInterrupt)
			}
			o, err := jobOptions(cmd, &s, name, typeName, args)
			if err != nil {
				return err
			}
			if err := withSums(o.Files, sums); err != nil {
				return err
			}
			if !cmd.Flags().Changed("priority") {
				fg := engine.Foreground
				o.Props.Priority = &fg
			}
			return runTransfer(cmd.Context(), e, o, t)
		},
	}
	cmd.Flags().StringVar(&name, "name", defaultName, "display name")
	cmd.Flags().StringVar(&typeName, "type", "Download", "Download, Upload or UploadReply")
	cmd.Flags().BoolVar(&t.noComplete, "no-complete", false, "leave the job Transferred: its files keep their temporary names until bitsjob complete")
	cmd.Flags().BoolVarP(&t.remoteName, "remote-name", "O", false, "each argument is a REMOTE, saved under the last part of its path")
	cmd.Flags().StringVar(&t.outputDir, "output-dir", "", "with -O: the folder to save into (default: the current one)")
	cmd.Flags().StringVar(&t.onInterrupt, "on-interrupt", "", "what Ctrl+C does: cancel the job, keep it running in the background, or ask (default: ask on a terminal, else cancel)")
	cmd.Flags().StringArrayVar(&sums, "sha256", nil, "the SHA-256 the file must have, in hexadecimal: one per file in order (\"\" for none); a file that differs stops the job in Error")
	s.register(cmd.Flags())
	return cmd
}

// remoteNames pairs each remote name with a local name in dir: the last
// part of its path, as curl -O takes it.
func remoteNames(remotes []string, dir string) ([]string, error) {
	if dir == "" {
		dir = "."
	}
	var args []string
	for _, r := range remotes {
		path := r
		if u, err := url.Parse(r); err == nil && u.Scheme != "" {
			path = u.Path
		}
		base := pathpkg.Base(strings.ReplaceAll(path, `\`, "/"))
		if base == "/" || base == "." || base == ".." || base == "" {
			return nil, usageErr("-O: %q names no file to save under (give REMOTE LOCAL instead)", r)
		}
		args = append(args, r, filepath.Join(dir, base))
	}
	return args, nil
}

func runTransfer(ctx context.Context, e *env, o createOptions, t transferOptions) error {
	j, err := newJob(ctx, e, o)
	if err != nil {
		return err
	}
	m := e.m
	if err := m.Resume(ctx, j.ID); err != nil {
		m.Cancel(context.WithoutCancel(ctx), j.ID)
		return &opError{action: "resume", job: jobID(j.ID), err: err}
	}
	view := e.progressView()
	for {
		if ctx.Err() != nil {
			return e.interrupt(m, j, t.onInterrupt, view)
		}
		cur, err := m.Get(ctx, j.ID)
		switch {
		case hresult.Is(err, hresult.BG_E_NOT_FOUND):
			view.end()
			return &jobFailed{id: j.ID}
		case err != nil && ctx.Err() != nil:
			return e.interrupt(m, j, t.onInterrupt, view)
		case err != nil:
			return &opError{action: "follow", job: jobID(j.ID), err: err}
		}
		j = cur
		switch j.State {
		case engine.Transferred:
			view.show(j)
			if t.noComplete {
				view.end()
				return nil
			}
			code, err := m.Complete(context.WithoutCancel(ctx), j.ID)
			if err != nil {
				view.end()
				return &opError{action: "complete", job: jobID(j.ID), err: err}
			}
			j.State = engine.Acknowledged
			clearTemps(j)
			view.show(j)
			view.end()
			e.warn(code, "complete", jobID(j.ID))
			return nil
		case engine.Error:
			view.show(j)
			view.end()
			return &jobFailed{job: j, id: j.ID}
		}
		view.show(j)
		wait := e.wait
		if e.waitJob != nil {
			wait = func(ctx context.Context) error { return e.waitJob(ctx, j.ID, j.State, view.json || view.terminal) }
		}
		if err := wait(ctx); err != nil {
			return e.interrupt(m, j, t.onInterrupt, view)
		}
	}
}

// interrupt does what Ctrl+C asks of a transfer: cancel the job, leave it
// running in the background, or ask which.
func (e *env) interrupt(m *engine.Manager, j *engine.Job, mode string, view *progressView) error {
	view.end()
	if mode == "ask" {
		fmt.Fprintf(e.stderr, "\nCancel the job %s? [y/N] (no: it goes on in the background) ", jobID(j.ID))
		answer, _ := bufio.NewReader(e.stdin).ReadString('\n')
		mode = "keep"
		if a := strings.ToLower(strings.TrimSpace(answer)); a == "y" || a == "yes" {
			mode = "cancel"
		}
	}
	if mode == "cancel" {
		return cancelTransfer(m, j)
	}
	fmt.Fprintf(e.stderr, "The job goes on in the background: bitsjob watch %s follows it.\n", jobID(j.ID))
	return &interrupted{note: "the job goes on in the background"}
}

// interactive says whether a person answers: standard input and output are
// terminals.
func (e *env) interactive() bool {
	f, ok := e.stdin.(*os.File)
	return ok && e.terminal && term.IsTerminal(int(f.Fd()))
}

func cancelTransfer(m *engine.Manager, j *engine.Job) error {
	if _, err := m.Cancel(context.Background(), j.ID); err != nil && !hresult.Is(err, hresult.BG_E_NOT_FOUND) {
		return &opError{action: "cancel", job: jobID(j.ID), err: err}
	}
	return &interrupted{note: "the job was cancelled"}
}

// A progressView shows the steps of a transfer: JSON lines, a progress bar
// on a terminal, or one line per state otherwise.
type progressView struct {
	w        io.Writer
	json     bool
	terminal bool
	last     string // the step last shown
	drawn    bool   // a bar is on the screen without its newline
	meter    progress.Meter
	now      func() time.Time // nil: time.Now
}

func (v *progressView) clock() time.Time {
	if v.now != nil {
		return v.now()
	}
	return time.Now()
}

func (e *env) progressView() *progressView {
	return &progressView{w: e.stdout, json: e.json, terminal: e.terminal}
}

// step is what makes a new step: state, bytes, files and error.
func step(j *engine.Job, withBytes bool) string {
	total, done, files, filesDone := j.Progress()
	s := fmt.Sprintf("%v %d/%d", j.State, filesDone, files)
	if withBytes {
		s += fmt.Sprintf(" %d/%d", done, total)
	}
	if j.Err != nil {
		s += fmt.Sprintf(" %x", uint32(j.Err.Code))
	}
	return s
}

func (v *progressView) show(j *engine.Job) {
	key := step(j, v.json || v.terminal)
	if key == v.last {
		return
	}
	v.last = key
	switch {
	case v.json:
		writeJSON(v.w, toJSON(j))
	case v.terminal:
		_, done, _, _ := j.Progress()
		fmt.Fprintf(v.w, "\r\x1b[2K%s", bar(j, 30, v.meter.Rate(done, v.clock())))
		v.drawn = true
	default:
		fmt.Fprintln(v.w, statusLine(j))
	}
}

// end finishes the bar's line.
func (v *progressView) end() {
	if v.drawn {
		fmt.Fprintln(v.w)
		v.drawn = false
	}
}

// statusLine is one step of a transfer whose output is not a terminal.
func statusLine(j *engine.Job) string {
	total, done, files, filesDone := j.Progress()
	line := fmt.Sprintf("%-14s files %d/%d  bytes %s", nameOr(stateNames, j.State), filesDone, files, progressText(done, total))
	if j.Err != nil && (j.State == engine.Error || j.State == engine.TransientError) {
		line += fmt.Sprintf("  0x%08X %s", uint32(j.Err.Code), j.Err.Code.Message())
	}
	return line
}

// bar draws [=====>    ]  42%  big.iso  4.2 MiB / 10.0 MiB  1.2 MiB/s  5s left  Transferring:
// the job's percent, then the file that moves, the job's bytes, the rate
// (bytes a second, 0 for not known yet) and the time left.
func bar(j *engine.Job, width int, rate float64) string {
	total, done, _, _ := j.Progress()
	pct := progress.Percent(done, total)
	if total == 0 && (j.State == engine.Transferred || j.State == engine.Acknowledged) {
		pct = 100
	}
	fill := pct * width / 100
	b := strings.Repeat("=", fill)
	if fill < width {
		b += ">" + strings.Repeat(" ", width-fill-1)
	}
	parts := []string{fmt.Sprintf("[%s] %3d%%", b, pct)}
	if f, ok := j.Moving(); ok && f.LocalName != "" {
		parts = append(parts, filepath.Base(f.LocalName))
	}
	size := "?"
	if total >= 0 {
		size = progress.Bytes(total)
	}
	parts = append(parts, progress.Bytes(done)+" / "+size)
	if p := progress.Pace(done, total, rate); p != "" {
		parts = append(parts, p)
	}
	return strings.Join(append(parts, nameOr(stateNames, j.State)), "  ")
}
