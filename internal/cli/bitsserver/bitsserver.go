// Package bitsserver is the bitsserver command line: flags, the config
// file, password hashing, TLS and the listener around package server's
// handler. Nothing may import it but cmd/bitsserver.
package bitsserver

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"bits/internal/version"
)

// Main runs bitsserver with args (without the program name) and returns
// the process exit code. It never calls os.Exit. Ctrl+C and SIGTERM stop
// the server cleanly.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, stdin, stdout, stderr)
}

// run serves until ctx ends and returns the exit code: 0 after a clean
// stop, 1 when it cannot serve, 2 for bad usage.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == "--man" { // for make man
		io.WriteString(stdout, manPage())
		return 0
	}
	if len(args) == 2 && (args[0] == "--completion" || args[0] == "-completion") {
		if err := completionScript(stdout, args[1]); err != nil {
			return usageError(stderr, err)
		}
		return 0
	}
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
	if o.version {
		fmt.Fprintln(stdout, "bitsserver "+version.Version)
		return 0
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
