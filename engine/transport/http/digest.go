package http

import (
	"encoding/base64"
	nethttp "net/http"
	"strings"

	"bits/engine/transport"
)

// sumSize is the length of an algorithm's sum, 0 for an algorithm the
// transport does not report; a sum of another length is malformed.
func sumSize(alg string) int {
	switch alg {
	case "sha-512":
		return 64
	case "sha-256":
		return 32
	case "md5":
		return 16
	}
	return 0
}

// offeredDigest reads the checksum of the whole file a server offers: an
// RFC 9530 Repr-Digest (sha-512, else sha-256), else an RFC 3230 Digest
// (SHA-512, SHA-256, MD5), else Content-MD5, which only a 200 answer's
// headers cover (on a 206 it is the part's). Unknown algorithms and
// malformed values are ignored: the zero Digest means none.
func offeredDigest(h nethttp.Header, whole bool) transport.Digest {
	if d := best(reprDigests(h.Values("Repr-Digest")), "sha-512", "sha-256"); d.Algorithm != "" {
		return d
	}
	if d := best(legacyDigests(h.Values("Digest")), "sha-512", "sha-256", "md5"); d.Algorithm != "" {
		return d
	}
	if whole {
		if sum, ok := decodeSum(strings.TrimSpace(h.Get("Content-MD5")), "md5"); ok {
			return transport.Digest{Algorithm: "md5", Sum: sum}
		}
	}
	return transport.Digest{}
}

// best returns the first algorithm of prefer that sums holds.
func best(sums map[string][]byte, prefer ...string) transport.Digest {
	for _, alg := range prefer {
		if sum, ok := sums[alg]; ok {
			return transport.Digest{Algorithm: alg, Sum: sum}
		}
	}
	return transport.Digest{}
}

// decodeSum decodes a base64 sum (padded or not) of algorithm alg and
// checks its length.
func decodeSum(b64, alg string) ([]byte, bool) {
	sum, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		sum, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil || len(sum) != sumSize(alg) {
		return nil, false
	}
	return sum, true
}

// legacyDigests parses RFC 3230 "Digest: SHA-256=base64, MD5=base64"; the
// algorithm names are case-insensitive.
func legacyDigests(lines []string) map[string][]byte {
	sums := map[string][]byte{}
	for _, line := range lines {
		for member := range strings.SplitSeq(line, ",") {
			alg, b64, ok := strings.Cut(strings.TrimSpace(member), "=")
			alg = strings.ToLower(strings.TrimSpace(alg))
			if !ok {
				continue
			}
			if sum, ok := decodeSum(strings.TrimSpace(b64), alg); ok {
				if _, dup := sums[alg]; !dup {
					sums[alg] = sum
				}
			}
		}
	}
	return sums
}

// reprDigests parses an RFC 9530 Repr-Digest field, an RFC 8941 dictionary
// such as "sha-256=:base64:, sha-512=:base64:". Members whose value is not
// a byte sequence are skipped; a field that is not a valid dictionary is
// ignored whole, as RFC 8941 asks. Of sha-256 and sha-512 it keeps the
// last value of each, as a dictionary does; a sum of the wrong length is
// skipped.
func reprDigests(lines []string) map[string][]byte {
	sums := map[string][]byte{}
	p := sfParser{s: strings.Join(lines, ",")}
	p.skipSpace()
	for !p.done() {
		key, ok := p.key()
		if !ok {
			return nil
		}
		var value []byte
		isBytes := false
		if p.peek() == '=' {
			p.i++
			if value, isBytes, ok = p.bareItem(); !ok {
				return nil
			}
		}
		if !p.params() {
			return nil
		}
		if isBytes && (key == "sha-256" || key == "sha-512") && len(value) == sumSize(key) {
			sums[key] = value
		}
		p.skipOWS()
		if p.done() {
			break
		}
		if p.peek() != ',' {
			return nil
		}
		p.i++
		p.skipOWS()
		if p.done() {
			return nil // a trailing comma
		}
	}
	return sums
}

// sfParser reads the parts of RFC 8941 structured fields a dictionary of
// byte sequences needs; other item types are parsed only to be skipped.
type sfParser struct {
	s string
	i int
}

func (p *sfParser) done() bool { return p.i >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.done() {
		return 0
	}
	return p.s[p.i]
}

func (p *sfParser) skipSpace() {
	for !p.done() && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// key reads lcalpha / "*" then lcalpha / DIGIT / "_" / "-" / "." / "*".
func (p *sfParser) key() (string, bool) {
	start := p.i
	if c := p.peek(); !(c >= 'a' && c <= 'z' || c == '*') {
		return "", false
	}
	for !p.done() {
		c := p.s[p.i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("_-.*", c) >= 0) {
			break
		}
		p.i++
	}
	return p.s[start:p.i], true
}

// params skips ";key[=bare-item]" parameters.
func (p *sfParser) params() bool {
	for p.peek() == ';' {
		p.i++
		p.skipSpace()
		if _, ok := p.key(); !ok {
			return false
		}
		if p.peek() == '=' {
			p.i++
			if _, _, ok := p.bareItem(); !ok {
				return false
			}
		}
	}
	return true
}

// bareItem reads one item, or an inner list; isBytes marks a byte
// sequence, whose decoded value it returns.
func (p *sfParser) bareItem() (value []byte, isBytes, ok bool) {
	switch c := p.peek(); {
	case c == ':':
		end := strings.IndexByte(p.s[p.i+1:], ':')
		if end < 0 {
			return nil, false, false
		}
		b64 := p.s[p.i+1 : p.i+1+end]
		p.i += end + 2
		sum, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			return nil, false, false
		}
		return sum, true, true
	case c == '"':
		for p.i++; !p.done(); p.i++ {
			switch p.s[p.i] {
			case '\\':
				p.i++
			case '"':
				p.i++
				return nil, false, true
			}
		}
		return nil, false, false
	case c == '(':
		p.i++
		for {
			p.skipSpace()
			if p.peek() == ')' {
				p.i++
				return nil, false, p.params()
			}
			if _, _, ok := p.bareItem(); !ok || !p.params() {
				return nil, false, false
			}
			if c := p.peek(); c != ' ' && c != ')' {
				return nil, false, false
			}
		}
	case c == '-' || c >= '0' && c <= '9' || c == '?' || c == '*' || c == '@' || c == '%' ||
		c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		// Integers, decimals, booleans, tokens, dates, display strings:
		// none is a digest, so their exact grammar does not matter here.
		start := p.i
		for !p.done() && strings.IndexByte(",;() \t\"", p.s[p.i]) < 0 {
			p.i++
		}
		return nil, false, p.i > start
	}
	return nil, false, false
}
