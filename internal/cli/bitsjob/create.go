package bitsjob

import (
	"context"
	"errors"
	"path/filepath"

	"github.com/spf13/cobra"

	"bits/engine"
)

// defaultName is the display name of a job created without --name, as
// Start-BitsTransfer names its jobs.
const defaultName = "BITS Transfer"

type createOptions struct {
	Name  string
	Type  engine.JobType
	Props engine.Props
	Files []engine.FileSpec
}

func newCreateCmd(e *env) *cobra.Command {
	var (
		s        settings
		sums     []string
		name     string
		typeName string
	)
	cmd := &cobra.Command{
		Use:   "create [flags] [REMOTE LOCAL]...",
		Short: "Create a job, with its settings and files; it starts suspended",
		Long: `Create a job. Settings given as flags are applied and the files given as
REMOTE LOCAL pairs are added, all in one step: if one is refused no job is
made. Like every new job it is suspended until "bitsjob resume".`,
		Example: `  bitsjob create --name nightly https://example.com/a.iso ~/a.iso
  id=$(bitsjob create --json --priority low | jq -r .JobId)`,
		Args: pairs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := jobOptions(cmd, &s, name, typeName, args)
			if err != nil {
				return err
			}
			if err := withSums(o.Files, sums); err != nil {
				return err
			}
			return runCreate(cmd.Context(), e, o)
		},
	}
	cmd.Flags().StringVar(&name, "name", defaultName, "display name")
	cmd.Flags().StringVar(&typeName, "type", "Download", "Download, Upload or UploadReply")
	cmd.Flags().StringArrayVar(&sums, "sha256", nil, "the SHA-256 the file must have, in hexadecimal: one per file in order (\"\" for none); a file that differs stops the job in Error")
	s.register(cmd.Flags())
	return cmd
}

// jobOptions reads what create and transfer share: name, type, settings
// and file pairs.
func jobOptions(cmd *cobra.Command, s *settings, name, typeName string, args []string) (createOptions, error) {
	o := createOptions{Name: name}
	t, err := parseJobType(typeName)
	if err != nil {
		return o, usageErr("--type: %v", err)
	}
	o.Type = t
	if o.Props, err = s.props(cmd.Flags()); err != nil {
		return o, err
	}
	o.Files, err = fileSpecs(args)
	return o, err
}

func runCreate(ctx context.Context, e *env, o createOptions) error {
	j, err := newJob(ctx, e, o)
	if err != nil {
		return err
	}
	return e.printJobs(e.stdout, []*engine.Job{j})
}

// submitActions name each step of a submission as the separate calls were
// named.
var submitActions = map[engine.SubmitStep]string{
	engine.StepCreate:   "create the job",
	engine.StepSettings: "set the job's settings",
	engine.StepFiles:    "add the files",
	engine.StepResume:   "resume the job",
}

// newJob creates a job with its settings and files in one step, so bad
// input, a crash or a kill leaves nothing behind.
func newJob(ctx context.Context, e *env, o createOptions) (*engine.Job, error) {
	m, err := e.manager()
	if err != nil {
		return nil, err
	}
	j, err := m.Submit(ctx, engine.JobSpec{Name: o.Name, Type: o.Type, Settings: []engine.Props{o.Props}, Files: o.Files})
	var se *engine.SubmitError
	if errors.As(err, &se) {
		return nil, &opError{action: submitActions[se.Step], err: se.Err}
	}
	if err != nil {
		return nil, &opError{action: "create the job", err: err}
	}
	return j, nil
}

// pairs accepts n leading arguments followed by REMOTE LOCAL pairs.
func pairs(n int) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErr("missing the job")
		}
		if (len(args)-n)%2 != 0 {
			return usageErr("files come in pairs: REMOTE LOCAL")
		}
		return nil
	}
}

// fileSpecs turns REMOTE LOCAL pairs into files, making relative local
// names absolute against the current folder.
// withSums gives the files the SHA-256s of --sha256, in order: none, or
// one per file ("" for a file without).
func withSums(files []engine.FileSpec, sums []string) error {
	if len(sums) == 0 {
		return nil
	}
	if len(sums) != len(files) {
		return usageErr("--sha256: %d given for %d files; give one per file, \"\" for a file without", len(sums), len(files))
	}
	for i, sum := range sums {
		files[i].SHA256 = sum
	}
	return nil
}

func fileSpecs(args []string) ([]engine.FileSpec, error) {
	var out []engine.FileSpec
	for i := 0; i+1 < len(args); i += 2 {
		local, err := filepath.Abs(args[i+1])
		if err != nil {
			return nil, usageErr("local name %q: %v", args[i+1], err)
		}
		out = append(out, engine.FileSpec{Remote: args[i], Local: local})
	}
	return out, nil
}
