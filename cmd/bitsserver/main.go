// Command bitsserver is a download origin (GET and HEAD with byte ranges
// and validators) and a BITS upload server (BITS_POST sessions into
// upload folders, with optional notification of an application). The
// handler lives in package server; docs/bitsserver.md describes it all.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run serves until ctx ends and returns the exit code: 0 after a clean
// stop, 1 when it cannot serve, 2 for bad usage.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o options
	fl := newFlagSet(&o)
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fl, stdout)
			return 0
		}
		return usageError(stderr, err)
	}
	if fl.NArg() > 0 {
		return usageError(stderr, fmt.Errorf("unexpected argument %q", fl.Arg(0)))
	}
	if o.hashPassword != "" {
		return hashPassword(o.hashPassword, stdin, stdout, stderr)
	}
	if o.config != "" {
		if err := applyConfig(o.config, fl); err != nil {
			return usageError(stderr, err)
		}
	}
	if err := o.check(); err != nil {
		return usageError(stderr, err)
	}
	return serve(ctx, &o, stdout, stderr)
}

func usageError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "bitsserver: %v\nRun 'bitsserver -h' for help.\n", err)
	return 2
}
