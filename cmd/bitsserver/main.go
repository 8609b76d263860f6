// Command bitsserver is a download origin (GET and HEAD with byte ranges
// and validators) and a BITS upload server (BITS_POST sessions into
// upload folders, with optional notification of an application). The
// handler lives in package server, the command line in
// internal/cli/bitsserver; docs/bitsserver.md describes it all.
package main

import (
	"os"

	"bits/internal/cli/bitsserver"
)

func main() {
	os.Exit(bitsserver.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
