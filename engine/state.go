package engine

import (
	"fmt"
	"strings"

	"bits/hresult"
)

// State is a job state, numbered as BG_JOB_STATE.
type State int

const (
	Queued State = iota
	Connecting
	Transferring
	Suspended
	Error
	TransientError
	Transferred
	Acknowledged
	Cancelled
)

var stateNames = [...]string{"QUEUED", "CONNECTING", "TRANSFERRING", "SUSPENDED", "ERROR",
	"TRANSIENT_ERROR", "TRANSFERRED", "ACKNOWLEDGED", "CANCELLED"}

// String returns the bitsadmin word: QUEUED, TRANSIENT_ERROR, CANCELLED...
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Final reports whether no action can change the job any more.
func (s State) Final() bool { return s == Acknowledged || s == Cancelled }

// Active reports whether the worker owns the job right now or will soon.
func (s State) Active() bool { return s == Queued || s == Connecting || s == Transferring }

// Priority is BG_JOB_PRIORITY: Foreground runs at once, the rest in the background.
type Priority int

const (
	Foreground Priority = iota
	High
	Normal
	Low
)

var priorityNames = [...]string{"FOREGROUND", "HIGH", "NORMAL", "LOW"}

func (p Priority) String() string {
	if p >= 0 && int(p) < len(priorityNames) {
		return priorityNames[p]
	}
	return "UNKNOWN"
}

// ParsePriority reads a priority word in any case.
func ParsePriority(s string) (Priority, bool) {
	for i, n := range priorityNames {
		if strings.EqualFold(s, n) {
			return Priority(i), true
		}
	}
	return 0, false
}

// JobType is BG_JOB_TYPE.
type JobType int

const (
	Download JobType = iota
	Upload
	UploadReply
)

var typeNames = [...]string{"DOWNLOAD", "UPLOAD", "UPLOAD-REPLY"}

func (t JobType) String() string {
	if t >= 0 && int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "UNKNOWN"
}

// ParseJobType reads DOWNLOAD, UPLOAD or UPLOAD-REPLY in any case.
func ParseJobType(s string) (JobType, bool) {
	for i, n := range typeNames {
		if strings.EqualFold(s, n) {
			return JobType(i), true
		}
	}
	return 0, false
}

// Event is something that happens to a job: a user action or a worker
// observation.
type Event int

const (
	EvResume Event = iota
	EvSuspend
	EvCancel
	EvComplete
	EvConnect   // worker picks the job up
	EvProgress  // bytes are moving
	EvDone      // every file is transferred
	EvTransient // a recoverable error
	EvFatal     // an unrecoverable error
	EvRetry     // the retry delay has passed, or the network came back
	EvGiveUp    // the no-progress timeout ran out
	EvRecover   // the worker restarted and found the job mid-transfer
	EvBlock     // the job may not transfer now: the network's cost, the bandwidth policy, a lost network
	numEvents
)

var eventNames = [...]string{"Resume", "Suspend", "Cancel", "Complete", "Connect", "Progress",
	"Done", "Transient", "Fatal", "Retry", "GiveUp", "Recover", "Block"}

func (e Event) String() string {
	if e >= 0 && e < numEvents {
		return eventNames[e]
	}
	return fmt.Sprintf("Event(%d)", int(e))
}

// Next is the job state machine. It is pure: the same state and event always
// give the same answer, and an event that the state does not allow gives
// BG_E_INVALID_STATE. Rules that depend on more than the state (Complete of
// an upload, Resume of a job with no files) are the Manager's.
func Next(s State, ev Event) (State, error) {
	if s.Final() {
		return s, errInvalidState(s, ev)
	}
	switch ev {
	case EvResume:
		switch s {
		case Queued, Connecting, Transferring:
			return s, nil // already running: a no-op, as in BITS
		}
		return Queued, nil
	case EvSuspend:
		return Suspended, nil
	case EvCancel:
		return Cancelled, nil
	case EvComplete:
		return Acknowledged, nil
	case EvConnect:
		if s == Queued {
			return Connecting, nil
		}
	case EvProgress:
		if s == Connecting || s == Transferring {
			return Transferring, nil
		}
	case EvDone:
		if s == Connecting || s == Transferring {
			return Transferred, nil
		}
	case EvTransient:
		if s == Connecting || s == Transferring {
			return TransientError, nil
		}
	case EvFatal:
		if s == Connecting || s == Transferring || s == TransientError {
			return Error, nil
		}
	case EvRetry:
		if s == TransientError {
			return Queued, nil
		}
	case EvGiveUp:
		if s == TransientError {
			return Error, nil
		}
	case EvRecover:
		if s == Connecting || s == Transferring {
			return Queued, nil
		}
	case EvBlock:
		if s.Active() {
			return TransientError, nil
		}
	}
	return s, errInvalidState(s, ev)
}

func errInvalidState(s State, ev Event) error {
	return errStateRefused(fmt.Sprintf("%s is not allowed in state %s", ev, s))
}

func errStateRefused(msg string) error {
	return &hresult.Error{Code: hresult.BG_E_INVALID_STATE, Context: hresult.ContextGeneralQueueManager, Msg: msg}
}
