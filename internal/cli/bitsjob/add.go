package bitsjob

import (
	"context"

	"github.com/spf13/cobra"

	"bits/engine"
	"bits/hresult"
)

type addOptions struct {
	Job    string
	Files  []engine.FileSpec
	Ranges []engine.Range // only with one file
}

func newAddCmd(e *env) *cobra.Command {
	var ranges string
	var sums []string
	cmd := &cobra.Command{
		Use:   "add JOB REMOTE LOCAL [REMOTE LOCAL]...",
		Short: "Add files to a job",
		Long: `Add files to a job: all of them, or none when one is refused. With --ranges
only those byte ranges of the one remote file are fetched, and the local file
holds them one after another.`,
		Example: `  bitsjob add nightly https://example.com/b.iso ~/b.iso
  bitsjob add nightly --ranges 0:1024,4096:eof https://example.com/c.bin ~/c.part`,
		Args:              pairs(1),
		ValidArgsFunction: e.completeJobs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 3 {
				return usageErr("missing REMOTE LOCAL")
			}
			o := addOptions{Job: args[0]}
			var err error
			if o.Files, err = fileSpecs(args[1:]); err != nil {
				return err
			}
			if err := withSums(o.Files, sums); err != nil {
				return err
			}
			if cmd.Flags().Changed("ranges") {
				if len(sums) > 0 {
					return usageErr("--sha256 checks a whole file: not with --ranges")
				}
				if len(o.Files) != 1 {
					return usageErr("--ranges applies to one file")
				}
				if o.Ranges, err = engine.ParseRanges(ranges); err != nil {
					return usageErr("--ranges: %s", hresult.From(err).Msg)
				}
			}
			return runAdd(cmd.Context(), e, o)
		},
	}
	cmd.Flags().StringVar(&ranges, "ranges", "", "fetch only these byte ranges: OFFSET:LENGTH,... (LENGTH may be eof)")
	cmd.Flags().StringArrayVar(&sums, "sha256", nil, "the SHA-256 the file must have, in hexadecimal: one per file in order (\"\" for none); a file that differs stops the job in Error")
	return cmd
}

func runAdd(ctx context.Context, e *env, o addOptions) error {
	j, m, err := e.find(ctx, o.Job)
	if err != nil {
		return err
	}
	if o.Ranges != nil {
		err = m.AddFileWithRanges(ctx, j.ID, o.Files[0].Remote, o.Files[0].Local, o.Ranges)
	} else {
		err = m.AddFiles(ctx, j.ID, o.Files)
	}
	if err != nil {
		return &opError{action: "add files to", job: o.Job, err: err}
	}
	if j, err = m.Get(ctx, j.ID); err != nil {
		return &opError{action: "read", job: o.Job, err: err}
	}
	return e.printJobs(e.stdout, []*engine.Job{j})
}
