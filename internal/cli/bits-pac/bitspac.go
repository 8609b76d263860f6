// Package bitspac is the command line of bits-pac, which runs proxy
// auto-config files for the bits worker: the worker starts it when a job's
// proxies come from a PAC file, writes the script and then URLs on its
// standard input, and reads each URL's proxies, one JSON line each
// (package js). Running scripts from the network in a process of their own
// keeps an interpreter out of every other program, and lets the worker
// kill a script that runs away.
package bitspac

import (
	"fmt"
	"io"

	"bits/engine/transport/http/pac/js"
	"bits/internal/version"
)

// Main runs bits-pac and returns its exit status.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 1 && args[0] == "--version":
		fmt.Fprintln(stdout, "bits-pac "+version.Version)
		return 0
	case len(args) > 0:
		fmt.Fprintln(stderr, "usage: bits-pac (started by the bits worker, it reads JSON lines on standard input)")
		return 2
	}
	if err := js.Serve(stdin, stdout); err != nil {
		return 1
	}
	return 0
}
