package engine

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"os"

	"bits/engine/transport"
	"bits/hresult"
)

// errDigestMismatch means the finished file does not match the digest the
// server offered: the file is fetched again from byte 0.
var errDigestMismatch = errors.New("the file does not match the server's digest")

// verify reads the finished temporary file and compares it with the
// server's digest. It returns the algorithm it checked, or "" for one it
// does not know.
func verify(f *os.File, d transport.Digest) (string, error) {
	var h hash.Hash
	switch d.Algorithm {
	case "sha-256":
		h = sha256.New()
	case "sha-512":
		h = sha512.New()
	case "md5":
		h = md5.New()
	default:
		return "", nil
	}
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return "", localError(f.Name(), err)
	}
	if !bytes.Equal(h.Sum(nil), d.Sum) {
		return "", errDigestMismatch
	}
	return d.Algorithm, nil
}

// checkSum compares the finished temporary file with the SHA-256 its user
// gave. A file that differs is not the file asked for: fetching it again
// would not help, so the job stops in ERROR.
func checkSum(f *os.File, want string) error {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return localError(f.Name(), err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return hresult.Fatal(hresult.BG_E_VALIDATION_FAILED, hresult.ContextRemoteFile,
			"the file's SHA-256 is %s, not %s as given", got, want)
	}
	return nil
}
