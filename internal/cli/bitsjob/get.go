package bitsjob

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"bits/engine"
	"bits/engine/hresult"
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
			return runGet(cmd.Context(), e, o, e.printJobs)
		},
	}
	cmd.Flags().BoolVar(&o.AllUsers, "all-users", false, "every user's jobs (root only)")
	return cmd
}

func runGet(ctx context.Context, e *env, o getOptions, print func(io.Writer, []*engine.Job) error) error {
	var all []*engine.Job
	err := e.eachManager(ctx, o.AllUsers, func(m *engine.Manager) error {
		js, err := m.List(ctx)
		if err != nil {
			return err // a store read halfway is left out whole
		}
		all = append(all, js...)
		return nil
	})
	if err != nil {
		return &opError{action: "list jobs", err: err}
	}
	if len(o.Jobs) == 0 {
		return print(e.stdout, all)
	}
	picked := make([]bool, len(all))
	var missing []string
	for _, arg := range o.Jobs {
		guid, isGUID := parseJobGUID(arg)
		found := false
		for i, j := range all {
			var ok bool
			switch {
			case isGUID:
				ok = "{"+j.ID+"}" == guid
			default:
				ok = matchName(arg, j.DisplayName)
			}
			if ok {
				picked[i], found = true, true
			}
		}
		if !found && (isGUID || !hasWildcard(arg)) {
			missing = append(missing, arg)
		}
	}
	var out []*engine.Job
	for i, j := range all {
		if picked[i] {
			out = append(out, j)
		}
	}
	if err := print(e.stdout, out); err != nil {
		return err
	}
	code := exitOK
	for _, arg := range missing {
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

func quoteArg(s string) string {
	if strings.HasPrefix(s, "{") {
		return s
	}
	return fmt.Sprintf("%q", s)
}
