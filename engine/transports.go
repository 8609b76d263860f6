package engine

import (
	"bits/engine/transport"
	"bits/engine/transport/file"
	httptransport "bits/engine/transport/http"
	"bits/engine/transport/smb"
)

// DefaultTransports returns the transports of the front ends: HTTP and
// HTTPS (uploads speak the BITS upload protocol), SMB shares and local
// files, each both ways. This list is the one place that names them; the
// engine asks the registry what a remote name's transport can do.
func DefaultTransports() *transport.Registry {
	return transport.NewRegistry(
		httptransport.New(httptransport.Options{}).Entry(),
		smb.New(smb.Options{}).Entry(),
		file.New().Entry(),
	)
}
