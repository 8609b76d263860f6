package engine

import (
	"testing"
	"time"

	"bits/engine/netpolicy"
	"bits/engine/policy"
	"bits/hresult"
)

func TestGates(t *testing.T) {
	pol := policy.Default()
	throttle := netpolicy.Bandwidth{Throttle: &netpolicy.Throttle{
		Window: netpolicy.Window{Days: netpolicy.EveryDay, Start: 23, End: 1}, Rate: 0, Others: netpolicy.Unlimited}}
	beforeMidnight := time.Date(2026, 3, 1, 23, 30, 0, 0, time.UTC)
	afterWindow := time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC) // the window ran past midnight and ended
	job := func(p Priority, policy uint32, remote string) *Job {
		return &Job{Priority: p, TransferPolicy: policy, Files: []File{{RemoteName: remote}}}
	}
	const remote = "http://192.0.2.10/file"
	m := &Manager{opts: Options{Transports: DefaultTransports()}}
	for _, c := range []struct {
		name string
		j    *Job
		at   time.Time
		b    netpolicy.Bandwidth
		cost uint32
		want hresult.Code // 0: may run
	}{
		{"unmetered", job(Normal, 0, remote), beforeMidnight, netpolicy.Bandwidth{}, netpolicy.CostUnrestricted, 0},
		{"metered, default policy", job(Normal, 0, remote), beforeMidnight, netpolicy.Bandwidth{}, netpolicy.CostCapped,
			hresult.BG_E_BLOCKED_BY_COST_TRANSFER_POLICY},
		{"metered, FOREGROUND too", job(Foreground, 0, remote), beforeMidnight, netpolicy.Bandwidth{}, netpolicy.CostCapped,
			hresult.BG_E_BLOCKED_BY_COST_TRANSFER_POLICY},
		{"metered, the job allows it", job(Normal, netpolicy.PolicyAlways, remote), beforeMidnight, netpolicy.Bandwidth{},
			netpolicy.CostCapped, 0},
		{"roaming, Standard does not allow it", job(Normal, 0x80000067, remote), beforeMidnight, netpolicy.Bandwidth{},
			netpolicy.CostRoaming, hresult.BG_E_BLOCKED_BY_COST_TRANSFER_POLICY},
		{"metered, a loopback server costs nothing", job(Normal, 0, "http://127.0.0.1:8080/file"), beforeMidnight,
			netpolicy.Bandwidth{}, netpolicy.CostCapped, 0},
		{"metered, a local copy", job(Normal, 0, "/srv/file"), beforeMidnight, netpolicy.Bandwidth{}, netpolicy.CostCapped, 0},
		{"0 Kbps in the window", job(Low, 0, remote), beforeMidnight, throttle, netpolicy.CostUnrestricted,
			hresult.BG_E_BLOCKED_BY_POLICY},
		{"0 Kbps does not hold FOREGROUND", job(Foreground, 0, remote), beforeMidnight, throttle, netpolicy.CostUnrestricted, 0},
		{"the window ended after midnight", job(Low, 0, remote), afterWindow, throttle, netpolicy.CostUnrestricted, 0},
	} {
		g := gates{policy: pol, limits: c.b.At(c.at), cost: c.cost}
		got := g.check(c.j, m.jobUsesNetwork(c.j))
		switch {
		case c.want == 0 && got != nil:
			t.Errorf("%s: held back: %v", c.name, got)
		case c.want != 0 && (got == nil || got.Code != c.want || !got.Transient):
			t.Errorf("%s: %v, want a transient 0x%08x", c.name, got, uint32(c.want))
		}
	}
}
