// Package all builds the registry of every transport with the code that
// moves the bytes: HTTP and HTTPS (uploads speak the BITS upload
// protocol), SMB shares and local files, each both ways. A worker needs
// it (engine.RunWorker); a front end that only checks names does not, and
// is spared the transports' dependencies (transport/names).
package all

import (
	"bits/engine/transport"
	"bits/engine/transport/file"
	httptransport "bits/engine/transport/http"
	"bits/engine/transport/smb"
)

// Registry returns the transports of the product. This list is the one
// place that names them.
func Registry() *transport.Registry {
	return transport.NewRegistry(
		httptransport.New(httptransport.Options{}).Entry(),
		smb.New(smb.Options{}).Entry(),
		file.New().Entry(),
	)
}
