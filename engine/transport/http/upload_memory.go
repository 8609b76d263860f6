package http

import (
	"errors"
	"net/url"
	"strings"
	"sync"

	"bits/engine/transport"
)

// uploadMemory is what a Transport remembers of uploads between calls, in
// memory only: the fragment size per server, the offset each session's
// server last confirmed and the highest byte sent to it, the reply of sessions whose last fragment was
// acknowledged, and the sessions that are gone (the server said it does
// not know them, or they were committed or cancelled). Its zero value is
// ready for use.
type uploadMemory struct {
	mu      sync.Mutex
	sizers  map[string]*fragmentSizer // by scheme://host:port
	held    map[string]int64          // by memoryKey
	sent    map[string]int64          // by memoryKey: the highest end of a fragment sent
	replies map[string]*replyState    // by memoryKey
	lost    map[string]bool           // by memoryKey
	hosts   map[string]*hostState     // by memoryKey: sessions with a BITS-Host-Id
}

// memoryKey names a session in memory: ids are only unique per server.
func memoryKey(u *url.URL, id string) string { return serverKey(u) + " " + id }

func serverKey(u *url.URL) string { return strings.ToLower(u.Scheme + "://" + u.Host) }

// replyState is an upload-reply session's reply.
type replyState struct {
	url    string // BITS-Reply-URL
	closed bool   // Close-Session went through; only the reply is left
}

// maxRemembered bounds each map: entries of sessions that were never
// committed or cancelled must not pile up in a long-running worker.
const maxRemembered = 1024

func (m *uploadMemory) sizer(u *url.URL) *fragmentSizer {
	key := serverKey(u)
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sizers[key]; ok {
		return s
	}
	if m.sizers == nil || len(m.sizers) >= maxRemembered {
		m.sizers = map[string]*fragmentSizer{}
	}
	s := newFragmentSizer()
	m.sizers[key] = s
	return s
}

func (m *uploadMemory) setReply(session, url string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.replies == nil || len(m.replies) >= maxRemembered {
		m.replies = map[string]*replyState{}
	}
	m.replies[session] = &replyState{url: url}
}

// reply returns a copy of the session's reply state; the zero value when
// there is none.
func (m *uploadMemory) reply(session string) replyState {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.replies[session]; ok {
		return *r
	}
	return replyState{}
}

// closed records that a session was closed with its reply still to fetch.
func (m *uploadMemory) closed(session, url string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.replies == nil || len(m.replies) >= maxRemembered {
		m.replies = map[string]*replyState{}
	}
	m.replies[session] = &replyState{url: url, closed: true}
}

// noteLost remembers that the server did not know the session, when err
// says so, and returns err. A session never comes back, and Resume's probe
// cannot always tell (see Resume): this lets it.
func (m *uploadMemory) noteLost(session string, err error) error {
	if errors.Is(err, transport.ErrSessionLost) {
		m.ended(session)
	}
	return err
}

// ended remembers that a session is gone.
func (m *uploadMemory) ended(session string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.lost == nil || len(m.lost) >= maxRemembered {
		m.lost = map[string]bool{}
	}
	m.lost[session] = true
	delete(m.replies, session)
	delete(m.held, session)
	delete(m.sent, session)
	delete(m.hosts, session)
}

// setHeld records the offset the session's server last confirmed.
func (m *uploadMemory) setHeld(session string, n int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.held == nil || len(m.held) >= maxRemembered {
		m.held = map[string]int64{}
	}
	m.held[session] = n
}

// lastHeld returns the offset the session's server last confirmed, and
// whether one is known.
func (m *uploadMemory) lastHeld(session string) (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.held[session]
	return n, ok
}

// sending records that the session's bytes up to end went to the server,
// and returns the highest end sent: what the server may say it holds.
func (m *uploadMemory) sending(session string, end int64) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sent == nil || len(m.sent) >= maxRemembered {
		m.sent = map[string]int64{}
	}
	m.sent[session] = max(m.sent[session], end)
	return m.sent[session]
}

func (m *uploadMemory) isLost(session string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lost[session]
}
