package http

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	nethttp "net/http"
	"testing"

	"bits/engine/transport"
	"bits/internal/testenv"
)

func TestOfferedDigest(t *testing.T) {
	body := []byte("the file")
	s256, s512, m5 := sha256.Sum256(body), sha512.Sum512(body), md5.Sum(body)
	b64 := base64.StdEncoding.EncodeToString
	raw := base64.RawStdEncoding.EncodeToString
	h := func(kv ...string) nethttp.Header {
		out := nethttp.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	sha256D := transport.Digest{Algorithm: "sha-256", Sum: s256[:]}
	sha512D := transport.Digest{Algorithm: "sha-512", Sum: s512[:]}
	md5D := transport.Digest{Algorithm: "md5", Sum: m5[:]}
	none := transport.Digest{}

	for _, tc := range []struct {
		name  string
		h     nethttp.Header
		whole bool
		want  transport.Digest
	}{
		{"repr sha-256", h("Repr-Digest", "sha-256=:"+b64(s256[:])+":"), true, sha256D},
		{"repr prefers sha-512", h("Repr-Digest", "sha-256=:"+b64(s256[:])+":, sha-512=:"+b64(s512[:])+":"), true, sha512D},
		{"repr over two lines", h("Repr-Digest", "sha-256=:"+b64(s256[:])+":", "Repr-Digest", "sha-512=:"+b64(s512[:])+":"), true, sha512D},
		{"repr with unknown and odd members", h("Repr-Digest", `unixsum=:AAAA:, md5=:`+b64(m5[:])+`:, id-sha-256=:`+b64(s256[:])+`:, x=?1, y="a,b", z=(1 2);p=tok, sha-256=:`+b64(s256[:])+`:;q=1`), true, sha256D},
		{"repr only unknown: the Digest field", h("Repr-Digest", "sha-1=:"+b64(s256[:20])+":", "Digest", "SHA-256="+b64(s256[:])), true, sha256D},
		{"repr not a dictionary", h("Repr-Digest", "sha-256=:"+b64(s256[:])+":,", "Digest", "MD5="+b64(m5[:])), true, md5D},
		{"repr bad base64", h("Repr-Digest", "sha-256=:not base64!:"), true, none},
		{"repr wrong length", h("Repr-Digest", "sha-512=:"+b64(s256[:])+":, sha-256=:"+b64(s256[:])+":"), true, sha256D},
		{"repr upper-case key", h("Repr-Digest", "SHA-256=:"+b64(s256[:])+":"), true, none},
		{"repr value not bytes", h("Repr-Digest", "sha-256="+b64(s256[:])), true, none},
		{"legacy, case-insensitive, strongest", h("Digest", "md5="+b64(m5[:])+", Sha-256="+b64(s256[:])), true, sha256D},
		{"legacy unpadded", h("Digest", "SHA-512="+raw(s512[:])), true, sha512D},
		{"legacy unknown algorithm", h("Digest", "UNIXsum=1234, SHA="+b64(s256[:20])), true, none},
		{"content-md5", h("Content-MD5", b64(m5[:])), true, md5D},
		{"content-md5 of a part", h("Content-MD5", b64(m5[:])), false, none},
		{"content-md5 malformed", h("Content-MD5", "abc"), true, none},
		{"repr beats content-md5", h("Content-MD5", b64(m5[:]), "Repr-Digest", "sha-256=:"+b64(s256[:])+":"), true, sha256D},
		{"nothing", h(), true, none},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := offeredDigest(tc.h, tc.whole)
			if got.Algorithm != tc.want.Algorithm || !bytes.Equal(got.Sum, tc.want.Sum) {
				t.Fatalf("offeredDigest = %s %x, want %s %x", got.Algorithm, got.Sum, tc.want.Algorithm, tc.want.Sum)
			}
		})
	}
}

func TestStatDigest(t *testing.T) {
	content := testenv.RandomContent(5000, 60)
	s256, s512, m5 := sha256.Sum256(content), sha512.Sum512(content), md5.Sum(content)
	for _, tc := range []struct {
		name string
		opts []testenv.OriginOption
		alg  string
		sum  []byte
	}{
		{"Repr-Digest", []testenv.OriginOption{testenv.ServeDigest("Repr-Digest", "sha-256", "sha-512")}, "sha-512", s512[:]},
		{"Digest", []testenv.OriginOption{testenv.ServeDigest("Digest", "SHA-256")}, "sha-256", s256[:]},
		{"Content-MD5", []testenv.OriginOption{testenv.ServeDigest("Content-MD5")}, "md5", m5[:]},
		{"Content-MD5 of a 206 is not used", []testenv.OriginOption{testenv.HeadStatus(405), testenv.ServeDigest("Content-MD5"), testenv.ExtraHeader("Content-MD5", base64.StdEncoding.EncodeToString(m5[:]))}, "", nil},
		{"Content-MD5 of a 200 GET", []testenv.OriginOption{testenv.HeadStatus(405), testenv.NoRanges(), testenv.ServeDigest("Content-MD5")}, "md5", m5[:]},
		{"malformed", []testenv.OriginOption{testenv.ExtraHeader("Repr-Digest", "sha-256=:AAAA:")}, "", nil},
		{"none", nil, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testenv.NewOrigin(t, content, tc.opts...)
			info := stat(t, New(Options{}), parse(t, o.URL("/file")))
			if info.Digest.Algorithm != tc.alg || !bytes.Equal(info.Digest.Sum, tc.sum) {
				t.Fatalf("Digest = %s %x, want %s %x", info.Digest.Algorithm, info.Digest.Sum, tc.alg, tc.sum)
			}
			if info.Size != 5000 {
				t.Fatalf("Size = %d", info.Size)
			}
		})
	}
}
