package bitsjob

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"bits/engine"
)

// Parsing of flag values. Enumerations take PowerShell's member names and
// bitsadmin's words, in any case; bit masks take numbers (decimal or 0x
// hexadecimal) or names.

// parseUint32 reads a decimal or 0x-prefixed hexadecimal number.
func parseUint32(s string) (uint32, error) {
	n, err := strconv.ParseUint(strings.TrimSpace(s), 0, 32)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number from 0 to 4294967295 (decimal, or hexadecimal after 0x)", s)
	}
	return uint32(n), nil
}

// parseSeconds reads a whole number of seconds or a Go duration (90s, 10m, 2h).
func parseSeconds(s string) (time.Duration, error) {
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is neither seconds nor a duration", s)
	}
	return d, nil
}

func parseJobType(s string) (engine.JobType, error) {
	switch strings.ToLower(s) {
	case "download":
		return engine.Download, nil
	case "upload":
		return engine.Upload, nil
	case "uploadreply", "upload-reply":
		return engine.UploadReply, nil
	}
	return 0, fmt.Errorf("%q is not a transfer type (Download, Upload, UploadReply)", s)
}

func parsePriority(s string) (engine.Priority, error) {
	if p, ok := engine.ParsePriority(s); ok {
		return p, nil
	}
	return 0, fmt.Errorf("%q is not a priority (Foreground, High, Normal, Low)", s)
}

func parseProxyUsage(s string) (engine.ProxyUsage, error) {
	for u, n := range proxyNames {
		if strings.EqualFold(s, n) {
			return u, nil
		}
	}
	if u, ok := engine.ParseProxyUsage(s); ok {
		return u, nil
	}
	return 0, fmt.Errorf("%q is not a proxy usage (SystemDefault, NoProxy, Override, AutoDetect)", s)
}

// parseACLFlags reads the letters o, g, d and s (bitsadmin's OGDS) or a number.
func parseACLFlags(s string) (uint32, error) {
	if n, err := parseUint32(s); err == nil {
		return n, nil
	}
	var v uint32
	letters := strings.ToLower(strings.NewReplacer(",", "", " ", "").Replace(s))
	if letters == "" {
		return 0, fmt.Errorf("no ACL flags in %q", s)
	}
	for _, c := range letters {
		i := strings.IndexRune("ogds", c)
		if i < 0 {
			return 0, fmt.Errorf("%q is not a set of ACL flags (o, g, d, s)", s)
		}
		v |= 1 << i
	}
	return v, nil
}

func parseCertLocation(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	for i, n := range certLocationNames {
		if strings.EqualFold(s, n) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("%q is not a certificate store location (%s)", s, strings.Join(certLocationNames, ", "))
}

func parseCertHash(s string) ([]byte, error) {
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", ":", "").Replace(s))
	if err != nil {
		return nil, fmt.Errorf("%q is not a hexadecimal hash", s)
	}
	return b, nil
}

// parseCredentialKey reads TARGET:SCHEME, as server:basic or proxy:negotiate.
func parseCredentialKey(s string) (engine.AuthTarget, engine.AuthScheme, error) {
	t, sc, ok := strings.Cut(s, ":")
	target, tok := engine.ParseAuthTarget(t)
	scheme, sok := engine.ParseAuthScheme(sc)
	if !ok || !tok || !sok {
		return 0, 0, fmt.Errorf("%q is not TARGET:SCHEME (server or proxy : basic, digest, ntlm, negotiate or passport)", s)
	}
	return target, scheme, nil
}

// joinCommandLine makes a notification parameter string from a program and
// its arguments, quoted so that the engine splits it back into the same
// words by the C runtime's rules (engine.SplitCommandLine). As in BITS,
// the first word is the program itself (argv[0]).
func joinCommandLine(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		switch {
		case a != "" && !strings.ContainsAny(a, " \t\""):
			q[i] = a
		case i == 0:
			q[i] = `"` + a + `"` // the program's name: quotes group, backslashes are plain
		default:
			q[i] = quoteArgument(a)
		}
	}
	return strings.Join(q, " ")
}

// quoteArgument quotes a word so that SplitCommandLine reads it back: a
// quote is escaped with a backslash, and the backslashes before it, or
// before the closing quote, are doubled.
func quoteArgument(a string) string {
	var b strings.Builder
	b.WriteByte('"')
	backslashes := 0
	for i := 0; i < len(a); i++ {
		switch a[i] {
		case '\\':
			backslashes++
			continue
		case '"':
			b.WriteString(strings.Repeat(`\`, 2*backslashes+1))
		default:
			b.WriteString(strings.Repeat(`\`, backslashes))
		}
		b.WriteByte(a[i])
		backslashes = 0
	}
	b.WriteString(strings.Repeat(`\`, 2*backslashes))
	b.WriteByte('"')
	return b.String()
}

// notifyCmdLine shows a notification command line as PowerShell's
// -NotifyCmdLine takes it: the program, then its arguments (the words of
// the parameter string after argv[0]).
func notifyCmdLine(program, params string) []string {
	out := []string{program}
	if words := engine.SplitCommandLine(params); len(words) > 1 {
		out = append(out, words[1:]...)
	}
	return out
}

// wholeNumber is a flag's value that is a number from 0 up, with an error
// in words rather than strconv's.
type wholeNumber int64

func (n *wholeNumber) Set(s string) error {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a whole number from 0 up", s)
	}
	*n = wholeNumber(v)
	return nil
}

func (n *wholeNumber) String() string { return strconv.FormatInt(int64(*n), 10) }
func (n *wholeNumber) Type() string   { return "int" }
