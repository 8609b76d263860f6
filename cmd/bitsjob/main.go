// Command bitsjob is the JSON-first command line for jobs, and runs the
// per-user worker (`bitsjob worker`).
package main

import (
	"os"

	"bits/internal/cli/bitsjob"
)

func main() {
	os.Exit(bitsjob.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
