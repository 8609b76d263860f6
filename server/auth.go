package server

import (
	"bits/internal/uploadproto"
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/bcrypt"
)

// Users are the accounts allowed in, each with a bcrypt hash of its
// password, as in an htpasswd file made with "htpasswd -B".
type Users struct {
	hashes map[string][]byte

	// A bcrypt check takes tens of milliseconds on purpose; BITS sends a
	// request per fragment, each with the password. So the SHA-256 of the
	// last password that passed is remembered, in memory only.
	mu       sync.Mutex
	verified map[string][sha256.Size]byte

	// decoy is checked for unknown users, at the users' own cost, so
	// timing does not tell which users exist.
	decoy func() []byte
}

// LoadUsers reads a users file; see ParseUsers.
func LoadUsers(name string) (*Users, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	u, err := ParseUsers(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return u, nil
}

// ParseUsers reads "user:bcrypt-hash" lines. Blank lines and lines
// starting with # are skipped. Any other hash scheme is refused, and
// errors never quote a hash.
func ParseUsers(r io.Reader) (*Users, error) {
	u := &Users{hashes: map[string][]byte{}, verified: map[string][sha256.Size]byte{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok:
			return nil, fmt.Errorf("line %d: want user:bcrypt-hash", n)
		case name == "" || strings.ContainsFunc(name, func(c rune) bool { return c <= ' ' || c == 0x7f }):
			return nil, fmt.Errorf("line %d: user names must not be empty nor hold spaces or control characters", n)
		case u.hashes[name] != nil:
			return nil, fmt.Errorf("line %d: user %s given twice", n, name)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil || !strings.HasPrefix(hash, "$2") {
			return nil, fmt.Errorf("line %d: the password of %s is not a bcrypt hash (make one with bitsserver -hash-password or htpasswd -nB)", n, name)
		}
		u.hashes[name] = []byte(hash)
		if u.decoy == nil {
			cost, _ := bcrypt.Cost([]byte(hash))
			u.decoy = sync.OnceValue(func() []byte {
				h, _ := bcrypt.GenerateFromPassword([]byte(rand.Text()), cost)
				return h
			})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(u.hashes) == 0 {
		return nil, fmt.Errorf("no users")
	}
	return u, nil
}

// HashPassword returns the bcrypt hash of a password, for a users file.
func HashPassword(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	return string(h), err
}

// check reports whether the password is the user's.
func (u *Users) check(name, password string) bool {
	sum := sha256.Sum256([]byte(password))
	hash, known := u.hashes[name]
	if known {
		u.mu.Lock()
		v, ok := u.verified[name]
		u.mu.Unlock()
		if ok && subtle.ConstantTimeCompare(v[:], sum[:]) == 1 {
			return true
		}
	} else {
		hash = u.decoy()
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil || !known {
		return false
	}
	u.mu.Lock()
	u.verified[name] = sum
	u.mu.Unlock()
	return true
}

// authenticate returns the request's user, or false when users are
// configured and the request does not prove to be one of them.
func (s *Server) authenticate(r *http.Request) (string, bool) {
	if s.users == nil {
		return "", true
	}
	name, password, ok := r.BasicAuth()
	if !ok || !s.users.check(name, password) {
		return "", false
	}
	return name, true
}

// challenge answers 401 with a Basic challenge; to BITS_POST as an Ack.
func challenge(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Basic realm="bitsserver", charset="UTF-8"`)
	if r.Method == uploadproto.Method {
		writeAck(w, http.StatusUnauthorized, nil)
		return
	}
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}
