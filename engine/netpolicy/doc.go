// Package netpolicy decides how fast transfers may go and whether they may
// run at all: bandwidth limits on time-of-day schedules (the BITS group
// policies), yielding to other traffic on the link, and the network's cost.
// It knows nothing of jobs or storage: the engine gives it the policy in
// force and asks it for a Stream per transfer, which paces the bytes and
// watches the transfer's connections.
package netpolicy
