package bitsjob

import (
	"errors"
	"fmt"
	"strings"

	"bits/engine"
	"bits/hresult"
)

// Exit codes; docs/json.md lists them. The HRESULT of a failure is in its
// JSON error object, not in the exit code.
const (
	exitOK          = 0
	exitFailed      = 1   // the engine refused or failed an operation
	exitUsage       = 2   // unknown command or flag, wrong arguments, bad value
	exitNotFound    = 3   // a job argument names no job, or several
	exitJobFailed   = 4   // transfer: the job ended in ERROR or was cancelled elsewhere
	exitInterrupted = 130 // transfer or watch stopped by Ctrl+C or SIGTERM
)

// eAbort is E_ABORT, the code of an interrupted command.
const eAbort hresult.Code = 0x80004004

// A usageError is a command line that makes no sense.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErr(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// An opError is a failed call into the engine, about a job when job is set.
type opError struct {
	action string
	job    string
	err    error
}

func (e *opError) Error() string { return "cannot " + e.action + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// A lookupError is a job argument that names no job, or several.
type lookupError struct {
	arg       string
	ambiguous bool
	err       error
}

func (e *lookupError) Error() string { return "cannot find job " + e.arg }

// A jobFailed ends transfer when its job went to ERROR or disappeared.
type jobFailed struct {
	job *engine.Job // nil when the job is gone
	id  string
}

func (e *jobFailed) Error() string { return "the transfer failed" }

// interrupted ends transfer and watch on Ctrl+C.
type interrupted struct{ note string }

func (e *interrupted) Error() string { return "interrupted" }

// reported ends a command whose failures are already printed.
type reported int

func (r reported) Error() string { return fmt.Sprintf("exit status %d", int(r)) }

// errorJSON is the object printed on stderr with --json.
type errorJSON struct {
	SchemaVersion int
	Error         errorBody
}

type errorBody struct {
	HResult string // 0x8020000x, as bitsadmin prints it
	Code    int32  // the same HRESULT as PowerShell's Exception.HResult shows it
	Message string // the code's description
	Detail  string `json:",omitempty"` // what exactly went wrong, when the engine says more
	Context string // PowerShell's ErrorContext name: where it happened
	Action  string `json:",omitempty"` // what bitsjob was doing
	Job     string `json:",omitempty"` // the job argument or GUID it is about
	Input   string `json:",omitempty"` // FILE:LINE of the input it is about (import)
}

// warningJSON is printed on stderr for an operation that succeeded with a
// warning code (BG_S_PARTIAL_COMPLETE, BG_S_UNABLE_TO_DELETE_FILES).
type warningJSON struct {
	SchemaVersion int
	Warning       errorBody
}

func body(code hresult.Code, ctx hresult.Context, detail string) errorBody {
	b := errorBody{
		HResult: fmt.Sprintf("0x%08X", uint32(code)), Code: int32(code),
		Message: code.Message(), Context: nameOr(contextNames, ctx),
	}
	if code == eAbort {
		b.Message = "The operation was interrupted."
	}
	if detail != b.Message {
		b.Detail = detail
	}
	return b
}

// describe turns an error into what is printed: its code, context and text.
func describe(err error) errorBody {
	var he *hresult.Error
	if errors.As(err, &he) {
		return body(he.Code, he.Context, he.Msg)
	}
	return body(hresult.E_FAIL, hresult.ContextUnknown, err.Error())
}

// report prints err (nothing for success) and returns the exit code.
func (e *env) report(err error) int {
	if err == nil {
		return exitOK
	}
	var (
		ue   *usageError
		le   *lookupError
		oe   *opError
		jf   *jobFailed
		intr *interrupted
		rp   reported
	)
	if errors.As(err, &rp) {
		return int(rp)
	}
	if hresult.Is(err, hresult.CO_E_SERVER_EXEC_FAILURE) {
		e.toldNoWorker = true
	}
	var b errorBody
	code := exitFailed
	switch {
	case !e.ran && !errors.As(err, &oe):
		// cobra refused the command line before any command ran.
		b = body(hresult.E_INVALIDARG, hresult.ContextNone, err.Error())
		code = exitUsage
	case errors.As(err, &ue):
		b = body(hresult.E_INVALIDARG, hresult.ContextNone, ue.msg)
		code = exitUsage
	case errors.As(err, &le):
		code = exitNotFound
		if le.ambiguous {
			b = body(hresult.E_INVALIDARG, hresult.ContextGeneralQueueManager,
				fmt.Sprintf("several jobs are named %q: use the job's GUID", le.arg))
		} else {
			b = describe(le.err)
		}
		b.Job = le.arg
	case errors.As(err, &jf):
		code = exitJobFailed
		if jf.job != nil && jf.job.Err != nil {
			b = body(jf.job.Err.Code, jf.job.Err.Context, jf.job.Err.Msg)
		} else {
			b = body(hresult.BG_E_NOT_FOUND, hresult.ContextGeneralQueueManager, "the job was completed or cancelled by someone else")
		}
		b.Action, b.Job = "transfer", strings.ToLower(jf.id)
	case errors.As(err, &intr):
		code = exitInterrupted
		b = body(eAbort, hresult.ContextNone, intr.note)
	case errors.As(err, &oe):
		b = describe(oe.err)
		b.Action, b.Job = oe.action, oe.job
	default:
		b = describe(err)
	}
	var ie *inputError
	if errors.As(err, &ie) {
		b.Input = ie.pos
	}
	if e.json {
		writeJSON(e.stderr, errorJSON{SchemaVersion: SchemaVersion, Error: b})
	} else {
		fmt.Fprintln(e.stderr, humanError(b))
	}
	return code
}

// humanError is one line: what failed, why, and the code.
func humanError(b errorBody) string {
	var s strings.Builder
	s.WriteString("bitsjob: ")
	if b.Input != "" {
		s.WriteString(b.Input + ": ")
	}
	if b.Action != "" {
		s.WriteString("cannot " + b.Action)
		if b.Job != "" {
			s.WriteString(" " + quoteJob(b.Job))
		}
		s.WriteString(": ")
	} else if b.Job != "" {
		s.WriteString(quoteJob(b.Job) + ": ")
	}
	s.WriteString(hresult.Text(b.Message, b.Detail, hresult.Code(b.Code)))
	return s.String()
}

func quoteJob(j string) string {
	if _, ok := parseJobGUID(j); ok {
		return j
	}
	return fmt.Sprintf("%q", j)
}

// warn prints a success code that is not plain S_OK.
func (e *env) warn(code hresult.Code, action, job string) {
	if code != hresult.S_OK {
		e.warnBody(body(code, hresult.ContextNone, ""), action, job)
	}
}

// warnBody prints a warning on stderr, as JSON with --json.
func (e *env) warnBody(b errorBody, action, job string) {
	b.Action, b.Job = action, job
	if e.json {
		writeJSON(e.stderr, warningJSON{SchemaVersion: SchemaVersion, Warning: b})
		return
	}
	fmt.Fprintln(e.stderr, "bitsjob: warning: "+strings.TrimPrefix(humanError(b), "bitsjob: "))
}
