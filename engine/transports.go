package engine

import (
	"bits/engine/transport"
	"bits/engine/transport/file"
	httptransport "bits/engine/transport/http"
	"bits/engine/transport/smb"
)

// Transports are the protocol implementations, by URL scheme.
type Transports struct {
	Downloaders map[string]transport.Downloader
	Uploaders   map[string]transport.Uploader
}

// DefaultTransports returns HTTP and HTTPS downloads, and SMB shares and
// local files both ways; HTTP uploads speak the BITS upload protocol.
func DefaultTransports() Transports {
	h := httptransport.New(httptransport.Options{})
	s := smb.New(smb.Options{})
	f := file.New()
	return Transports{
		Downloaders: map[string]transport.Downloader{"http": h, "https": h, "smb": s, "file": f},
		Uploaders:   map[string]transport.Uploader{"http": h, "https": h, "smb": s, "file": f},
	}
}
