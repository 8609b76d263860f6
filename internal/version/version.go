// Package version holds the version of the suite, one for its three
// programs. A release build sets it:
//
//	go build -ldflags "-X bits/internal/version.Version=1.2.3" ./cmd/...
package version

// Version is the version of bitsadmin, bitsjob and bitsserver.
var Version = "0.1.0"
