package server

import (
	"errors"
	"fmt"
	"log"
	"math"
	"net/url"
	"path"
	"strings"
	"time"
)

// Config says what a Server serves.
type Config struct {
	// Root is the folder whose files are served to GET and HEAD. Nothing
	// outside it is: not through "..", nor through symbolic links that
	// leave it (absolute symbolic links are refused even when they point
	// inside). It may be empty when Uploads is not.
	Root string
	// Rate caps each response body at this many bytes per second, for
	// demonstrations and tests of slow links. 0 means unlimited.
	Rate int64

	// Uploads are the virtual directories that accept BITS uploads.
	Uploads []VirtualDir
	// Users, when set, must authenticate (HTTP Basic) for every request.
	Users *Users

	// SessionTimeout is how long an upload session lives without progress
	// before it and its data are deleted (BITSSessionTimeout). 0: 14 days.
	SessionTimeout time.Duration
	// CleanupInterval is how often expired sessions are swept away; they
	// are also swept when the Server starts. 0: 12 hours.
	CleanupInterval time.Duration
	// MaxSessions caps the open upload sessions in all, and
	// MaxSessionsPerClient those of one client: its user when Users is
	// set (IIS's BITSNumberOfSessionsLimit is per user), else its IP
	// address (for IPv6, its /64). Closed, cancelled and expired sessions
	// do not count. 0: no limit.
	MaxSessions          int
	MaxSessionsPerClient int
	// SessionRate is how many sessions a client may create per second,
	// on average, and SessionBurst how many at once. 0: no limit; a
	// SessionBurst of 0 with a rate is one second's worth (at least 1).
	// Create-Session past any of these limits gets 503 with Retry-After.
	SessionRate  float64
	SessionBurst int
	// MaxFragmentSize is the largest Fragment body accepted; a larger one
	// gets 413, and BITS clients retry with smaller fragments.
	// 0: 30,000,000 bytes (IIS's request limit).
	MaxFragmentSize int64
	// HostID, when set, is sent as BITS-Host-Id so that web-farm clients
	// come back to this host, and HostIDFallbackTimeout (when > 0) as
	// BITS-Host-Id-Fallback-Timeout.
	HostID                string
	HostIDFallbackTimeout time.Duration

	// Store, when set, keeps upload sessions and finished uploads in
	// S3-compatible object storage, shared by a farm of servers, instead
	// of the upload folders: each VirtualDir's Folder is then a folder in
	// the store ("" or "." for the top of its prefix). Finished
	// uploads are also served from it, to GET and HEAD under their
	// virtual directory. Notification by reference is not available
	// with it (the application would need a file path); by value is.
	Store *S3Store

	// Log receives one line per session event and per failure of the
	// notified application. nil discards them.
	Log *log.Logger
	// Now is the clock, for tests. nil: time.Now.
	Now func() time.Time
}

// A VirtualDir maps a URL prefix to the folder that receives its uploads,
// with the settings IIS keeps per virtual directory.
type VirtualDir struct {
	// Prefix is the URL path, such as "/uploads": a request for
	// /uploads/a/b.bin stores a/b.bin in Folder. "/" takes every path.
	Prefix string
	// Folder receives the files. Sessions in progress are kept in its
	// .bits-sessions subfolder, so that finishing one is a rename.
	Folder string
	// AllowOverwrites lets an upload replace an existing file
	// (BITSAllowOverwrites); without it Create-Session answers 409.
	AllowOverwrites bool
	// MaxUploadSize is the largest upload in bytes (BITSMaximumUploadSize);
	// 0 means no limit.
	MaxUploadSize int64
	// Notify says whether and how the application at NotifyURL hears of
	// each finished upload (BITSServerNotificationType).
	Notify NotifyType
	// NotifyURL is the application's absolute http or https URL
	// (BITSServerNotificationURL); the query of the upload URL is added.
	NotifyURL string
	// NotifyTimeout bounds the application's answer. 0: 5 minutes.
	NotifyTimeout time.Duration
	// MaxReplySize bounds the reply the application returns. 0: 64 MiB.
	MaxReplySize int64
}

// NotifyType is BITSServerNotificationType, with the same numbers.
type NotifyType int

const (
	NotifyNone        NotifyType = 0 // store the file under its name
	NotifyByReference NotifyType = 1 // POST the file's path to the application
	NotifyByValue     NotifyType = 2 // POST the file's bytes to the application
)

func (t NotifyType) String() string {
	switch t {
	case NotifyNone:
		return "none"
	case NotifyByReference:
		return "by-reference"
	case NotifyByValue:
		return "by-value"
	}
	return fmt.Sprintf("NotifyType(%d)", int(t))
}

// ParseNotifyType reads "none", "by-reference" or "by-value" (also
// "reference", "value" and IIS's numbers 0, 1, 2), ignoring case.
func ParseNotifyType(s string) (NotifyType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none", "0":
		return NotifyNone, nil
	case "by-reference", "reference", "1":
		return NotifyByReference, nil
	case "by-value", "value", "2":
		return NotifyByValue, nil
	}
	return 0, fmt.Errorf("notification type %q: want none, by-reference or by-value", s)
}

// Defaults, from IIS's where it has one.
const (
	defaultSessionTimeout  = 14 * 24 * time.Hour
	defaultCleanupInterval = 12 * time.Hour
	defaultMaxFragmentSize = 30_000_000
	defaultNotifyTimeout   = 5 * time.Minute
	defaultMaxReplySize    = 64 << 20
	maxNotifyURL           = 2200 // BITSServerNotificationURL's limit
)

