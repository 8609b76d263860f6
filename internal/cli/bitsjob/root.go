// Package bitsjob is the bitsjob command line: cobra commands over
// engine.Manager. It owns parsing and printing only.
package bitsjob

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Version is the version of the whole suite.
const Version = "0.1.0"

// Main runs bitsjob with args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		return 1
	}
	return 0
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:           "bitsjob",
		Short:         "Background transfers that survive network loss and reboots",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.AddCommand(newWorkerCmd(), newVersionCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := io.WriteString(cmd.OutOrStdout(), "bitsjob "+Version+"\n")
			return err
		},
	}
}
