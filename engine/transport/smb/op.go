package smb

import (
	"context"
	"errors"
	"time"

	"github.com/cloudsoda/go-smb2"

	"bits/engine/transport"
	"bits/hresult"
)

// An op is one call of the transport API on one target: its context,
// with an idle watchdog that ends it with errIdle when the server has not
// answered for the idle timeout, and the session it uses.
type op struct {
	tr     *Transport
	t      target
	caller context.Context // the caller's own context
	ctx    context.Context // caller's, plus the watchdog
	cancel context.CancelCauseFunc
	idle   *time.Timer
	sess   *session // nil until share
}

// start reads the request and starts an op. A cancelled ctx ends the call
// here, before anything is sent.
func (tr *Transport) start(ctx context.Context, r *transport.Request) (*op, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := parseTarget(r)
	if err != nil {
		return nil, err
	}
	c, cancel := context.WithCancelCause(ctx)
	o := &op{tr: tr, t: t, caller: ctx, ctx: c, cancel: cancel}
	o.idle = time.AfterFunc(tr.o.IdleTimeout, func() { cancel(errIdle) })
	return o, nil
}

// alive restarts the watchdog after the server answered.
func (o *op) alive() { o.idle.Reset(o.tr.o.IdleTimeout) }

// pause stops the watchdog while the caller's side (a disk) works.
func (o *op) pause() { o.idle.Stop() }

// end stops the watchdog and lets go of the session.
func (o *op) end() {
	o.idle.Stop()
	o.cancel(nil)
	if o.sess != nil {
		o.sess.release()
	}
}

// share returns the target's share, carrying the op's context, on the
// cached session (logging on first when there is none).
func (o *op) share() (*smb2.Share, error) {
	sh, err := o.tr.share(o.ctx, o.t, &o.sess)
	if err != nil {
		return nil, o.fail(err)
	}
	return sh, nil
}

// errIdle is the cause given to an op's context when the server has not
// answered within the idle timeout.
var errIdle = errors.New("no answer from the SMB server within the idle timeout")

// fail turns an error into what the call returns: the caller's context
// error when it gave up, else an *hresult.Error. A failure that leaves the
// connection in doubt retires the session: no new call uses it, and it is
// closed once the calls still on it end, so the next call logs on afresh
// (a restarted server needs that) without breaking other jobs' transfers.
func (o *op) fail(err error) error {
	var he *hresult.Error
	switch {
	case o.caller.Err() != nil:
		o.retire() // an abandoned request leaves the session's credits in doubt
		return o.caller.Err()
	case errors.As(err, &he):
		return he // judged already
	case !answered(err):
		o.retire()
	}
	if errors.Is(context.Cause(o.ctx), errIdle) {
		return hresult.Transient(hresult.BG_E_TIMEOUT, hresult.ContextGeneralTransport,
			"%s did not answer for %s", o.t.host, o.tr.o.IdleTimeout)
	}
	return classify(o.t, err)
}

func (o *op) retire() {
	if o.sess != nil {
		o.tr.retire(o.t, o.sess)
	}
}
