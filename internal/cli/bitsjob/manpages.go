//go:build manpages

package bitsjob

import (
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"bits/internal/version"
)

// Only a build with the manpages tag (make man) has this command: cobra's
// page writer brings markdown and YAML packages whose set-up would cost
// every bitsjob command some 3 ms.
func init() { extraCommands = append(extraCommands, newManPagesCmd) }

// newManPagesCmd writes bitsjob's manual pages, one for each command, from
// the commands' own help. Hidden: it is for packaging.
func newManPagesCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:    "man-pages DIR",
		Short:  "Write the manual pages into DIR",
		Hidden: true,
		Args:   nArgs(1, "the folder"),
		RunE: func(cmd *cobra.Command, args []string) error {
			// A reproducible build dates its pages by SOURCE_DATE_EPOCH.
			date := time.Now()
			if s, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64); err == nil {
				date = time.Unix(s, 0).UTC()
			}
			header := &doc.GenManHeader{Section: "1", Source: "bits " + version.Version, Manual: "User Commands", Date: &date}
			if err := doc.GenManTree(root, header, args[0]); err != nil {
				return &opError{action: "write the manual pages", err: err}
			}
			return nil
		},
	}
}
