// Package js runs PAC files, the JavaScript FindProxyForURL(url, host)
// functions browsers and WinHTTP run to pick a proxy for each URL, in
// goja, a JavaScript interpreter written in Go, with the Netscape helper
// functions (isPlainHostName, dnsDomainIs, shExpMatch, ...) and
// Microsoft's IPv6 extensions (dnsResolveEx, isInNetEx, ...).
//
// Only the bits-pac program links it (Serve): the worker asks that
// program, through package pac, so no other program carries an
// interpreter, and a script that runs away is killed with its process.
package js

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/dlclark/regexp2"
	"github.com/dop251/goja"

	"bits/engine/transport/http/pac"
)

// Script is a compiled PAC file. It is safe for concurrent use: a goja
// runtime is not, so each Find borrows one from a small pool, where the
// script's top-level code has already run; its global variables persist
// from call to call, as in a browser.
//
// A call is bounded in time (2 s, DNS look-ups included): the runtime is
// interrupted then and dropped, and Find returns, so a looping or hostile
// file cannot hang the worker; the call depth is bounded too
// (maxCallDepth). goja cannot bound memory: a script that allocates as
// fast as it can reaches some hundreds of megabytes before the timeout
// stops it. Fetch keeps the file itself to 1 MiB.
type Script struct {
	prog *goja.Program
	env  env

	mu   sync.Mutex
	idle []*runtime // at most maxIdle
}

// env is what the helper functions see of the machine; tests replace it.
type env struct {
	resolver resolver
	now      func() time.Time
	local    *time.Location // the zone of the date and time helpers without "GMT"
	timeout  time.Duration
	myIP     func() netip.Addr   // the address myIpAddress answers
	myIPs    func() []netip.Addr // the addresses myIpAddressEx answers
}

// resolver is the part of net.Resolver the DNS helpers use.
type resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

const (
	// defaultTimeout bounds one FindProxyForURL call. Browsers do not
	// bound it at all; a script's own work takes microseconds, so most of
	// this is for its DNS look-ups.
	defaultTimeout = 2 * time.Second
	maxCallDepth   = 1000
	maxIdle        = 4
)

func init() {
	// goja runs the regular expressions RE2 cannot (look-arounds,
	// back-references) with regexp2, which backtracks, and which an
	// interrupt does not stop; its match timeout does: a match that takes
	// longer fails. This is process-wide, but only goja uses regexp2.
	regexp2.DefaultMatchTimeout = defaultTimeout
}

func defaultEnv() env {
	return env{
		resolver: net.DefaultResolver,
		now:      time.Now,
		local:    time.Local,
		timeout:  defaultTimeout,
		myIP:     outboundAddr,
		myIPs:    interfaceAddrs,
	}
}

// Compile compiles src and runs its top-level code once, so that a syntax
// error, a script that throws or loops while loading, or one that defines
// neither FindProxyForURL nor FindProxyForURLEx, fails here rather than
// on the first download.
func Compile(src []byte) (*Script, error) {
	return compile(src, defaultEnv())
}

func compile(src []byte, e env) (*Script, error) {
	text := strings.TrimPrefix(string(src), "\uFEFF")
	prog, err := goja.Compile("proxy.pac", text, false)
	if err != nil {
		return nil, fmt.Errorf("the PAC file is not JavaScript: %w", err)
	}
	s := &Script{prog: prog, env: e}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	rt, err := s.newRuntime(ctx)
	if err != nil {
		return nil, err
	}
	s.put(rt)
	return s, nil
}

// runtime is one goja runtime with the script loaded.
type runtime struct {
	vm   *goja.Runtime
	find goja.Callable // FindProxyForURLEx or FindProxyForURL

	ctx     context.Context // the call's, for the DNS helpers
	timeout time.Duration   // for the error text
}

// newRuntime loads the helpers and the script into a new runtime. ctx
// bounds the top-level code.
func (s *Script) newRuntime(ctx context.Context) (*runtime, error) {
	rt := &runtime{vm: goja.New(), ctx: ctx, timeout: s.env.timeout}
	rt.vm.SetMaxCallStackSize(maxCallDepth)
	rt.vm.SetTimeSource(s.env.now)
	if err := s.register(rt); err != nil {
		return nil, err
	}
	// Everything that may run the script's code, its getters and its
	// toString methods included, runs under rt.run.
	err := rt.run(ctx, func() error {
		if _, err := rt.vm.RunProgram(helpersProgram); err != nil {
			return err
		}
		if _, err := rt.vm.RunProgram(s.prog); err != nil {
			return fmt.Errorf("loading the PAC file: %s", rt.text(func() string { return scriptError(err) }))
		}
		// WinHTTP calls FindProxyForURLEx when the script defines it: it
		// may answer with IPv6 proxies that FindProxyForURL leaves out.
		for _, name := range []string{"FindProxyForURLEx", "FindProxyForURL"} {
			var f goja.Callable
			rt.text(func() string {
				f, _ = goja.AssertFunction(rt.vm.Get(name))
				return ""
			})
			if f != nil {
				rt.find = f
				return nil
			}
		}
		return errors.New("the PAC file defines no FindProxyForURL function")
	})
	var in *interrupted
	if errors.As(err, &in) {
		return nil, fmt.Errorf("loading the PAC file: %w", err)
	}
	if err != nil {
		return nil, err
	}
	return rt, nil
}

