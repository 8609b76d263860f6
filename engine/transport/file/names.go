package file

import (
	"bits/engine/transport"
	"bits/engine/transport/names"
)

// Entry describes the transport to a transport.Registry: its names
// (names.File) and itself, which moves the bytes both ways.
func (t *Transport) Entry() transport.Entry {
	e := names.File()
	e.Downloader, e.Uploader = t, t
	return e
}
