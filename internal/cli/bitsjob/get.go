package bitsjob

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"bits/engine"
	"bits/hresult"
)

type getOptions struct {
	Jobs     []string // GUIDs, names or name patterns; none: every job
	AllUsers bool
}

func newGetCmd(e *env) *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get [JOB|PATTERN]...",
		Short: "Show jobs in detail: by GUID, by name or by name pattern",
		Long: `Show jobs with all their settings and files. Each argument is a job GUID (with
or without braces), or a display name: every job of that name matches, and *
and ? match any run of characters and any one character, without regard to
case. A GUID or a name without wildcards that matches nothing is an error; a
pattern that matches nothing is not. Without arguments every job is shown.`,
		Example: `  bitsjob get nightly
  bitsjob get '*backup*' --json
  sudo bitsjob get --all-users`,
		ValidArgsFunction: e.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Jobs = args
			return runGet(cmd.Context(), e, o, e.printDetails)
		},
	}
	cmd.Flags().BoolVar(&o.AllUsers, "all-users", false, "every user's jobs (root only)")
	return cmd
}

func newListCmd(e *env) *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List jobs, one line each",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			defer lessGC()()
			if e.json {
				return runGet(cmd.Context(), e, o, e.printJobs)
			}
			return runListTable(cmd.Context(), e, o)
		},
	}
	cmd.Flags().BoolVar(&o.AllUsers, "all-users", false, "every user's jobs (root only)")
	return cmd
}

// runGet prints the jobs that the arguments pick, in the order they were
// created, each once. The store is read as the jobs are printed, so a list
// of any length holds one job at a time with --json (JSON Lines); a table
// gathers its rows first, since its columns fit the longest. Arguments that
// are all GUIDs are looked up, not searched for.
func runGet(ctx context.Context, e *env, o getOptions, print func(io.Writer, []*engine.Job) error) error {
	w := bufio.NewWriterSize(e.stdout, 64<<10) // a write per buffer, not per job
	defer w.Flush()
	var held []*engine.Job
	emit := func(j *engine.Job) error {
		held = append(held, j)
		return nil
	}
	found := make([]bool, len(o.Jobs))
	guids, isGUID := parseArgs(o.Jobs)
	byGUID := len(o.Jobs) > 0 && !slices.Contains(isGUID, false)
	// JSON Lines of a list print beside the reading, on a goroutine of
	// their own; jobs named by GUID are few, and print at the end.
	var p *printer
	if e.json && !byGUID {
		p = startPrinter(w, print)
		defer p.close()
		emit = p.emit
	}
	err := e.eachManager(ctx, o.AllUsers, func(m *engine.Manager) error {
		if byGUID {
			return emitByGUID(ctx, m, guids, found, emit)
		}
		return m.Each(ctx, func(j *engine.Job) error {
			picked := len(o.Jobs) == 0
			for i, arg := range o.Jobs {
				if isGUID[i] && guids[i] == "{"+j.ID+"}" || !isGUID[i] && matchName(arg, j.DisplayName) {
					found[i], picked = true, true
				}
			}
			if !picked {
				return nil
			}
			return emit(j)
		})
	})
	if p != nil {
		if perr := p.close(); err == nil {
			err = perr // a print that failed after the last job was read
		}
	}
	if err != nil {
		w.Flush() // the jobs read before the failure, then the failure
		return &opError{action: "list jobs", err: err}
	}
	if err := print(w, held); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	code := exitOK
	for i, arg := range o.Jobs {
		if found[i] || !isGUID[i] && hasWildcard(arg) {
			continue // a pattern may match nothing
		}
		c := e.report(&lookupError{arg: arg, err: &hresult.Error{Code: hresult.BG_E_NOT_FOUND,
			Context: hresult.ContextGeneralQueueManager, Msg: fmt.Sprintf("no job matches %s", quoteArg(arg))}})
		if code == exitOK {
			code = c
		}
	}
	if code != exitOK {
		return reported(code)
	}
	return nil
}

// printer prints jobs in a goroutine of its own while the store is read:
// reading and printing a long list take about as long as each other, and
// each can have a core.
type printer struct {
	jobs   chan *engine.Job
	done   chan struct{} // closed when the goroutine ends
	err    error         // the first print's error, read after done
	closed bool
}

func startPrinter(w io.Writer, print func(io.Writer, []*engine.Job) error) *printer {
	p := &printer{jobs: make(chan *engine.Job, 64), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for j := range p.jobs {
			if p.err = print(w, []*engine.Job{j}); p.err != nil {
				return
			}
		}
	}()
	return p
}

// emit queues a job to print; it fails once printing has failed.
func (p *printer) emit(j *engine.Job) error {
	select {
	case p.jobs <- j:
		return nil
	case <-p.done:
		return p.err
	}
}

// close waits for the queued jobs to be printed and returns the error of
// printing, if any. Calling it again does nothing.
func (p *printer) close() error {
	if !p.closed {
		p.closed = true
		close(p.jobs)
		<-p.done
	}
	return p.err
}

// runListTable prints every job as a row of a table, from the totals the
// store keeps: one row read per job, not its files.
func runListTable(ctx context.Context, e *env, o getOptions) error {
	var rows []engine.Summary
	err := e.eachManager(ctx, o.AllUsers, func(m *engine.Manager) error {
		return m.EachSummary(ctx, func(s engine.Summary) error {
			rows = append(rows, s)
			return nil
		})
	})
	if err != nil {
		return &opError{action: "list jobs", err: err}
	}
	if len(rows) > 0 {
		printSummaries(e.stdout, rows)
	}
	return nil
}

// parseArgs reads each argument as a GUID (braced, upper case) where it is
// one, once for the whole list.
func parseArgs(args []string) (guids []string, isGUID []bool) {
	guids, isGUID = make([]string, len(args)), make([]bool, len(args))
	for i, arg := range args {
		guids[i], isGUID[i] = parseJobGUID(arg)
	}
	return guids, isGUID
}

// emitByGUID looks the GUIDs up in m's store and emits the jobs found, in
// the order they were created, each once.
func emitByGUID(ctx context.Context, m *engine.Manager, guids []string, found []bool, emit func(*engine.Job) error) error {
	var jobs []*engine.Job
	for i, g := range guids {
		j, err := m.Get(ctx, strings.Trim(g, "{}"))
		if hresult.Is(err, hresult.BG_E_NOT_FOUND) {
			continue
		}
		if err != nil {
			return err
		}
		found[i] = true
		if !slices.ContainsFunc(jobs, func(k *engine.Job) bool { return k.ID == j.ID }) {
			jobs = append(jobs, j)
		}
	}
	slices.SortFunc(jobs, func(a, b *engine.Job) int {
		return cmp.Or(a.Created.Compare(b.Created), strings.Compare(a.ID, b.ID))
	})
	for _, j := range jobs {
		if err := emit(j); err != nil {
			return err
		}
	}
	return nil
}

func quoteArg(s string) string {
	if strings.HasPrefix(s, "{") {
		return s
	}
	return fmt.Sprintf("%q", s)
}

// lessGC lets the heap grow to three times what is live before a
// collection, not twice, until the function it returns is called. A list
// or an import allocates hundreds of MB while it holds a few: listing
// 100,000 jobs ran 165 collections, and 68 with this, in a tenth less
// time, for 4 MB more (docs/benchmarks.md).
func lessGC() func() {
	old := debug.SetGCPercent(200)
	return func() { debug.SetGCPercent(old) }
}
