// Package uploadproto holds the words of the BITS upload protocol
// ([MC-BUP]) that its clients and servers both write and read: the
// method, the protocol's GUID, the packet types and the header names,
// those of the upload-reply notification included. It imports nothing.
package uploadproto

// Method is the HTTP method of every packet.
const Method = "BITS_POST"

// Protocol is "BITS 1.5 Upload Protocol", the only one there is.
const Protocol = "{7df0354d-249b-430f-820d-3d2a9bef4931}"

// MaxSessionID bounds a session id, as [MC-BUP] does.
const MaxSessionID = 100

// Packet types, the values of HeaderPacketType.
const (
	PacketPing          = "Ping"
	PacketCreateSession = "Create-Session"
	PacketFragment      = "Fragment"
	PacketCloseSession  = "Close-Session"
	PacketCancelSession = "Cancel-Session"
	PacketAck           = "Ack"
)

// Headers of packets and acks.
const (
	HeaderPacketType         = "BITS-Packet-Type"
	HeaderSessionID          = "BITS-Session-Id"
	HeaderSupportedProtocols = "BITS-Supported-Protocols"
	HeaderProtocol           = "BITS-Protocol"
	HeaderReceived           = "BITS-Received-Content-Range"
	// HeaderReceivedMisspelt is how some servers spell HeaderReceived.
	HeaderReceivedMisspelt = "BITS-Recieved-Content-Range"
	HeaderReplyURL         = "BITS-Reply-URL"
	HeaderErrorCode        = "BITS-Error-Code"
	// HeaderError is [MC-BUP]'s name for HeaderErrorCode; real servers
	// send the latter.
	HeaderError        = "BITS-Error"
	HeaderErrorContext = "BITS-Error-Context"
	HeaderHostID       = "BITS-Host-Id"
	HeaderHostFallback = "BITS-Host-Id-Fallback-Timeout"
)

// Headers between a server and the application it notifies of an upload.
const (
	HeaderOriginalRequestURL     = "BITS-Original-Request-URL"
	HeaderRequestDataFileName    = "BITS-Request-DataFile-Name"
	HeaderResponseDataFileName   = "BITS-Response-DataFile-Name"
	HeaderRequestDataEntityName  = "BITS-Request-DataEntity-Name"
	HeaderResponseDataEntityName = "BITS-Response-DataEntity-Name"
	HeaderStaticResponseURL      = "BITS-Static-Response-URL"
	HeaderCopyFileToDestination  = "BITS-Copy-File-To-Destination"
)
