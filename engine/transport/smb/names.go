package smb

import (
	"bits/engine/transport"
	"bits/engine/transport/names"
)

// Entry describes the transport to a transport.Registry: its names
// (names.SMB) and itself, which moves the bytes both ways.
func (tr *Transport) Entry() transport.Entry {
	e := names.SMB()
	e.Downloader, e.Uploader = tr, tr
	return e
}