// text returns f's answer, clipped, or a placeholder when f throws or
// panics: f may run the script's code (a toString method, a getter),
// which may throw, and must be called under run.
func (rt *runtime) text(f func() string) (s string) {
	defer func() {
		if recover() != nil {
			s = "(a value that cannot be shown)"
		}
	}()
	if ex := rt.vm.Try(func() { s = f() }); ex != nil {
		return "(a value that cannot be shown)"
	}
	return pac.Clip(s)
}

// run calls f with rt's context set to ctx, and interrupts the runtime
// when ctx ends first. It fails with *interrupted whenever ctx ended,
// even if f returned: an interrupted runtime may hold half-updated state,
// or a pending interrupt, so the caller must not reuse it.
//
// goja notices an interrupt between two instructions only: one long
// built-in operation (concatenating huge strings, a regular expression
// that backtracks) may keep it busy for longer. run returns when ctx ends
// all the same, and leaves f to finish on its own goroutine.
func (rt *runtime) run(ctx context.Context, f func() error) error {
	rt.ctx = ctx
	stop := context.AfterFunc(ctx, func() { rt.vm.Interrupt(ctx.Err()) })
	done := make(chan error, 1)
	go func() { done <- f() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		return &interrupted{cause: ctx.Err(), timeout: rt.timeout}
	}
	if !stop() || ctx.Err() != nil {
		// The interrupt ran, or is running, perhaps after f returned; or
		// the time ran out in a DNS look-up, which then failed.
		return &interrupted{cause: ctx.Err(), timeout: rt.timeout}
	}
	return err
}

// interrupted is a run that its context stopped.
type interrupted struct {
	cause   error
	timeout time.Duration
}

func (e *interrupted) Error() string {
	if errors.Is(e.cause, context.DeadlineExceeded) {
		return fmt.Sprintf("the PAC file did not answer within %v", e.timeout)
	}
	return "the PAC file was stopped: " + e.cause.Error()
}

func (e *interrupted) Unwrap() error { return e.cause }

func (s *Script) get(ctx context.Context) (*runtime, error) {
	s.mu.Lock()
	if n := len(s.idle); n > 0 {
		rt := s.idle[n-1]
		s.idle = s.idle[:n-1]
		s.mu.Unlock()
		return rt, nil
	}
	s.mu.Unlock()
	return s.newRuntime(ctx)
}

func (s *Script) put(rt *runtime) {
	rt.ctx = nil
	s.mu.Lock()
	if len(s.idle) < maxIdle {
		s.idle = append(s.idle, rt)
	}
	s.mu.Unlock()
}

// Find runs FindProxyForURL(url, host) (or FindProxyForURLEx) for u and
// returns its answer, in order.
//
// The script sees scheme://host[:port]/ only, for http as for https:
// Chrome strips the path and query of https URLs so that a PAC file, which
// may be fetched from anywhere, cannot read what TLS hides; BITS' URLs
// carry no less in their paths, so they are stripped for http too, as are
// user names and passwords. host is u's host name in lower case, without
// brackets, as browsers pass it.
func (s *Script) Find(ctx context.Context, u *url.URL) ([]pac.Route, error) {
	ctx, cancel := context.WithTimeout(ctx, s.env.timeout)
	defer cancel()
	rt, err := s.get(ctx)
	if err != nil {
		return nil, err
	}
	stripped, host := strippedURL(u), strings.ToLower(u.Hostname())
	var answer string
	err = rt.run(ctx, func() error {
		v, err := rt.find(goja.Undefined(), rt.vm.ToValue(stripped), rt.vm.ToValue(host))
		if err != nil {
			return fmt.Errorf("the PAC file failed: %s", rt.text(func() string { return scriptError(err) }))
		}
		if _, obj := v.(*goja.Object); !obj {
			if str, ok := v.Export().(string); ok {
				answer = str
				return nil
			}
		}
		return fmt.Errorf("the PAC file answered %s, not a string", rt.text(v.String))
	})
	var in *interrupted
	if errors.As(err, &in) {
		return nil, err // rt is dropped
	}
	s.put(rt)
	if err != nil {
		return nil, err
	}
	return pac.ParseResult(answer)
}

// strippedURL is u as the script sees it.
func strippedURL(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && !(scheme == "http" && p == "80") && !(scheme == "https" && p == "443") {
		host += ":" + p
	}
	return scheme + "://" + host + "/"
}

// scriptError is the text of a script's failure: the exception's value
// and where it was thrown, without goja's Go stack.
func scriptError(err error) string {
	var deep *goja.StackOverflowError
	if errors.As(err, &deep) {
		return fmt.Sprintf("its calls nest deeper than %d", maxCallDepth)
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		return ex.Error()
	}
	return err.Error()
}
