package smb

import (
	"context"
	"crypto/sha256"
	"net"
	"sync"

	"github.com/cloudsoda/go-smb2"

	"bits/engine/transport"
)

// A sessionKey names one cached logon. The password's digest is part of
// it so that a job with a wrong password never rides on another job's
// session for the same user.
type sessionKey struct {
	addr, domain, user string
	password           [sha256.Size]byte
}

func keyOf(t target) sessionKey {
	return sessionKey{addr: t.addr, domain: t.cred.domain, user: t.cred.user, password: sha256.Sum256([]byte(t.cred.password))}
}

// A session is one authenticated SMB connection and the shares mounted on
// it; go-smb2 sessions and shares are safe for concurrent use. It counts
// the calls using it, so that a retired session closes after the last.
type session struct {
	tcp net.Conn
	s   *smb2.Session

	mu      sync.Mutex
	shares  map[string]*smb2.Share
	users   int
	retired bool
}

// release ends one call's use of the session.
func (s *session) release() {
	s.mu.Lock()
	s.users--
	closeNow := s.retired && s.users == 0
	s.mu.Unlock()
	if closeNow {
		s.tcp.Close()
	}
}

// A slot holds the cached session of one key. Its token (a one-place
// channel) serialises logons, and can be waited for with a context.
type slot struct {
	token chan struct{}
	sess  *session // guarded by token
}

// share returns t's share on the cached session, logging on and mounting
// first when needed, and stores the session it used, counted as in use,
// in *used. The share carries ctx.
func (tr *Transport) share(ctx context.Context, t target, used **session) (*smb2.Share, error) {
	sl := tr.slot(keyOf(t))
	select {
	case sl.token <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	sess := sl.sess
	if sess == nil {
		var err error
		if sess, err = tr.logon(ctx, t); err != nil {
			<-sl.token
			return nil, err
		}
		sl.sess = sess
	}
	sess.mu.Lock()
	sess.users++
	sess.mu.Unlock()
	*used = sess
	<-sl.token
	transport.ObserveConn(ctx, sess.tcp)

	sess.mu.Lock()
	defer sess.mu.Unlock()
	sh := sess.shares[t.share]
	if sh == nil {
		var err error
		sh, err = sess.s.WithContext(ctx).Mount(`\\` + t.host + `\` + t.share)
		if err != nil {
			return nil, &shareError{err}
		}
		sess.shares[t.share] = sh
	}
	return sh.WithContext(ctx), nil
}

func (tr *Transport) slot(k sessionKey) *slot {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	sl := tr.slots[k]
	if sl == nil {
		sl = &slot{token: make(chan struct{}, 1)}
		tr.slots[k] = sl
	}
	return sl
}

// logon connects and authenticates with NTLM.
func (tr *Transport) logon(ctx context.Context, t target) (*session, error) {
	dctx, cancel := context.WithTimeout(ctx, tr.o.DialTimeout)
	defer cancel()
	tcp, err := transport.Dial(dctx, &net.Dialer{}, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	dialer := &smb2.Dialer{Initiator: &smb2.NTLMInitiator{User: t.cred.user, Password: t.cred.password, Domain: t.cred.domain}}
	s, err := dialer.DialConn(dctx, tcp, t.addr)
	if err != nil {
		tcp.Close()
		return nil, &logonError{err}
	}
	return &session{tcp: tcp, s: s, shares: map[string]*smb2.Share{}}, nil
}

// retire takes sess out of the cache, if it is still t's session, and
// closes it once no call uses it.
func (tr *Transport) retire(t target, sess *session) {
	sl := tr.slot(keyOf(t))
	sl.token <- struct{}{}
	if sl.sess == sess {
		sl.sess = nil
	}
	<-sl.token
	sess.mu.Lock()
	sess.retired = true
	closeNow := sess.users == 0
	sess.mu.Unlock()
	if closeNow {
		sess.tcp.Close()
	}
}

// Close closes every cached session's connection, breaking the calls
// still on them.
func (tr *Transport) Close() error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for k, sl := range tr.slots {
		sl.token <- struct{}{}
		if sl.sess != nil {
			sl.sess.tcp.Close()
		}
		<-sl.token
		delete(tr.slots, k)
	}
	return nil
}
