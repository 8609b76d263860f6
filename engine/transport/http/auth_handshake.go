package http

import (
	"encoding/base64"
	"fmt"
	"strings"

	ntlmssp "github.com/Azure/go-ntlmssp"
	httpdigest "github.com/icholy/digest"

	"bits/engine/transport"
)

// authSchemes are the schemes answered, strongest first: when a target
// offers several, the first one the job has a credential for is used.
// Negotiate carries a Kerberos ticket (kerberos.go), or, as Windows'
// Negotiate does when Kerberos is out of reach, NTLM tokens: a user name
// and password that Kerberos refused or cannot use go on with NTLM; the
// implicit credential has only Kerberos.
var authSchemes = []struct {
	name   string // lower case, as in challenges
	header string // as sent
	scheme transport.AuthScheme
}{
	{"negotiate", "Negotiate", transport.SchemeNegotiate},
	{"ntlm", "NTLM", transport.SchemeNTLM},
	{"digest", "Digest", transport.SchemeDigest},
	{"basic", "Basic", transport.SchemeBasic},
}

// A handshake answers one target's challenges with one scheme. Basic and
// Digest take one answer (Digest one more when the server says the nonce
// went stale); NTLM and Negotiate take two, a NEGOTIATE message and then
// an AUTHENTICATE message for the server's CHALLENGE, on one connection,
// except Negotiate with Kerberos, whose one answer carries the ticket.
type handshake struct {
	scheme transport.AuthScheme
	name   string // as in the header
	cred   transport.Credential
	host   string // the target's host name
	krb    *kerberos

	failed   error // why Kerberos could not answer, for the error report
	kerberos bool  // Negotiate: answered with a Kerberos ticket

	sent   int                   // answers given
	digest *httpdigest.Challenge // Digest: the challenge being answered
	count  int                   // Digest: the nonce count
	stale  bool                  // Digest: a stale nonce was renewed once
	token  []byte                // NTLM: the server's CHALLENGE message
}

// startHandshake picks the scheme to answer cs, host's challenges, with,
// or returns nil when the job has no credential for any scheme offered.
func startHandshake(cs []challenge, creds map[transport.AuthScheme]transport.Credential, host string, krb *kerberos) *handshake {
	for _, s := range authSchemes {
		cred, ok := creds[s.scheme]
		c, offered := findChallenge(cs, s.name)
		if !ok || !offered {
			continue
		}
		h := &handshake{scheme: s.scheme, name: s.header, cred: cred, host: host, krb: krb}
		if s.scheme == transport.SchemeDigest {
			d, err := httpdigest.ParseChallenge("Digest " + c.params)
			if err != nil || !httpdigest.CanDigest(d) {
				continue
			}
			h.digest = d
		}
		return h
	}
	return nil
}

// challenged takes the target's new challenge after an answer and reports
// whether another answer can help.
func (h *handshake) challenged(cs []challenge) bool {
	c, ok := findChallenge(cs, strings.ToLower(h.name))
	if !ok {
		return false
	}
	switch h.scheme {
	case transport.SchemeDigest:
		d, err := httpdigest.ParseChallenge("Digest " + c.params)
		if err != nil || !d.Stale || h.stale {
			return false // refused, not just an old nonce
		}
		h.digest, h.count, h.stale = d, 0, true
		return true
	case transport.SchemeNTLM, transport.SchemeNegotiate:
		if h.sent != 1 || c.params == "" || h.kerberos {
			return false
		}
		token, err := base64.StdEncoding.DecodeString(c.params)
		if err != nil {
			return false
		}
		h.token = token
		return true
	}
	return false // Basic: the credential was refused
}

// answer returns the header value for the next request; "" when there is
// nothing (more) to send. uri is the request target, as Digest hashes it.
func (h *handshake) answer(method, uri string) (string, error) {
	switch h.scheme {
	case transport.SchemeBasic:
		h.sent++
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(h.cred.User+":"+h.cred.Password)), nil
	case transport.SchemeDigest:
		h.count++
		c, err := httpdigest.Digest(h.digest, httpdigest.Options{
			Method: method, URI: uri, Count: h.count,
			Username: h.cred.User, Password: h.cred.Password,
		})
		if err != nil {
			return "", err
		}
		h.sent++
		return c.String(), nil
	default: // NTLM, Negotiate
		var msg []byte
		var err error
		if h.scheme == transport.SchemeNegotiate && h.sent == 0 {
			token, err := h.krb.token(h.cred, h.host)
			if err == nil {
				h.kerberos = true
				h.sent++
				return h.name + " " + base64.StdEncoding.EncodeToString(token), nil
			}
			h.failed = err
			if h.cred.Implicit {
				return "", err
			}
		}
		switch {
		case h.sent == 0:
			msg, err = ntlmssp.NewNegotiateMessage("", "")
		case h.sent == 1 && h.token != nil:
			msg, err = ntlmssp.NewAuthenticateMessage(h.token, h.cred.User, h.cred.Password, nil)
		default:
			return "", nil // the connection is authenticated, or refused
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", h.name, err)
		}
		h.sent++
		return h.name + " " + base64.StdEncoding.EncodeToString(msg), nil
	}
}
