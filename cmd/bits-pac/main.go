// Command bits-pac runs proxy auto-config files for the bits worker, which
// starts it when a job's proxies come from a PAC file: it reads the script
// and then URLs on standard input and writes each URL's proxies, one JSON
// line each (package js). Running scripts from the network in a process of
// their own keeps an interpreter out of every other program, and lets the
// worker kill a script that runs away.
package main

import (
	"fmt"
	"os"

	"bits/engine/transport/http/pac/js"
	"bits/internal/version"
)

func main() {
	if len(os.Args) > 1 {
		if os.Args[1] == "--version" {
			fmt.Println("bits-pac", version.Version)
			return
		}
		fmt.Fprintln(os.Stderr, "usage: bits-pac (started by the bits worker; it reads JSON lines on standard input)")
		os.Exit(2)
	}
	if err := js.Serve(os.Stdin, os.Stdout); err != nil {
		os.Exit(1)
	}
}
