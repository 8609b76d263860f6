package bitsadmin

import "strings"

// bitsadmin's grammar is Windows', not POSIX: switches start with a slash,
// are compared without case, and mean something only where the verb expects
// them. On Unix a path such as /home/alice/a.iso also starts with a slash, so
// argv is translated into a call in one pure step, before anything runs.

// A switchSpec is one switch a verb accepts.
type switchSpec struct {
	name  string // upper case, with the slash: "/PRIORITY"
	group string // switches of one group exclude each other; empty: its own group
	value bool   // takes the next token as its value
}

// A grammar says where a verb's switches may stand and how many plain
// arguments it takes.
type grammar struct {
	// lead is how many plain arguments come first, before any switch is
	// looked for: the job of /info, the name of /transfer. They are taken
	// as they are, even when they look like switches (/transfer /Download).
	lead     int
	switches []switchSpec
	// min and max bound the plain arguments, lead included; max < 0 means
	// no limit.
	min, max int
	// pairs requires the arguments after lead to come in pairs (remote local).
	pairs bool
}

// A call is a translated command line.
type call struct {
	raw  bool   // /RAWRETURN: bare value, no banner, no newline
	wrap string // "/WRAP", "/NOWRAP" or "": how lines longer than a terminal are shown
	verb string // canonical verb name, e.g. "/CREATE"
	// sw holds the switches given, by canonical name; a switch without a
	// value maps to "".
	sw   map[string]string
	args []string
}

func (c call) has(name string) bool {
	_, ok := c.sw[name]
	return ok
}

// A usageError is a command line that names no verb, an unknown verb, or
// the wrong number of arguments. It changes nothing and exits 1.
type usageError struct {
	msg string // printed first, unless empty
	// usage returns the usage text printed after msg: the full one, or a
	// command group's (/UTIL, /CACHE...); nil prints none.
	usage func() string
}

func (e *usageError) Error() string { return e.msg }

var (
	errNoCommand      = &usageError{usage: usageText}
	errInvalidCommand = &usageError{msg: "Invalid command", usage: usageText}
	errArgCount       = &usageError{msg: "Invalid number of arguments."}
)

// translate reads the global prefixes, the verb and the verb's arguments.
// The prefixes count only before the verb; after it, a token is a switch only
// where the verb's grammar expects one, and a switch already given (or one of
// its group) is no longer expected, so it is taken as a plain argument. Even
// on error the returned call says whether /RAWRETURN was given, so the caller
// knows whether to print the banner.
func translate(argv []string) (call, error) {
	var c call
	i := 0
prefixes:
	for ; i < len(argv); i++ {
		switch strings.ToUpper(argv[i]) {
		case "/RAWRETURN":
			c.raw = true
		case "/WRAP", "/NOWRAP":
			c.wrap = strings.ToUpper(argv[i])
		default:
			break prefixes
		}
	}
	if i == len(argv) {
		return c, errNoCommand
	}
	if rest := argv[i:]; len(rest) == 1 && (rest[0] == "-h" || rest[0] == "--help") {
		argv = append(argv[:i:i], "/?") // what Unix users type for /?
	}
	sub, err := parseCall(verbs, argv[i:], errInvalidCommand)
	sub.raw, sub.wrap = c.raw, c.wrap
	return sub, err
}

// parseCall reads a verb of table and its arguments from argv: the command
// line after the prefixes, or the arguments of a command group such as
// /UTIL. unknown is the error for a verb that is not in the table.
func parseCall(table []verb, argv []string, unknown error) (call, error) {
	var c call
	if len(argv) == 0 {
		return c, unknown
	}
	v, ok := lookupIn(table, argv[0])
	if !ok {
		return c, unknown
	}
	c.verb = v.name
	g := v.grammar
	rest := argv[1:]
	n := min(g.lead, len(rest))
	c.args = append(c.args, rest[:n]...)
	c.sw = map[string]string{}
	groups := map[string]bool{}
	for n < len(rest) {
		s, ok := g.lookupSwitch(rest[n])
		if !ok || groups[s.groupName()] {
			break // the plain arguments start here
		}
		if s.value {
			if n+1 >= len(rest) {
				return c, errArgCount
			}
			c.sw[s.name] = rest[n+1]
			n += 2
		} else {
			c.sw[s.name] = ""
			n++
		}
		groups[s.groupName()] = true
	}
	c.args = append(c.args, rest[n:]...)
	if len(c.args) < g.min || (g.max >= 0 && len(c.args) > g.max) {
		return c, errArgCount
	}
	if g.pairs && (len(c.args)-g.lead)%2 != 0 {
		return c, errArgCount
	}
	return c, nil
}

func (g grammar) lookupSwitch(tok string) (switchSpec, bool) {
	for _, s := range g.switches {
		if strings.EqualFold(tok, s.name) {
			return s, true
		}
	}
	return switchSpec{}, false
}

func (s switchSpec) groupName() string {
	if s.group != "" {
		return s.group
	}
	return s.name
}
