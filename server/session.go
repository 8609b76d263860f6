package server

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// A sessionState is where an upload session stands. Closed and cancelled
// sessions keep their record (not their data) until they expire, so that
// a Close-Session or Cancel-Session sent again gets the same answer.
type sessionState string

const (
	stateReceiving sessionState = "receiving" // fragments arriving, or all in and not closed
	stateReplied   sessionState = "replied"   // the application was notified and answered
	stateClosed    sessionState = "closed"    // Close-Session done: data gone, file in place
	stateCancelled sessionState = "cancelled" // Cancel-Session done: data gone
)

// A session is the record of one upload, kept as JSON beside its data.
type session struct {
	Key    string `json:"key"`    // the id's 32 hex digits and dashes, lower case: its folder's name
	Prefix string `json:"prefix"` // the virtual directory's
	Name   string `json:"name"`   // the file's name in the virtual directory's folder
	URL    string `json:"url"`    // the upload URL as the client sent it, for the application
	Owner  string `json:"owner,omitempty"`
	Client string `json:"client,omitempty"` // whom it counts against in the session limits

	Total    int64        `json:"total"` // -1 until the first fragment says
	Received int64        `json:"received"`
	State    sessionState `json:"state"`

	StaticReply       string `json:"static_reply,omitempty"` // the application's BITS-Static-Response-URL
	CopyToDestination bool   `json:"copy_to_destination,omitempty"`

	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"` // last progress: the timeout counts from here

	// ClaimedAt is when a server of a farm claimed the session to delete
	// it for its age (state expiring), so that another server takes a
	// claim over only once its claimer must have died.
	ClaimedAt time.Time `json:"claimed_at,omitzero"`

	// Synced is how much of the data was last synced to disk, and when.
	Synced   int64     `json:"synced"`
	SyncedAt time.Time `json:"synced_at"`
}

func (s *session) live() bool { return s.State == stateReceiving || s.State == stateReplied }

func (s *session) complete() bool { return s.Total >= 0 && s.Received == s.Total }

func (s *session) expired(now time.Time, timeout time.Duration) bool {
	return now.Sub(s.Updated) > timeout
}

// newSessionKey returns a random (version 4) GUID as a session key.
func newSessionKey() string {
	var b [16]byte
	rand.Read(b[:]) // never fails; it crashes the program first
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// sessionID is how a key is written in BITS-Session-Id: a GUID in braces,
// as Windows servers write it.
func sessionID(key string) string { return "{" + strings.ToUpper(key) + "}" }

// parseSessionID accepts a GUID with or without braces, in any case, and
// returns its key. Nothing else is a session id: the key becomes a folder
// name, so it must never hold anything but hex digits and dashes.
func parseSessionID(s string) (string, bool) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return "", false
			}
		}
	}
	return strings.ToLower(s), true
}
