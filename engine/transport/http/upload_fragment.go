package http

import (
	"sync"
	"time"
)

// Fragment sizes. BITS clients send 5 KB to 13 MB per fragment; the bytes
// are read from the file as they leave, and again when a fragment is sent
// again.
const (
	minFragment   = 5 << 10
	maxFragment   = 13 << 20
	firstFragment = 1 << 20
	// fragmentTarget is how long one fragment should take: long enough
	// that the round trip per fragment costs little, short enough that a
	// cut connection loses little and a slow link still shows progress.
	fragmentTarget = 4 * time.Second
)

// fragmentSizer adapts the fragment size to a server and the link to it:
// it doubles after a full fragment that went through in less than half
// the target time, and shrinks towards the size that takes the target time
// after one that took more than twice as long. A failed fragment (a
// timeout, a cut connection) halves it. A 413 (request too large) halves
// it too and makes that the ceiling from then on. It never leaves
// [minFragment, maxFragment]. It is safe for concurrent use.
type fragmentSizer struct {
	mu      sync.Mutex
	size    int
	ceiling int // the most the server accepts, as far as is known
}

func newFragmentSizer() *fragmentSizer {
	return &fragmentSizer{size: firstFragment, ceiling: maxFragment}
}

// next is the size of the next fragment.
func (f *fragmentSizer) next() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.size
}

// sent learns from a fragment of n bytes that was acknowledged after took.
func (f *fragmentSizer) sent(n int, took time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case took > 2*fragmentTarget:
		// The size the link moves in the target time, but no less than a
		// quarter of the current size: one slow fragment may be a hiccup.
		fit := int(float64(n) * float64(fragmentTarget) / float64(took))
		f.size = max(fit, f.size/4)
	case n >= f.size && took < fragmentTarget/2:
		f.size *= 2
	}
	f.clamp()
}

// failed shrinks after a fragment that timed out or lost its connection.
func (f *fragmentSizer) failed() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.size /= 2
	f.clamp()
}

// tooLarge takes a 413 for a fragment of n bytes and reports whether a
// smaller fragment is possible.
func (f *fragmentSizer) tooLarge(n int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n <= minFragment {
		return false
	}
	f.ceiling = max(n/2, minFragment)
	f.size = min(f.size, f.ceiling)
	return true
}

func (f *fragmentSizer) clamp() {
	f.size = min(max(f.size, minFragment), f.ceiling)
}
