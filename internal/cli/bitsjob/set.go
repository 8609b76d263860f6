package bitsjob

import (
	"bufio"
	"context"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"bits/engine"
)

type setOptions struct {
	Job           string
	TakeOwnership bool
	Props         engine.Props
	Credential    *engine.Credential
	Remove        []engine.Credential // target and scheme only
}

func newSetCmd(e *env) *cobra.Command {
	var (
		s             settings
		o             setOptions
		name          string
		credential    string
		user          string
		passwordStdin bool
		remove        []string
	)
	cmd := &cobra.Command{
		Use:   "set JOB [flags]",
		Short: "Change a job's settings and credentials",
		Long: `Change the settings given as flags; the others stay as they are. Settings
change in one step: when one is refused, none changes.

Credentials are written, never shown: --credential TARGET:SCHEME with --user
and --password-stdin (the password is the first line of standard input, so it
never appears in a process listing). Without --user and --password-stdin the
credential is the owner's own identity, which only ntlm and negotiate allow.
--take-ownership makes the caller the owner and, as in BITS, drops the old
owner's credentials, custom headers, notification program and helper token.`,
		Example: `  bitsjob set nightly --priority low --retry-interval 5m
  printf '%s\n' "$PASS" | bitsjob set nightly --credential server:basic --user alice --password-stdin
  bitsjob set nightly --proxy-usage override --proxy-list proxy1:8080 --proxy-bypass '<local>'`,
		Args:              minArgs(1, "the job"),
		ValidArgsFunction: e.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErr("set takes one job")
			}
			o.Job = args[0]
			var err error
			if o.Props, err = s.props(cmd.Flags()); err != nil {
				return err
			}
			if cmd.Flags().Changed("name") {
				o.Props.DisplayName = &name
			}
			if cmd.Flags().Changed("credential") {
				c, err := credentialFlag(credential, user, cmd.Flags().Changed("user"), passwordStdin, e.stdin)
				if err != nil {
					return err
				}
				o.Credential = &c
			} else if cmd.Flags().Changed("user") || passwordStdin {
				return usageErr("--user and --password-stdin go with --credential")
			}
			for _, r := range remove {
				t, sc, err := parseCredentialKey(r)
				if err != nil {
					return usageErr("--remove-credential: %v", err)
				}
				o.Remove = append(o.Remove, engine.Credential{Target: t, Scheme: sc})
			}
			return runSet(cmd.Context(), e, o)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "display name (up to 256 characters)")
	s.register(cmd.Flags())
	cmd.Flags().StringVar(&credential, "credential", "", "set the credential for TARGET:SCHEME (server or proxy : basic, digest, ntlm, negotiate, passport); without --user, negotiate uses your Kerberos tickets")
	cmd.Flags().StringVar(&user, "user", "", "user name of --credential")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password of --credential from the first line of standard input")
	cmd.Flags().StringArrayVar(&remove, "remove-credential", nil, "remove the credential for TARGET:SCHEME (repeatable)")
	cmd.Flags().BoolVar(&o.TakeOwnership, "take-ownership", false, "make the caller the job's owner")
	return cmd
}

// credentialFlag builds the credential of --credential: user and password,
// or neither (the owner's own identity: for Negotiate, their Kerberos
// tickets).
func credentialFlag(key, user string, userSet, passwordStdin bool, stdin io.Reader) (engine.Credential, error) {
	t, sc, err := parseCredentialKey(key)
	if err != nil {
		return engine.Credential{}, usageErr("--credential: %v", err)
	}
	c := engine.Credential{Target: t, Scheme: sc}
	if userSet != passwordStdin {
		return c, usageErr("--credential takes --user and --password-stdin together, or neither")
	}
	if userSet {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return c, usageErr("--password-stdin: %v", err)
		}
		pass := strings.TrimRight(line, "\r\n")
		c.User, c.Password = &user, &pass
	}
	return c, nil
}

func runSet(ctx context.Context, e *env, o setOptions) error {
	var (
		j   *engine.Job
		m   *engine.Manager
		err error
	)
	if o.TakeOwnership {
		j, err = takeOwnership(ctx, e, o.Job)
		m = e.m
	} else {
		j, m, err = e.find(ctx, o.Job)
	}
	if err != nil {
		return err
	}
	if !empty(o.Props) {
		if err := m.Set(ctx, j.ID, o.Props); err != nil {
			return &opError{action: "change the settings of", job: o.Job, err: err}
		}
	}
	for _, r := range o.Remove {
		if err := m.RemoveCredentials(ctx, j.ID, r.Target, r.Scheme); err != nil {
			return &opError{action: "remove a credential of", job: o.Job, err: err}
		}
	}
	if o.Credential != nil {
		if err := m.SetCredentials(ctx, j.ID, *o.Credential); err != nil {
			return &opError{action: "set a credential of", job: o.Job, err: err}
		}
	}
	if j, err = m.Get(ctx, j.ID); err != nil {
		return &opError{action: "read", job: o.Job, err: err}
	}
	return e.printJobs(e.stdout, []*engine.Job{j})
}

// takeOwnership makes the caller the owner of a job. Root may name another
// user's job: it moves into root's own store, as the engine's Adopt does.
func takeOwnership(ctx context.Context, e *env, arg string) (*engine.Job, error) {
	m, err := e.manager()
	if err != nil {
		return nil, err
	}
	var src *engine.Manager
	j, err := lookup(arg, func(key string) (*engine.Job, error) {
		j, s, err := m.FindAnyUser(ctx, key)
		src = s
		return j, err
	})
	if src != nil && src != m {
		defer src.Close()
	}
	if err != nil {
		return nil, err
	}
	if src != nil && src != m {
		if j, err = m.Adopt(ctx, src, j.ID); err != nil {
			return nil, &opError{action: "take ownership of", job: arg, err: err}
		}
		return j, nil
	}
	if err := m.TakeOwnership(ctx, j.ID); err != nil {
		return nil, &opError{action: "take ownership of", job: arg, err: err}
	}
	return j, nil
}
