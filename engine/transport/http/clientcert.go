package http

import (
	"bytes"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"bits/engine/transport"
	"bits/hresult"
)

// A certificate store is a folder of PEM files. Each file named *.pem,
// *.crt or *.cer whose first PEM block of type CERTIFICATE is a
// certificate is a candidate; CERTIFICATE blocks after the first are its
// chain, sent along. Its private key is a "PRIVATE KEY" block (PKCS #8,
// PKCS #1 or SEC 1) in the same file or, failing that, in the file of the
// same name with the extension .key. Other files are ignored.
var certExtensions = []string{".pem", ".crt", ".cer"}

// loadClientCert finds the certificate that cc names in its folders,
// searched in order and each in name order, and returns it with its key:
// the first whose SHA-1 is cc.Hash, or, when cc.Hash is empty, whose
// subject matches cc.Subject (see subjectMatches). Any failure is a fatal
// WINHTTP_CLIENT_AUTH_CERT_NEEDED whose message names files but never
// shows key material.
func loadClientCert(cc *transport.ClientCert) (*tls.Certificate, error) {
	unreadable := 0
	for _, dir := range cc.Dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue // a store that does not exist holds no certificate
		}
		for _, e := range entries {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if e.IsDir() || !isCertExtension(ext) {
				continue
			}
			name := filepath.Join(dir, e.Name())
			data, err := os.ReadFile(name)
			if err != nil {
				unreadable++
				continue
			}
			leaf, ok := firstCertificate(data)
			if !ok {
				unreadable++
				continue
			}
			if !certMatches(leaf, cc) {
				continue
			}
			return keyPair(name, data)
		}
	}
	msg := "no certificate in " + strings.Join(cc.Dirs, ", ") + " has " + wantedCert(cc)
	if unreadable > 0 {
		msg += " (some files there could not be read as PEM certificates)"
	}
	return nil, hresult.Fatal(hresult.WINHTTP_CLIENT_AUTH_CERT_NEEDED, hresult.ContextGeneralTransport, "%s", msg)
}

func isCertExtension(ext string) bool {
	for _, e := range certExtensions {
		if ext == e {
			return true
		}
	}
	return false
}

// firstCertificate parses the first CERTIFICATE block of a PEM file.
func firstCertificate(data []byte) (*x509.Certificate, bool) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, false
		}
		if block.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(block.Bytes)
			return c, err == nil
		}
	}
}

func certMatches(c *x509.Certificate, cc *transport.ClientCert) bool {
	if len(cc.Hash) > 0 {
		sum := sha1.Sum(c.Raw)
		return bytes.Equal(sum[:], cc.Hash)
	}
	return subjectMatches(c, cc.Subject)
}

// subjectMatches compares a subject name as given to a job with a
// certificate's subject, ignoring case: either its common name, or the
// whole subject as an RFC 2253 string ("CN=client,O=Example"). An empty
// name matches nothing.
func subjectMatches(c *x509.Certificate, name string) bool {
	name = strings.TrimSpace(name)
	if name == "" {
		return false
	}
	return strings.EqualFold(c.Subject.CommonName, name) || strings.EqualFold(c.Subject.String(), name)
}

// keyPair reads the key for the certificate in file name (whose contents
// are data): from the same file, else from the .key file beside it.
func keyPair(name string, data []byte) (*tls.Certificate, error) {
	keyData := data
	if !hasPrivateKey(data) {
		keyName := strings.TrimSuffix(name, filepath.Ext(name)) + ".key"
		var err error
		if keyData, err = os.ReadFile(keyName); err != nil {
			why := "cannot be read"
			if errors.Is(err, os.ErrNotExist) {
				why = "does not exist"
			}
			return nil, hresult.Fatal(hresult.WINHTTP_CLIENT_AUTH_CERT_NEEDED, hresult.ContextGeneralTransport,
				"the client certificate %s holds no private key, and %s %s", name, keyName, why)
		}
	}
	cert, err := tls.X509KeyPair(data, keyData)
	if err != nil {
		// X509KeyPair's errors describe the problem, never the key.
		return nil, hresult.Fatal(hresult.WINHTTP_CLIENT_AUTH_CERT_NEEDED, hresult.ContextGeneralTransport,
			"the client certificate %s cannot be used: %v", name, err)
	}
	return &cert, nil
}

func hasPrivateKey(data []byte) bool {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return false
		}
		if block.Type == "PRIVATE KEY" || strings.HasSuffix(block.Type, " PRIVATE KEY") {
			return true
		}
	}
}

func wantedCert(cc *transport.ClientCert) string {
	if len(cc.Hash) > 0 {
		return "the SHA-1 hash " + hex.EncodeToString(cc.Hash)
	}
	return "the subject " + cc.Subject
}
