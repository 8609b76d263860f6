package http

import (
	"fmt"
	nethttp "net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"bits/hresult"
	"bits/internal/uploadproto"
)

func TestParseAck(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   ack
	}{
		{"Empty", nil, ack{received: -1}},
		{"Fragment", map[string]string{
			"BITS-Packet-Type": "Ack", "BITS-Session-Id": "{6E1A9B55-0000-4000-8000-000000000000}",
			"BITS-Received-Content-Range": "213",
		}, ack{isAck: true, session: "{6E1A9B55-0000-4000-8000-000000000000}", received: 213}},
		{"Misspelt", map[string]string{"BITS-Recieved-Content-Range": "4096"}, ack{received: 4096}},
		{"CorrectSpellingWins", map[string]string{"BITS-Received-Content-Range": "1", "BITS-Recieved-Content-Range": "2"}, ack{received: 1}},
		{"RangeForm", map[string]string{"BITS-Received-Content-Range": "0-212"}, ack{received: 213}},
		{"Blanks", map[string]string{"BITS-Packet-Type": " ACK ", "BITS-Received-Content-Range": " 7\t"}, ack{isAck: true, received: 7}},
		{"ReplyAndProtocol", map[string]string{
			"BITS-Reply-URL": "http://h/vdir/BITS-Sessions/Replies/{g}/responsefile.bin",
			"BITS-Protocol":  "{7DF0354D-249B-430F-820D-3D2A9BEF4931}",
		}, ack{received: -1, replyURL: "http://h/vdir/BITS-Sessions/Replies/{g}/responsefile.bin", protocol: "{7DF0354D-249B-430F-820D-3D2A9BEF4931}"}},
		{"ErrorHex", map[string]string{"BITS-Error-Code": "0x8020001F", "BITS-Error-Context": "0x5"},
			ack{received: -1, errorCode: hresult.BG_E_SESSION_NOT_FOUND, errorContext: hresult.ContextRemoteFile}},
		{"ErrorBareHexAndDecimalContext", map[string]string{"BITS-Error-Code": "80070005", "BITS-Error-Context": "7"},
			ack{received: -1, errorCode: hresult.E_ACCESSDENIED, errorContext: hresult.ContextRemoteApplication}},
		{"ErrorSignedDecimal", map[string]string{"BITS-Error-Code": "-2145386465"}, ack{received: -1, errorCode: hresult.BG_E_SESSION_NOT_FOUND}},
		{"MCBUPName", map[string]string{"BITS-Error": "0x80200020"}, ack{received: -1, errorCode: hresult.BG_E_TOO_LARGE}},
		{"Unusable", map[string]string{
			"BITS-Session-Id": "has space", "BITS-Received-Content-Range": "-5", "BITS-Error-Code": "0x1234567890",
			"BITS-Error-Context": "0x9", "BITS-Reply-URL": "a\x00b",
		}, ack{received: -1, invalid: []string{uploadproto.HeaderSessionID, uploadproto.HeaderReceived, uploadproto.HeaderReplyURL, uploadproto.HeaderErrorCode, uploadproto.HeaderErrorContext}}},
		{"RangeNotFromZero", map[string]string{"BITS-Received-Content-Range": "5-10"}, ack{received: -1, invalid: []string{uploadproto.HeaderReceived}}},
		{"Overflow", map[string]string{"BITS-Received-Content-Range": "0-9223372036854775807"}, ack{received: -1, invalid: []string{uploadproto.HeaderReceived}}},
		{"Signed", map[string]string{"BITS-Received-Content-Range": "+5"}, ack{received: -1, invalid: []string{uploadproto.HeaderReceived}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := nethttp.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			got := parseAck(h)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("parseAck = %+v\nwant        %+v", got, tc.want)
			}
		})
	}
}

