package bitsjob

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"bits/engine"
	"bits/hresult"
	"bits/internal/progress"
)

type watchOptions struct {
	Jobs []string // none: every job there is when watch starts
}

// eventJSON is one line of watch --json.
type eventJSON struct {
	SchemaVersion int
	Event         string // Initial, Changed or Gone
	Time          jsonTime
	JobId         string
	Job           *jobJSON // null for Gone
}

func newWatchCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "watch [JOB]...",
		Short: "Follow jobs until they settle: transferred, failed or gone",
		Long: `Print an event for each job now (Initial), whenever its state, bytes or files
change (Changed), and when it disappears because it was completed or
cancelled (Gone). Watch ends when every job it follows is Transferred, in
Error, or gone; a suspended job is waited for, since someone may resume it.
Without arguments it follows every job there is when it starts. With --json
each event is one line of JSON (see docs/json.md). Ctrl+C ends it.`,
		Example: `  bitsjob resume nightly && bitsjob watch nightly
  bitsjob watch --json | jq -c 'select(.Event != "Initial") | [.JobId, .Job.JobState]'`,
		ValidArgsFunction: e.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runWatch(cmd.Context(), e, watchOptions{Jobs: args})
		},
	}
	return cmd
}

// settled reports whether a job needs no more watching.
func settled(s engine.State) bool { return s == engine.Transferred || s == engine.Error }

func runWatch(ctx context.Context, e *env, o watchOptions) error {
	m, err := e.manager()
	if err != nil {
		return err
	}
	// The jobs to follow, each with the store that holds it: root may
	// name other users' jobs.
	var ids []string
	stores := map[string]*engine.Manager{}
	if len(o.Jobs) == 0 {
		jobs, err := m.List(ctx)
		if err != nil {
			return &opError{action: "list jobs", err: err}
		}
		for _, j := range jobs {
			ids = append(ids, j.ID)
			stores[j.ID] = m
		}
	}
	for _, arg := range o.Jobs {
		j, store, err := e.find(ctx, arg)
		if err != nil {
			return err
		}
		if _, dup := stores[j.ID]; !dup {
			ids = append(ids, j.ID)
			stores[j.ID] = store
		}
	}
	last := map[string]string{} // the step last shown; "" gone
	for {
		open := 0
		for _, id := range ids {
			m := stores[id]
			prev, seen := last[id]
			if seen && prev == "" {
				continue // gone
			}
			j, err := m.Get(ctx, id)
			switch {
			case hresult.Is(err, hresult.BG_E_NOT_FOUND):
				last[id] = ""
				e.event("Gone", id, nil)
				continue
			case err != nil && ctx.Err() != nil:
				return &interrupted{note: "watch ended"}
			case err != nil:
				return &opError{action: "follow", job: strings.ToLower(id), err: err}
			}
			if key := step(j, true); key != prev {
				last[id] = key
				ev := "Changed"
				if !seen {
					ev = "Initial"
				}
				e.event(ev, id, j)
			}
			if !settled(j.State) {
				open++
			}
		}
		if open == 0 {
			return nil
		}
		if err := e.wait(ctx); err != nil {
			return &interrupted{note: "watch ended"}
		}
	}
}

// event prints one watch event.
func (e *env) event(kind, id string, j *engine.Job) {
	if e.json {
		ev := eventJSON{SchemaVersion: SchemaVersion, Event: kind, Time: jsonTime(e.now()), JobId: strings.ToLower(id)}
		if j != nil {
			v := toJSON(j)
			ev.Job = &v
		}
		writeJSON(e.stdout, ev)
		return
	}
	line := fmt.Sprintf("%s  %-7s  %s", e.now().UTC().Format("15:04:05"), kind, strings.ToLower(id))
	if j != nil {
		line += fmt.Sprintf("  %q  %s", j.DisplayName, statusLine(j))
		if e.terminal {
			line += e.pace(j)
		}
	}
	fmt.Fprintln(e.stdout, strings.TrimRight(line, " "))
}

// pace is what a terminal adds to a job's event: the file that moves, the
// job's rate and its time left.
func (e *env) pace(j *engine.Job) string {
	if e.meters == nil {
		e.meters = map[string]*progress.Meter{}
	}
	m := e.meters[j.ID]
	if m == nil {
		m = &progress.Meter{}
		e.meters[j.ID] = m
	}
	total, done, _, _ := j.Progress()
	s := ""
	if f, ok := j.Moving(); ok && f.LocalName != "" {
		s += "  " + filepath.Base(f.LocalName)
	}
	if p := progress.Pace(done, total, m.Rate(done, e.now())); p != "" {
		s += "  " + p
	}
	return s
}
