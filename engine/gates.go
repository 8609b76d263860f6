package engine

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"bits/engine/netpolicy"
	"bits/engine/policy"
	"bits/hresult"
	"bits/storage"
)

// gates are what may hold a job back before it moves a byte: the
// network's cost against the job's transfer policy, and a bandwidth policy
// that gives the job's priority nothing at this hour. Both concern network
// transfers only; local copies always run.
type gates struct {
	policy policy.Policy
	limits netpolicy.Limits
	cost   uint32
}

// check says why j may not transfer now, or nil; network says whether it
// has a file to move over a network (Manager.jobUsesNetwork, which the worker
// works out once for each revision of the job).
func (g gates) check(j *Job, network bool) *hresult.Error {
	if !network {
		return nil
	}
	allowed := j.TransferPolicy
	if allowed == 0 {
		allowed = g.policy.TransferPolicy[j.Priority]
	}
	if !netpolicy.Allows(allowed, g.cost) {
		return &hresult.Error{Code: hresult.BG_E_BLOCKED_BY_COST_TRANSFER_POLICY, Context: hresult.ContextGeneralQueueManager,
			Transient: true, Msg: fmt.Sprintf("the network's cost is %s; the job may transfer in %s",
				netpolicy.FormatCostStates(g.cost), netpolicy.FormatCostStates(allowed))}
	}
	if g.limits.For(netpolicy.Class(j.Priority)) == 0 {
		return &hresult.Error{Code: hresult.BG_E_BLOCKED_BY_POLICY, Context: hresult.ContextGeneralQueueManager,
			Transient: true, Msg: fmt.Sprintf("the bandwidth policy allows %s jobs no bandwidth at this time", j.Priority)}
	}
	return nil
}

// jobUsesNetwork says whether any file still to move goes over a network.
func (m *Manager) jobUsesNetwork(j *Job) bool {
	for _, f := range j.Files {
		if !f.Complete && m.overNetwork(f.RemoteName) {
			return true
		}
	}
	return false
}

// overNetwork says whether a remote name is reached over a network: not
// by a transport without one (local files), nor on this machine's
// loopback, which costs nothing, has no one to yield to and never goes
// away.
func (m *Manager) overNetwork(remote string) bool {
	u, e, err := m.opts.Transports.Resolve(remote)
	if err != nil || !e.Caps.Network {
		return false
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); ip != nil {
		return !ip.IsLoopback()
	}
	return !strings.EqualFold(host, "localhost")
}

// networkCost is the cost state of the network now: the policy's, else
// NetworkManager's, else Unrestricted.
func (w *worker) networkCost(ctx context.Context, p policy.Policy) uint32 {
	if p.NetworkCost != 0 {
		return p.NetworkCost
	}
	if c, ok := w.nm.Cost(ctx); ok {
		return c
	}
	return netpolicy.CostUnrestricted
}

// block holds a job back for why: TRANSIENT_ERROR with why as its error,
// until the gate opens (cost, policy) or the network comes back. Waiting
// for the policy is not a failure: it counts neither as an error nor
// against the no-progress timeout. A lost network is a failure, retried
// as soon as a route is back, or after the retry delay at the latest.
func (w *worker) block(ctx context.Context, id string, why *hresult.Error) {
	now := w.m.opts.Now()
	lost := why.Code == hresult.BG_E_NETWORK_DISCONNECTED
	_, err := w.m.change(ctx, id, func(_ *storage.Tx, j *Job) error {
		if err := w.m.fire(j, EvBlock); err != nil {
			return err
		}
		j.Err = &JobError{Code: why.Code, Context: why.Context, Msg: why.Msg, FileIndex: -1}
		j.retryAt = time.Time{}
		if lost {
			j.ErrorCount++
			if j.transientSince.IsZero() {
				j.transientSince = now
			}
			j.retryAt = now.Add(j.MinRetryDelay)
		}
		return nil
	})
	if err != nil {
		if !hresult.Is(err, hresult.BG_E_INVALID_STATE) && !hresult.Is(err, hresult.BG_E_NOT_FOUND) {
			w.log.Error("holding job back", "job", id, "err", err)
		}
		return
	}
	w.log.Info("job held back", "job", id, "code", fmt.Sprintf("0x%08x", uint32(why.Code)), "why", why.Msg)
}

// disconnected is the error of a transfer whose network went away.
func disconnected(host string) *hresult.Error {
	return &hresult.Error{Code: hresult.BG_E_NETWORK_DISCONNECTED, Context: hresult.ContextGeneralTransport,
		Transient: true, Msg: "no route to " + host}
}

// explainLoss turns a transient failure into BG_E_NETWORK_DISCONNECTED
// when the reason is that no route leads to the server any more.
func (w *worker) explainLoss(remote string, r *runner, err error) error {
	e := hresult.From(err)
	if !e.Transient || !w.m.overNetwork(remote) {
		return err
	}
	var peers []net.IP
	if st := r.stream.Load(); st != nil {
		peers = st.Peers()
	}
	host := w.m.hostOf(remote)
	if netpolicy.Unreachable(host, peers) {
		return disconnected(host)
	}
	return err
}

// reachable says whether a route leads again to where a job held back by
// a lost network was transferring.
func (w *worker) reachable(j *Job) bool {
	w.mu.Lock()
	peers := w.peers[j.ID]
	w.mu.Unlock()
	remote := ""
	for _, f := range j.Files {
		if !f.Complete {
			remote = f.RemoteName
			break
		}
	}
	return !netpolicy.Unreachable(w.m.hostOf(remote), peers)
}

func (m *Manager) hostOf(remote string) string {
	u, err := m.opts.Transports.Parse(remote)
	if err != nil {
		return ""
	}
	return u.Hostname()
}
