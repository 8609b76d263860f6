package http

import (
	"fmt"
	"net/url"

	"bits/engine/transport"
)

// Entry describes the transport to a transport.Registry: it serves http
// and https URLs both ways, and only it can bring back an upload's reply
// and fetch dynamic content or a custom method's answer.
func (t *Transport) Entry() transport.Entry {
	return transport.Entry{
		Schemes:    []string{"http", "https"},
		Parse:      parseName,
		Downloader: t,
		Uploader:   t,
		Caps:       transport.Caps{UploadReply: true, Dynamic: true, Network: true},
	}
}

// parseName reads http and https URLs, which need a host.
func parseName(_ string, u *url.URL) (*url.URL, error) {
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, nil
	}
	if u.Host == "" {
		return nil, fmt.Errorf("the URL has no host")
	}
	return u, nil
}
