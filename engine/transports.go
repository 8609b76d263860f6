package engine

import (
	"bits/engine/transport"
	httptransport "bits/engine/transport/http"
)

// Transports are the protocol implementations, by URL scheme.
type Transports struct {
	Downloaders map[string]transport.Downloader
	Uploaders   map[string]transport.Uploader
}

// DefaultTransports returns HTTP and HTTPS downloads, and SMB and local
// files both ways. HTTP uploads speak the BITS upload protocol.
func DefaultTransports() Transports {
	h := httptransport.New(httptransport.Options{})
	return Transports{
		Downloaders: map[string]transport.Downloader{"http": h, "https": h},
		Uploaders:   map[string]transport.Uploader{},
	}
}
