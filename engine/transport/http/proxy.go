package http

import (
	nethttp "net/http"
	"net/url"

	"bits/engine/transport"
)

// proxyFunc returns the proxy chooser for a job's proxy settings.
func proxyFunc(p transport.Proxy) (func(*nethttp.Request) (*url.URL, error), error) {
	switch p.Usage {
	case transport.ProxyNone:
		return nil, nil
	default:
		return nethttp.ProxyFromEnvironment, nil
	}
}
