// Package pac finds and runs proxy auto-config (PAC) files for the HTTP
// transport: where the user's desktop configured one (Configured), reading
// it (Fetch), and running it (Start) in the bits-pac program, which
// evaluates it with package js, and reading its answers (ParseResult).
package pac
