package transport

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// An Entry is one transport as a Registry knows it: the remote names it
// reads, the URL schemes it serves, its Downloader and Uploader, and what
// it can do beyond moving bytes. Each transport package builds its own
// (Entry methods), so that only it knows its names.
type Entry struct {
	// Schemes are the URL schemes it serves, in lower case.
	Schemes []string
	// Paths names, for messages, the forms of remote name it reads that
	// are not URLs ("a UNC path"); empty when it reads none.
	Paths string
	// Parse reads name when it is one of the transport's own forms of
	// remote name, and returns it as a URL of one of its schemes; for any
	// other name it returns nil and no error. u is name read as a URL,
	// with its scheme in lower case and without user information; it is
	// nil when name is a path (it begins with "/" or `\\`). A parser may
	// return u itself, but must not change it when it declines the name.
	Parse func(name string, u *url.URL) (*url.URL, error)
	// Downloader and Uploader move the bytes; nil when the transport does
	// not move them that way.
	Downloader Downloader
	Uploader   Uploader
	Caps       Caps
}

// Caps are what a transport can do that the engine asks about, instead of
// knowing which schemes can do it.
type Caps struct {
	// UploadReply: its uploads can bring the server's reply back (BITS
	// upload-reply jobs).
	UploadReply bool
	// Dynamic: it can fetch a file whose size is not known before its
	// bytes arrive (BITS dynamic content, custom HTTP methods). The
	// engine gives such jobs to other transports as ordinary files.
	Dynamic bool
	// Network: it reaches its files over a network, so its jobs wait for
	// the network, its cost and the bandwidth policy, and their
	// connections are paced and watched. Such a transport tells the
	// request's context of every connection a request uses (ObserveConn);
	// the conformance suite checks it.
	Network bool
}

// ErrCredentialsInName refuses a remote name that carries a user name or
// password: remote names are shown and logged.
var ErrCredentialsInName = errors.New("a remote name may not carry a user name or password: use the job's credentials")

// A Registry holds the transports a Manager uses and reads remote names
// for them. It is built from an explicit list (engine.DefaultTransports
// for the front ends, a list of their own for tests) rather than filled by
// each transport package's init: the set then depends on what the caller
// wrote, not on which packages happen to be imported, two Managers in one
// process can use different transports, and a test can swap one out. It
// is not changed after NewRegistry, so it is safe for concurrent use.
type Registry struct {
	entries  []Entry
	byScheme map[string]*Entry
}

// NewRegistry returns a Registry of entries. Names are offered to the
// entries' parsers in this order. A scheme served twice is a mistake in
// the caller's list, and panics.
func NewRegistry(entries ...Entry) *Registry {
	r := &Registry{entries: entries, byScheme: map[string]*Entry{}}
	for i := range r.entries {
		e := &r.entries[i]
		for _, s := range e.Schemes {
			if _, dup := r.byScheme[s]; dup {
				panic(fmt.Sprintf("transport: two transports serve %q", s))
			}
			r.byScheme[s] = e
		}
	}
	return r
}

// Parse reads a remote name in any form a job accepts and returns it as a
// URL that one of the registry's transports serves. It refuses names that
// carry a user name or password, since remote names are shown and logged:
// those belong in the job's credentials. Errors never quote the name, for
// the same reason.
func (r *Registry) Parse(name string) (*url.URL, error) {
	if strings.ContainsRune(name, 0) {
		return nil, fmt.Errorf("the remote name contains a NUL character")
	}
	var u *url.URL
	if !strings.HasPrefix(name, `\\`) && !strings.HasPrefix(name, "/") {
		var err error
		u, err = url.Parse(name)
		if err != nil || u.Opaque != "" {
			return nil, fmt.Errorf("the remote name is not %s", r.forms("a URL"))
		}
		u.Scheme = strings.ToLower(u.Scheme)
		if u.User != nil {
			return nil, ErrCredentialsInName
		}
	}
	for _, e := range r.entries {
		if e.Parse == nil {
			continue
		}
		if got, err := e.Parse(name, u); got != nil || err != nil {
			return got, err
		}
	}
	var schemes []string
	for _, e := range r.entries {
		schemes = append(schemes, e.Schemes...)
	}
	urls := ""
	if len(schemes) > 0 {
		urls = article(schemes[0]) + " " + orList(schemes) + " URL"
	}
	return nil, fmt.Errorf("the remote name is not %s", r.forms(urls))
}

// Resolve parses name and returns its URL and the entry of the transport
// that serves it.
func (r *Registry) Resolve(name string) (*url.URL, Entry, error) {
	u, err := r.Parse(name)
	if err != nil {
		return nil, Entry{}, err
	}
	e, ok := r.byScheme[u.Scheme]
	if !ok { // a parser returned a scheme that no entry serves
		return nil, Entry{}, fmt.Errorf("no transport serves %s URLs", u.Scheme)
	}
	return u, *e, nil
}

// forms lists first, when not empty, and the path forms the transports
// read: "a URL, a UNC path or an absolute path".
func (r *Registry) forms(first string) string {
	var l []string
	if first != "" {
		l = append(l, first)
	}
	for _, e := range r.entries {
		if e.Paths != "" {
			l = append(l, e.Paths)
		}
	}
	return orList(l)
}

// orList joins l as English does: "a, b or c".
func orList(l []string) string {
	if len(l) < 2 {
		return strings.Join(l, "")
	}
	return strings.Join(l[:len(l)-1], ", ") + " or " + l[len(l)-1]
}

// article is the indefinite article before a scheme's name, for messages:
// "an http URL", "a file URL".
func article(scheme string) string {
	if scheme != "" && strings.ContainsRune("aeiouh", rune(scheme[0])) {
		return "an"
	}
	return "a"
}
