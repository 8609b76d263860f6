// Package server is bitsserver as an http.Handler: a download origin and
// the server side of the BITS upload protocol.
//
// Downloads: GET and HEAD of the regular files under one folder, with byte
// ranges, ETag and Last-Modified, optionally paced to a fixed rate.
// Uploads: BITS_POST packets (Ping, Create-Session, Fragment,
// Close-Session, Cancel-Session) to virtual directories, each mapped to a
// folder, with sessions kept on disk so they survive restarts, optional
// notification of an application and its upload-reply served back.
//
// It owns the HTTP side only and must not import the engine, storage or any
// front end.
package server

import (
	"bits/internal/uploadproto"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"
)

// A Server serves the files under Config.Root and takes uploads into
// Config.Uploads. Its zero value is not usable; create one with New and
// release it with Close.
type Server struct {
	cfg   Config
	root  *os.Root // nil: no downloads
	store *S3Store // nil: sessions in the upload folders
	rate  int64
	vdirs []*vdir
	users *Users

	sessions keyedMutex // one request at a time per session
	dests    keyedMutex // one commit at a time per destination
	limits   *sessionLimits

	recountMu   sync.Mutex // one recount of the store's sessions at a time
	lastRecount time.Time

	notifyClient *http.Client

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

var _ http.Handler = (*Server)(nil)

// New opens the folders of cfg, deletes the sessions that expired while
// no server ran, counts the others against the session limits, and
// returns a Server that sweeps them on a timer.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, rate: cfg.Rate, users: cfg.Users, limits: newSessionLimits(&cfg), store: cfg.Store}
	if cfg.Root != "" {
		fi, err := os.Stat(cfg.Root)
		if err != nil {
			return nil, fmt.Errorf("root folder: %w", err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("root %s: not a folder", cfg.Root)
		}
		if s.root, err = os.OpenRoot(cfg.Root); err != nil {
			return nil, err
		}
	}
	for _, v := range cfg.Uploads {
		if s.store != nil {
			// The store holds everything; no folder is opened.
			s.vdirs = append(s.vdirs, &vdir{VirtualDir: v})
			continue
		}
		vd, err := openVdir(v)
		if err != nil {
			s.closeRoots()
			return nil, err
		}
		s.vdirs = append(s.vdirs, vd)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil // the application is ours to reach, not a proxy's
	s.notifyClient = &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	if len(s.vdirs) > 0 {
		s.sweep()
		go s.cleanupLoop()
	} else {
		close(s.done)
	}
	return s, nil
}

// Close stops the cleanup timer and releases the folders. Requests after
// Close fail.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.notifyClient.CloseIdleConnections()
	})
	return s.closeRoots()
}

func (s *Server) closeRoots() error {
	var errs []error
	if s.root != nil {
		errs = append(errs, s.root.Close())
	}
	for _, vd := range s.vdirs {
		if vd.root != nil {
			errs = append(errs, vd.root.Close())
		}
	}
	return errors.Join(errs...)
}

// ServeHTTP authenticates the request when users are configured, then
// serves BITS_POST packets, and GET and HEAD of files and replies.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, ok := s.authenticate(r)
	if !ok {
		challenge(w, r)
		return
	}
	switch r.Method {
	case uploadproto.Method:
		s.servePacket(w, r, user)
	case http.MethodGet, http.MethodHead:
		if vd, key, ok := s.replyTarget(r.URL.Path); ok {
			if s.store != nil {
				s.farmServeReply(w, r, vd, key, user)
			} else {
				s.serveReply(w, r, vd, key, user)
			}
			return
		}
		if s.store != nil && s.serveStoredFile(w, r, r.URL.Path) {
			return
		}
		s.serveFile(w, r)
	default:
		allow := "GET, HEAD"
		if vd, _ := s.matchVdir(r.URL.Path); vd != nil {
			allow += ", " + uploadproto.Method
		}
		w.Header().Set("Allow", allow)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Server) now() time.Time { return s.cfg.Now() }

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Log != nil {
		s.cfg.Log.Printf(format, args...)
	}
}

// formatSeconds writes a duration as whole seconds, for headers.
func formatSeconds(d time.Duration) string {
	return fmt.Sprint(int64(d / time.Second))
}
