package http

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	nethttp "net/http"
	"net/url"
	"sync"
	"time"

	"bits/hresult"
)

// maxCRLSize bounds a downloaded revocation list.
const maxCRLSize = 32 << 20

// A crlChecker implements BG_SSL_ENABLE_CRL_CHECK: every certificate of
// the verified chain but its root (a trust anchor) must be listed as not
// revoked by a CRL from one of its http:// distribution points, signed by
// its issuer and current. A revoked certificate is
// WINHTTP_SECURE_CERT_REVOKED; a certificate whose status cannot be
// learned (no http distribution point, none reachable, a stale or badly
// signed list) is WINHTTP_SECURE_CERT_REV_FAILED. Both are fatal, as in
// BITS. OCSP is not used. Lists are kept until their NextUpdate.
type crlChecker struct {
	client  *nethttp.Client
	timeout time.Duration

	mu    sync.Mutex
	cache map[string]*x509.RevocationList // by URL
}

func newCRLChecker(client *nethttp.Client, timeout time.Duration) *crlChecker {
	return &crlChecker{client: client, timeout: timeout, cache: map[string]*x509.RevocationList{}}
}

// revocationError is a failed revocation check, with its WinHTTP code.
type revocationError struct {
	code hresult.Code
	msg  string
}

func (e *revocationError) Error() string { return e.msg }

func (c *crlChecker) check(chain []*x509.Certificate, now time.Time) error {
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		list, err := c.list(cert, issuer, now)
		if err != nil {
			return &revocationError{code: hresult.WINHTTP_SECURE_CERT_REV_FAILED,
				msg: fmt.Sprintf("cannot learn whether the certificate of %s is revoked: %v", cert.Subject, err)}
		}
		for _, e := range list.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return &revocationError{code: hresult.WINHTTP_SECURE_CERT_REVOKED,
					msg: fmt.Sprintf("the certificate of %s was revoked on %s", cert.Subject, e.RevocationTime.Format(time.RFC3339))}
			}
		}
	}
	return nil
}

// list returns a current CRL for cert, signed by issuer, from the first of
// its distribution points that gives one.
func (c *crlChecker) list(cert, issuer *x509.Certificate, now time.Time) (*x509.RevocationList, error) {
	var last error = fmt.Errorf("it names no http CRL distribution point")
	for _, u := range cert.CRLDistributionPoints {
		if p, err := url.Parse(u); err != nil || p.Scheme != "http" {
			continue
		}
		list, err := c.fetch(u, issuer, now)
		if err == nil {
			return list, nil
		}
		last = err
	}
	return nil, last
}

func (c *crlChecker) fetch(u string, issuer *x509.Certificate, now time.Time) (*x509.RevocationList, error) {
	c.mu.Lock()
	list, ok := c.cache[u]
	c.mu.Unlock()
	if ok && current(list, now) && list.CheckSignatureFrom(issuer) == nil {
		return list, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != nethttp.StatusOK {
		return nil, fmt.Errorf("%s answered %s", u, resp.Status)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, maxCRLSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", u, err)
	}
	if len(der) > maxCRLSize {
		return nil, fmt.Errorf("the CRL at %s is larger than %d bytes", u, maxCRLSize)
	}
	if list, err = x509.ParseRevocationList(pemOrDER(der)); err != nil {
		return nil, fmt.Errorf("the CRL at %s: %w", u, err)
	}
	if err := list.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("the CRL at %s is not signed by the certificate's issuer: %w", u, err)
	}
	if !current(list, now) {
		return nil, fmt.Errorf("the CRL at %s is not current (next update %s)", u, list.NextUpdate.Format(time.RFC3339))
	}
	c.mu.Lock()
	c.cache[u] = list
	c.mu.Unlock()
	return list, nil
}

// current says whether now lies between a list's ThisUpdate and its
// NextUpdate (a list without NextUpdate never goes stale, per RFC 5280).
func current(list *x509.RevocationList, now time.Time) bool {
	return !now.Before(list.ThisUpdate) && (list.NextUpdate.IsZero() || now.Before(list.NextUpdate))
}

// pemOrDER accepts a CRL in PEM as well as DER: some servers publish that.
func pemOrDER(b []byte) []byte {
	if block, _ := pem.Decode(b); block != nil && block.Type == "X509 CRL" {
		return block.Bytes
	}
	return b
}
