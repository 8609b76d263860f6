package bitsjob

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"bits/engine"
	"bits/hresult"
)

// parseJobGUID accepts a GUID with or without braces, in any case, and
// returns it in braces as the engine takes it.
func parseJobGUID(s string) (string, bool) {
	if !strings.HasPrefix(s, "{") {
		s = "{" + s + "}"
	}
	g, ok := engine.ParseGUID(s)
	return "{" + g + "}", ok
}

// find resolves a job argument: a GUID (with or without braces) or a
// display name that exactly one job has. It returns the Manager of the
// store that holds the job: the caller's own, or for root, when the job is
// not the caller's, the store of the user who owns it (as a BITS
// administrator may act on anyone's job). Other stores close when the
// command ends.
func (e *env) find(ctx context.Context, arg string) (*engine.Job, *engine.Manager, error) {
	m, err := e.manager()
	if err != nil {
		return nil, nil, err
	}
	var store *engine.Manager
	j, err := lookup(arg, func(key string) (*engine.Job, error) {
		j, s, err := m.FindAnyUser(ctx, key)
		if s != nil && s != m {
			e.others = append(e.others, s)
		}
		store = s
		return j, err
	})
	return j, store, err
}

// lookup runs a search for a job argument and maps what it finds.
func lookup(arg string, search func(key string) (*engine.Job, error)) (*engine.Job, error) {
	key := arg
	if g, ok := parseJobGUID(arg); ok {
		key = g
	}
	j, err := search(key)
	switch {
	case err == nil:
		return j, nil
	case errors.Is(err, engine.ErrAmbiguous):
		return nil, &lookupError{arg: arg, ambiguous: true}
	case hresult.Is(err, hresult.BG_E_NOT_FOUND):
		return nil, &lookupError{arg: arg, err: err}
	}
	return nil, &opError{action: "find the job", job: arg, err: err}
}

// hasWildcard reports whether a name is a pattern (* and ?).
func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?") }

// matchName matches a display name against a pattern with * and ?, without
// regard to case, as PowerShell's -Name does. Other characters are literal.
func matchName(pattern, name string) bool {
	return match([]rune(strings.ToLower(pattern)), []rune(strings.ToLower(name)))
}

func match(p, s []rune) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for len(p) > 1 && p[1] == '*' {
				p = p[1:]
			}
			for i := len(s); i >= 0; i-- {
				if match(p[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if len(s) == 0 {
				return false
			}
		default:
			if len(s) == 0 || s[0] != p[0] {
				return false
			}
		}
		p, s = p[1:], s[1:]
	}
	return len(s) == 0
}

// eachManager runs fn on the caller's Manager, or with allUsers on every
// user's (root only; others get E_ACCESSDENIED). A user's store that the
// engine left out (not what it should be, or unreadable) is a warning, not
// a failure: the others' jobs are still there.
func (e *env) eachManager(ctx context.Context, allUsers bool, fn func(*engine.Manager) error) error {
	warn := func(s *engine.StoreError) {
		b := describe(s.Err)
		b.Detail = s.Error()
		e.warnBody(b, "list the jobs of user "+s.User, "")
	}
	return engine.Stores{Own: e.manager, All: e.allUsers, Skipped: warn}.Each(ctx, allUsers, fn)
}

// completeJobs offers the GUIDs and names of the caller's jobs to shell
// completion.
func (e *env) completeJobs(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	m, err := e.manager()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	jobs, err := m.List(cmd.Context())
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, j := range jobs {
		out = append(out, jobID(j.ID)+"\t"+j.DisplayName)
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}
