// Command bitsadmin manages background transfers with the verbs and output
// of Windows' bitsadmin.
package main

import (
	"os"

	"bits/internal/cli/bitsadmin"
)

func main() {
	os.Exit(bitsadmin.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