// FuzzParseAck feeds parseAck any header values: it must not panic, must
// either use each header or list it as unusable, and what it returns must
// hold its invariants.
func FuzzParseAck(f *testing.F) {
	f.Add("Ack", "{6E1A9B55-0000-4000-8000-000000000000}", "213", "http://h/r", "0x8020001F", "0x5", false)
	f.Add("ack", "x", "0-212", "/r", "-2145386465", "7", true)
	f.Add("", "a b", "-1", "\r\n", "0x", "0x99", false)
	f.Add("Ack", "", "99999999999999999999", "", "80070005", "", true)
	f.Fuzz(func(t *testing.T, packet, session, received, reply, code, where string, misspelt bool) {
		h := nethttp.Header{}
		set := func(name, v string) {
			if v != "" {
				h.Set(name, v)
			}
		}
		receivedName := uploadproto.HeaderReceived
		if misspelt {
			receivedName = uploadproto.HeaderReceivedMisspelt
		}
		set(uploadproto.HeaderPacketType, packet)
		set(uploadproto.HeaderSessionID, session)
		set(receivedName, received)
		set(uploadproto.HeaderReplyURL, reply)
		set(uploadproto.HeaderErrorCode, code)
		set(uploadproto.HeaderErrorContext, where)
		a := parseAck(h)

		used := func(name, v string, ok bool) {
			if v != "" && !ok && !slices.Contains(a.invalid, name) {
				t.Errorf("%s: %q was neither used nor listed as unusable", name, v)
			}
		}
		used(uploadproto.HeaderSessionID, session, a.session != "")
		used(receivedName, received, a.received >= 0)
		used(uploadproto.HeaderReplyURL, reply, a.replyURL != "")
		used(uploadproto.HeaderErrorCode, code, a.errorCode != 0 || isZeroCode(code))
		used(uploadproto.HeaderErrorContext, where, a.errorContext != 0)
		switch {
		case a.received < -1:
			t.Errorf("received = %d", a.received)
		case a.session != "" && !validSessionID(a.session):
			t.Errorf("session %q is not valid", a.session)
		case a.errorContext != 0 && (a.errorContext < hresult.ContextUnknown || a.errorContext > hresult.ContextServerCertificate):
			t.Errorf("context = %d", a.errorContext)
		case a.replyURL != "" && !isFieldValue(a.replyURL):
			t.Errorf("reply URL %q holds control characters", a.replyURL)
		}
	})
}

// isZeroCode says whether v is a usable spelling of the code 0.
func isZeroCode(v string) bool {
	c, ok := parseErrorCode(strings.Trim(v, " \t"))
	return ok && c == 0
}

// FuzzAckRoundTrip writes sane values as a server would and reads them
// back.
func FuzzAckRoundTrip(f *testing.F) {
	f.Add(int64(213), uint32(0x8020001F), uint8(5), "{6E1A9B55-0000-4000-8000-000000000000}", false, false, false)
	f.Add(int64(0), uint32(0x80070005), uint8(7), "s", true, true, true)
	f.Add(int64(1)<<62, uint32(0), uint8(0), "~!{}", false, true, false)
	f.Fuzz(func(t *testing.T, received int64, code uint32, where uint8, session string, misspelt, decimal, asRange bool) {
		if received < 0 {
			received = -(received + 1)
		}
		if !validSessionID(session) {
			session = "s" // a server sends only valid ids: test the rest of the input with one
		}
		ctx := hresult.Context(where%8 + 1)
		h := nethttp.Header{}
		h.Set(uploadproto.HeaderPacketType, "Ack")
		h.Set(uploadproto.HeaderSessionID, session)
		name := uploadproto.HeaderReceived
		if misspelt {
			name = uploadproto.HeaderReceivedMisspelt
		}
		v := strconv.FormatInt(received, 10)
		if asRange && received > 0 {
			v = "0-" + strconv.FormatInt(received-1, 10)
		}
		h.Set(name, v)
		if decimal && code&0x80000000 != 0 {
			h.Set(uploadproto.HeaderErrorCode, strconv.Itoa(int(int32(code))))
		} else {
			h.Set(uploadproto.HeaderErrorCode, fmt.Sprintf("0x%08X", code))
		}
		h.Set(uploadproto.HeaderErrorContext, fmt.Sprintf("0x%X", int(ctx)))
		a := parseAck(h)
		want := ack{isAck: true, session: session, received: received, errorCode: hresult.Code(code), errorContext: ctx}
		if fmt.Sprint(a) != fmt.Sprint(want) {
			t.Fatalf("headers %v read as %+v, want %+v", h, a, want)
		}
	})
}

// FuzzSessionToken checks that a token either reads as a size, a valid
// session id and, when it names one, a valid host, and writes back to the
// same values, or does not read at all.
func FuzzSessionToken(f *testing.F) {
	f.Add("4892:{6E1A9B55-0000-4000-8000-000000000000}")
	f.Add("0:a")
	f.Add(":")
	f.Add("-1:x")
	f.Add("99999999999999999999:x")
	f.Add("12:a:b")
	f.Add("12;node7.example%3A8080;3600:{a}")
	f.Add("12;%5B%3A%3A1%5D;0:s1")
	f.Add("12;;0:s1")
	f.Fuzz(func(t *testing.T, s string) {
		k, ok := parseToken(s)
		if !ok {
			if validSessionID(s) {
				// Any valid id makes a token with any size.
				n := int64(len(s))
				if k2, ok2 := parseToken(token{size: n, id: s}.String()); !ok2 || k2 != (token{size: n, id: s}) {
					t.Fatalf("a token of size %d and id %q reads as %+v, %v", n, s, k2, ok2)
				}
			}
			return
		}
		if k.size < 0 || !validSessionID(k.id) || (k.host != "" && !validHostID(k.host)) || k.fallback < 0 {
			t.Fatalf("%q read as %+v", s, k)
		}
		if k2, ok2 := parseToken(k.String()); !ok2 || k2 != k {
			t.Fatalf("%q: written back as %q and read again as %+v, %v", s, k.String(), k2, ok2)
		}
	})
}
