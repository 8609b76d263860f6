package server

import (
	"bits/hresult"
	"bits/internal/uploadproto"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// notify hands a finished upload to the application and keeps its reply.
// By reference the application gets the data file's path and writes its
// reply beside it (or answers with a body, which is kept instead); by
// value it gets the bytes as the body and answers with the reply. A
// failure leaves the session as it was, so the client's retry of the last
// fragment notifies again: applications must bear duplicates.
func (s *Server) notify(p *packet, sess *session) error {
	vd := p.vd
	reply := sessionFile(sess.Key, replyFileName)
	if err := vd.root.Remove(reply); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	ctx, cancel := context.WithTimeout(p.r.Context(), vd.NotifyTimeout)
	defer cancel()
	var body io.ReadCloser
	if vd.Notify == NotifyByValue {
		f, err := vd.root.Open(sessionFile(sess.Key, dataFileName))
		if err != nil {
			return err
		}
		body = f
	}
	resp, err := s.askApplication(ctx, vd, sess, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	static, err := staticReply(resp)
	if err != nil {
		return err
	}
	if static != "" {
		sess.StaticReply = static
	} else if err := s.keepReply(vd, sess, resp.Body); err != nil {
		return err
	}
	_, sess.CopyToDestination = resp.Header[http.CanonicalHeaderKey(uploadproto.HeaderCopyFileToDestination)]
	sess.State = stateReplied
	sess.Updated = s.now()
	if err := vd.saveSession(sess); err != nil {
		return err
	}
	s.limits.touch(sess.Key, sess.Updated)
	s.logf("session %s: the application answered", sess.Key)
	return nil
}

// askApplication POSTs the notification, with body (the data, by value)
// or without (by reference), and returns the application's answer if it
// accepted the upload (2xx); the caller closes its body.
func (s *Server) askApplication(ctx context.Context, vd *vdir, sess *session, body io.ReadCloser) (*http.Response, error) {
	req, err := s.notifyRequest(ctx, vd, sess, body)
	if err != nil {
		return nil, err
	}
	if req.Body != nil {
		defer req.Body.Close()
	}
	resp, err := s.notifyClient.Do(req)
	if err != nil {
		s.logf("session %s: notifying the application: %v", sess.Key, err)
		var ne net.Error
		if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
			return nil, appRefusal(http.StatusRequestTimeout, hresult.E_TIMEOUT, "the application did not answer in time")
		}
		return nil, appRefusal(http.StatusBadGateway, hresult.HTTP(http.StatusBadGateway), "the application is unreachable")
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		resp.Body.Close()
		s.logf("session %s: the application answered %s", sess.Key, resp.Status)
		status := resp.StatusCode
		if status < 400 || status > 599 {
			status = http.StatusBadGateway
		}
		return nil, appRefusal(status, hresult.HTTP(resp.StatusCode), "the application refused the upload")
	}
	return resp, nil
}

// staticReply is the application's BITS-Static-Response-URL, "" for none.
func staticReply(resp *http.Response) (string, error) {
	static := resp.Header.Get(uploadproto.HeaderStaticResponseURL)
	if static != "" && !validReplyURL(static) {
		return "", appRefusal(http.StatusBadGateway, hresult.E_INVALIDARG, "the application's BITS-Static-Response-URL is not an absolute URL")
	}
	return static, nil
}

// notifyRequest builds the POST to the application: its URL with the
// upload URL's query added, and the data by reference or, in body, by
// value.
func (s *Server) notifyRequest(ctx context.Context, vd *vdir, sess *session, body io.ReadCloser) (*http.Request, error) {
	target := vd.NotifyURL
	if u, err := url.Parse(sess.URL); err == nil && u.RawQuery != "" {
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + u.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, body)
	if err != nil {
		if body != nil {
			body.Close()
		}
		return nil, appRefusal(http.StatusBadGateway, hresult.E_INVALIDARG, err.Error())
	}
	req.Header.Set(uploadproto.HeaderOriginalRequestURL, sess.URL)
	if vd.Notify == NotifyByValue {
		req.ContentLength = sess.Received
		req.Header.Set("Content-Type", "application/octet-stream")
	} else {
		data := filepath.Join(vd.abs, stateDirName, sess.Key, dataFileName)
		reply := filepath.Join(vd.abs, stateDirName, sess.Key, replyFileName)
		// The Windows documentation's names, then the protocol
		// specification's, so applications written to either work.
		req.Header.Set(uploadproto.HeaderRequestDataFileName, data)
		req.Header.Set(uploadproto.HeaderResponseDataFileName, reply)
		req.Header.Set(uploadproto.HeaderRequestDataEntityName, data)
		req.Header.Set(uploadproto.HeaderResponseDataEntityName, reply)
	}
	return req, nil
}

// keepReply stores the application's reply: the file it wrote by
// reference, if it did, else the body of its answer.
func (s *Server) keepReply(vd *vdir, sess *session, body io.Reader) error {
	name := sessionFile(sess.Key, replyFileName)
	if vd.Notify == NotifyByReference {
		fi, err := vd.root.Lstat(name)
		switch {
		case err == nil && fi.Mode().IsRegular():
			if fi.Size() > vd.MaxReplySize {
				return appRefusal(http.StatusInternalServerError, hresult.BG_E_TOO_LARGE, "the reply file is too large")
			}
			return nil
		case err == nil:
			return appRefusal(http.StatusBadGateway, hresult.E_ACCESSDENIED, "the reply is not a regular file")
		case !errors.Is(err, fs.ErrNotExist):
			return err
		}
	}
	f, err := vd.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	n, err := io.Copy(f, io.LimitReader(body, vd.MaxReplySize+1))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		vd.root.Remove(name)
		return appRefusal(http.StatusBadGateway, hresult.HTTP(http.StatusBadGateway), fmt.Sprintf("reading the reply: %v", err))
	case n > vd.MaxReplySize:
		vd.root.Remove(name)
		return appRefusal(http.StatusInternalServerError, hresult.BG_E_TOO_LARGE, "the reply is too large")
	}
	return nil
}

func appRefusal(status int, code hresult.Code, why string) *refusal {
	return &refusal{status: status, code: code, context: hresult.ContextRemoteApplication, why: why}
}

// validReplyURL accepts an absolute http or https URL short enough for a
// BITS-Reply-URL.
func validReplyURL(s string) bool {
	if len(s) > maxNotifyURL || strings.ContainsFunc(s, func(c rune) bool { return c < ' ' || c == 0x7f }) {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// replyURL is where the client fetches the reply: the application's own
// URL, or the reply file served under the virtual directory.
func replyURL(r *http.Request, vd *vdir, sess *session) string {
	if sess.StaticReply != "" {
		return sess.StaticReply
	}
	u := url.URL{Scheme: scheme(r), Host: r.Host, Path: strings.TrimSuffix(vd.Prefix, "/") + "/" + replyDirName + "/Replies/" + sess.Key + "/" + replyFileName}
	return u.String()
}

// requestURL is the absolute URL a request was sent to.
func requestURL(r *http.Request) string {
	u := url.URL{Scheme: scheme(r), Host: r.Host}
	return u.String() + r.URL.RequestURI()
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
