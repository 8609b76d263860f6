package names

import (
	"fmt"
	"net/url"

	"bits/engine/transport"
)

// HTTP is the http transport's entry without its movers: it serves http
// and https URLs both ways, and only it can bring back an upload's reply
// and fetch dynamic content or a custom method's answer.
func HTTP() transport.Entry {
	return transport.Entry{
		Schemes: []string{"http", "https"},
		Parse:   parseHTTP,
		Caps:    transport.Caps{UploadReply: true, Dynamic: true, Network: true},
	}
}

// parseHTTP reads http and https URLs, which need a host.
func parseHTTP(_ string, u *url.URL) (*url.URL, error) {
	if u == nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, nil
	}
	if u.Host == "" {
		return nil, fmt.Errorf("the URL has no host")
	}
	return u, nil
}
