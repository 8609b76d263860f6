package js

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"

	"bits/engine/transport/http/pac"
)

// Serve answers requests from in on out, one JSON line each, until in
// ends: the first must hold the script, which is compiled (an answer with
// no routes and no error says it loaded), every later one a URL. It
// returns after a script that does not load, and after a call the time
// limit stopped, whose work may still be running: the caller starts the
// program again when it needs it.
func Serve(in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(bufio.NewReader(in))
	enc := json.NewEncoder(out)
	var s *Script
	for {
		var req pac.Request
		if err := dec.Decode(&req); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		var a pac.Answer
		var err error
		if s == nil {
			if s, err = Compile([]byte(req.Script)); err != nil {
				a.Error = err.Error()
			}
		} else {
			a, err = find(s, req.URL)
		}
		if e := enc.Encode(a); e != nil {
			return e
		}
		if err != nil {
			return err
		}
	}
}

// find answers one URL; the error, when not nil, ends Serve.
func find(s *Script, raw string) (pac.Answer, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return pac.Answer{Error: "not a URL"}, nil
	}
	routes, err := s.Find(context.Background(), u)
	var in *interrupted
	if errors.As(err, &in) {
		return pac.Answer{Error: err.Error()}, err
	}
	if err != nil {
		return pac.Answer{Error: err.Error()}, nil
	}
	var a pac.Answer
	for _, r := range routes {
		if r.Direct {
			a.Routes = append(a.Routes, "DIRECT")
		} else {
			a.Routes = append(a.Routes, r.Proxy.String())
		}
	}
	return a, nil
}