// Bounds of the creation rate, so that waits stay within reason.
const (
	minSessionRate  = 0.001 // one every 1000 s
	maxSessionRate  = 1e6
	maxSessionBurst = 1_000_000
)

func (c *Config) setDefaults() {
	if c.SessionTimeout == 0 {
		c.SessionTimeout = defaultSessionTimeout
	}
	if c.CleanupInterval == 0 {
		c.CleanupInterval = defaultCleanupInterval
	}
	if c.MaxFragmentSize == 0 {
		c.MaxFragmentSize = defaultMaxFragmentSize
	}
	if c.SessionBurst == 0 && c.SessionRate > 0 {
		c.SessionBurst = max(1, int(math.Ceil(c.SessionRate)))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	for i := range c.Uploads {
		v := &c.Uploads[i]
		if v.NotifyTimeout == 0 {
			v.NotifyTimeout = defaultNotifyTimeout
		}
		if v.MaxReplySize == 0 {
			v.MaxReplySize = defaultMaxReplySize
		}
	}
}

func (c *Config) check() error {
	switch {
	case c.Rate < 0:
		return fmt.Errorf("rate %d: must be 0 (unlimited) or more", c.Rate)
	case c.Root == "" && len(c.Uploads) == 0 && c.Store == nil:
		return errors.New("no root folder to serve and no upload folder")
	case c.SessionTimeout < 0:
		return fmt.Errorf("session timeout %v: must be positive", c.SessionTimeout)
	case c.CleanupInterval < 0:
		return fmt.Errorf("cleanup interval %v: must be positive", c.CleanupInterval)
	case c.MaxFragmentSize < 0:
		return fmt.Errorf("maximum fragment size %d: must be positive", c.MaxFragmentSize)
	case c.MaxSessions < 0:
		return fmt.Errorf("maximum sessions %d: must be 0 (no limit) or more", c.MaxSessions)
	case c.MaxSessionsPerClient < 0:
		return fmt.Errorf("maximum sessions per client %d: must be 0 (no limit) or more", c.MaxSessionsPerClient)
	case !(c.SessionRate == 0 || c.SessionRate >= minSessionRate && c.SessionRate <= maxSessionRate):
		return fmt.Errorf("session rate %v: must be 0 (no limit) or from %v to %d per second", c.SessionRate, minSessionRate, int(maxSessionRate))
	case c.SessionBurst < 0 || c.SessionBurst > maxSessionBurst:
		return fmt.Errorf("session burst %d: must be from 1 to %d", c.SessionBurst, maxSessionBurst)
	case c.HostIDFallbackTimeout < 0:
		return fmt.Errorf("host id fallback timeout %v: must not be negative", c.HostIDFallbackTimeout)
	case len(c.HostID) > 300 || strings.ContainsAny(c.HostID, " \t\r\n/"):
		return fmt.Errorf("host id %q: must be a host name or address of at most 300 characters", c.HostID)
	}
	seen := map[string]bool{}
	for _, v := range c.Uploads {
		if c.Store != nil && v.Notify == NotifyByReference {
			// The application would need a file path; the data is in
			// the store.
			return fmt.Errorf("upload prefix %s: notification by reference is not available with an S3 store (by value is)", v.Prefix)
		}
		if c.Store != nil {
			if err := checkStoreFolder(v.Folder); err != nil {
				return fmt.Errorf("upload prefix %s: %w", v.Prefix, err)
			}
			if v.Folder == "" {
				v.Folder = "." // the top of the store's prefix
			}
		}
		if err := v.check(); err != nil {
			return err
		}
		if seen[v.Prefix] {
			return fmt.Errorf("upload prefix %s: given twice", v.Prefix)
		}
		seen[v.Prefix] = true
	}
	return nil
}

func (v *VirtualDir) check() error {
	p := v.Prefix
	if !strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.ContainsAny(p, "\\\x00") {
		return fmt.Errorf("upload prefix %q: must be a clean URL path such as /uploads", p)
	}
	for _, el := range strings.Split(strings.Trim(p, "/"), "/") {
		if reservedElement(el) {
			return fmt.Errorf("upload prefix %q: %s is reserved", p, el)
		}
	}
	switch {
	case v.Folder == "":
		return fmt.Errorf("upload prefix %s: no folder", p)
	case v.MaxUploadSize < 0:
		return fmt.Errorf("upload prefix %s: maximum upload size %d must be 0 (unlimited) or more", p, v.MaxUploadSize)
	case v.NotifyTimeout < 0:
		return fmt.Errorf("upload prefix %s: notification timeout %v must not be negative", p, v.NotifyTimeout)
	case v.MaxReplySize < 0:
		return fmt.Errorf("upload prefix %s: maximum reply size %d must be positive", p, v.MaxReplySize)
	}
	switch v.Notify {
	case NotifyNone:
		return nil
	case NotifyByReference, NotifyByValue:
	default:
		return fmt.Errorf("upload prefix %s: unknown notification type %d", p, int(v.Notify))
	}
	u, err := url.Parse(v.NotifyURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || len(v.NotifyURL) > maxNotifyURL {
		// Relative URLs would be resolved against the Host the client
		// sends, letting any client aim our POST anywhere.
		return fmt.Errorf("upload prefix %s: notification URL %q must be an absolute http or https URL of at most %d characters", p, v.NotifyURL, maxNotifyURL)
	}
	return nil
}
