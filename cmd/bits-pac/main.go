// Command bits-pac runs proxy auto-config files for the bits worker; see
// internal/cli/bits-pac and docs/transports.md.
package main

import (
	"os"

	bitspac "bits/internal/cli/bits-pac"
)

func main() {
	os.Exit(bitspac.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
