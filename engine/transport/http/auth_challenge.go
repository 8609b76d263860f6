package http

import "strings"

// challenge is one challenge of a WWW-Authenticate or Proxy-Authenticate
// header: its scheme, in lower case, and the rest (parameters or a token).
type challenge struct {
	scheme string
	params string
}

// parseChallenges splits header values into challenges. One value may
// hold several, separated by commas ("Negotiate, NTLM", `Basic realm="a",
// Digest realm="a", nonce="n"`); a comma starts a new one when what follows
// it is a bare word rather than a name=value parameter.
func parseChallenges(values []string) []challenge {
	var out []challenge
	for _, v := range values {
		start, quoted := 0, false
		for i := 0; i <= len(v); i++ {
			if i < len(v) {
				switch c := v[i]; {
				case quoted && c == '\\':
					i++
					continue
				case c == '"':
					quoted = !quoted
					continue
				case quoted || c != ',':
					continue
				}
			}
			if i == len(v) || startsChallenge(v[i+1:]) {
				if c := newChallenge(v[start:i]); c.scheme != "" {
					out = append(out, c)
				}
				start = i + 1
			}
		}
	}
	return out
}

func startsChallenge(s string) bool {
	s = strings.TrimLeft(s, " \t")
	n := 0
	for n < len(s) && isTokenChar(s[n]) {
		n++
	}
	return n > 0 && (n == len(s) || s[n] == ' ' || s[n] == '\t' || s[n] == ',')
}

// newChallenge reads one challenge; its scheme is "" when it has none.
func newChallenge(s string) challenge {
	scheme, params, _ := strings.Cut(strings.TrimSpace(s), " ")
	for i := 0; i < len(scheme); i++ {
		if !isTokenChar(scheme[i]) {
			return challenge{}
		}
	}
	return challenge{scheme: strings.ToLower(scheme), params: strings.TrimSpace(params)}
}

// isTokenChar is RFC 9110's tchar.
func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// find returns the first challenge of a scheme.
func findChallenge(cs []challenge, scheme string) (challenge, bool) {
	for _, c := range cs {
		if c.scheme == scheme {
			return c, true
		}
	}
	return challenge{}, false
}
