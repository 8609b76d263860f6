package engine

import (
	"bits/hresult"
	"bits/storage"
	"testing"
)

// TestNeedsFiles: a job waiting out its retry delay is read without
// its files; one held back by the policy or a lost network is not, since
// what decides whether it may go again is in them.
func TestNeedsFiles(t *testing.T) {
	for _, c := range []struct {
		state State
		code  hresult.Code
		want  bool
	}{
		{Queued, 0, true},
		{Transferring, 0, true},
		{TransientError, hresult.Code(0x80072efd), false}, // cannot connect: wait for the retry time
		{TransientError, hresult.BG_E_BLOCKED_BY_POLICY, true},
		{TransientError, hresult.BG_E_BLOCKED_BY_COST_TRANSFER_POLICY, true},
		{TransientError, hresult.BG_E_NETWORK_DISCONNECTED, true},
	} {
		r := storage.Job{State: int(c.state), ErrorCode: int64(c.code)}
		if got := needsFiles(r); got != c.want {
			t.Errorf("needsFiles(%s, %#x) = %v, want %v", c.state, uint32(c.code), got, c.want)
		}
	}
}
