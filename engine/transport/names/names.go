// Package names is the part of each transport that reads remote names
// and says what the transport can do, without the code that moves the
// bytes: a front end that only checks names (bitsadmin) links none of the
// transports' dependencies (Kerberos, SMB), which each command would pay
// for at start-up. Each transport's Entry adds its movers to its names.
package names

import "bits/engine/transport"

// Registry holds the names of every transport, without movers: enough for
// every call of a Manager but a worker's (engine.RunWorker), which needs
// the transports themselves (transport/all).
func Registry() *transport.Registry { return transport.NewRegistry(HTTP(), SMB(), File()) }
