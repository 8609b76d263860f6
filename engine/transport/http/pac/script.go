package pac

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// HelperName is the program that runs PAC files (cmd/bits-pac), looked
// for beside the running program first, then on PATH.
const HelperName = "bits-pac"

// answerTimeout bounds one answer of the helper: its own limit for a call
// is 2 s; past this one the helper is killed, whatever it is doing.
const answerTimeout = 5 * time.Second

// A Script is a PAC file loaded into a bits-pac process. It is safe for
// concurrent use; calls are answered one at a time. A helper that dies or
// stops answering is killed, and the next call starts another.
type Script struct {
	src []byte

	mu     sync.Mutex
	proc   *helper // nil: none running
	closed bool
}

// Start loads src into a new bits-pac process; an error says why the
// script does not load, or why the helper could not run.
func Start(src []byte) (*Script, error) {
	s := &Script{src: src}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.running(); err != nil {
		return nil, err
	}
	return s, nil
}

// Find returns u's routes by the script, in order.
func (s *Script) Find(ctx context.Context, u *url.URL) ([]Route, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var a Answer
	// A helper ends after a call its time limit stopped: the next call
	// finds it gone, and asks a new one.
	for try := 1; ; try++ {
		p, err := s.running()
		if err != nil {
			return nil, err
		}
		err = p.ask(ctx, Request{URL: u.String()}, &a)
		if err == nil {
			break
		}
		s.stop()
		if !errors.Is(err, errHelperGone) || try == 2 {
			return nil, err
		}
	}
	if a.Error != "" {
		return nil, errors.New(a.Error)
	}
	routes := make([]Route, 0, len(a.Routes))
	for _, r := range a.Routes {
		if r == "DIRECT" {
			routes = append(routes, Route{Direct: true})
			continue
		}
		p, err := url.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("%s answered %q", HelperName, Clip(r))
		}
		routes = append(routes, Route{Proxy: p})
	}
	if len(routes) == 0 {
		return nil, errors.New("the PAC file answered nothing usable")
	}
	return routes, nil
}

// Close ends the helper.
func (s *Script) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stop()
	s.closed = true
}

// running returns the helper, started and loaded with the script if none
// runs. s.mu is held.
func (s *Script) running() (*helper, error) {
	switch {
	case s.proc != nil:
		return s.proc, nil
	case s.closed:
		return nil, errors.New("the PAC file was closed")
	}
	p, err := startHelper()
	if err != nil {
		return nil, err
	}
	var a Answer
	ctx, cancel := context.WithTimeout(context.Background(), answerTimeout)
	defer cancel()
	if err := p.ask(ctx, Request{Script: string(s.src)}, &a); err != nil {
		p.kill()
		return nil, err
	}
	if a.Error != "" {
		p.kill()
		return nil, errors.New(a.Error)
	}
	s.proc = p
	return p, nil
}

func (s *Script) stop() {
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
}

// A Request is one line bits-pac reads: the PAC file first, then URLs to
// find proxies for.
type Request struct {
	Script string `json:"script,omitempty"`
	URL    string `json:"url,omitempty"`
}

// An Answer is one line bits-pac writes for each request: the routes of a
// URL ("DIRECT" or a proxy URL each, in order), or why there are none.
type Answer struct {
	Routes []string `json:"routes,omitempty"`
	Error  string   `json:"error,omitempty"`
}

// errHelperGone is a helper that ended before it answered.
var errHelperGone = errors.New(HelperName + " stopped")

// helper is one running bits-pac.
type helper struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *json.Decoder
	done chan struct{} // closed when it has exited
}

func startHelper() (*helper, error) {
	path, err := helperPath()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path)
	cmd.Stderr = nil
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", HelperName, err)
	}
	p := &helper{cmd: cmd, in: in, out: json.NewDecoder(bufio.NewReader(out)), done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	return p, nil
}

// helperPath finds bits-pac beside this program, or on PATH.
func helperPath() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), HelperName)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	p, err := exec.LookPath(HelperName)
	if err != nil {
		return "", fmt.Errorf("PAC files need the %s program, found neither beside this one nor on PATH", HelperName)
	}
	return p, nil
}

// ask sends req and reads the answer into a, within answerTimeout and ctx.
func (p *helper) ask(ctx context.Context, req Request, a *Answer) error {
	line, err := json.Marshal(req)
	if err != nil {
		return err
	}
	got := make(chan error, 1)
	go func() {
		if _, err := p.in.Write(append(line, '\n')); err != nil {
			got <- err
			return
		}
		got <- p.out.Decode(a)
	}()
	timer := time.NewTimer(answerTimeout)
	defer timer.Stop()
	select {
	case err := <-got:
		if err != nil {
			return fmt.Errorf("%w: %v", errHelperGone, err)
		}
		return nil
	case <-timer.C:
		p.kill()
		return fmt.Errorf("%s did not answer within %v", HelperName, answerTimeout)
	case <-ctx.Done():
		p.kill()
		return ctx.Err()
	}
}

// kill ends the process and waits for it; the goroutine of an ask in
// flight ends with the pipes.
func (p *helper) kill() {
	p.in.Close()
	p.cmd.Process.Kill()
	<-p.done
}
