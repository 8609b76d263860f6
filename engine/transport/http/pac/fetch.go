package pac

import (
	"context"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"bits/engine/transport"
)

const (
	// maxSize bounds a PAC file; real ones are a few kilobytes, the
	// largest block lists a few hundred.
	maxSize      = 1 << 20
	fetchTimeout = 30 * time.Second
)

// direct fetches PAC files when the caller gives no client: a PAC file is
// never fetched through the proxies it may name, as browsers have it.
var direct = &nethttp.Client{Transport: &nethttp.Transport{Proxy: nil,
	DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return transport.Dial(ctx, &net.Dialer{}, network, addr)
	}}, Timeout: fetchTimeout}

// Fetch reads the PAC file at pacURL: an absolute path or a file:// URL
// from disk, an http or https URL through client (a direct one when nil)
// within 30 seconds, which must answer 200. A file larger than 1 MiB is
// an error.
func Fetch(ctx context.Context, client *nethttp.Client, pacURL string) ([]byte, error) {
	if strings.HasPrefix(pacURL, "/") {
		return readFile(pacURL)
	}
	u, err := url.Parse(pacURL)
	if err != nil {
		return nil, fmt.Errorf("the PAC file URL is not a URL: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return nil, fmt.Errorf("the PAC file URL %s names another machine", pacURL)
		}
		return readFile(u.Path)
	case "http", "https":
		pacURL = u.Redacted()
	default:
		return nil, fmt.Errorf("the PAC file URL %s is not a file, http or https URL", pacURL)
	}
	if client == nil {
		client = direct
	}
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	req, err := nethttp.NewRequestWithContext(ctx, nethttp.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("the PAC file URL %s: %w", pacURL, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching the PAC file: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != nethttp.StatusOK {
		return nil, fmt.Errorf("the PAC file at %s: the server answered %s", pacURL, resp.Status)
	}
	return readLimited(resp.Body, pacURL)
}

func readFile(path string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("the PAC file URL names no file")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the PAC file: %w", err)
	}
	defer f.Close()
	return readLimited(f, path)
}

func readLimited(r io.Reader, where string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("reading the PAC file at %s: %w", where, err)
	}
	if len(data) > maxSize {
		return nil, fmt.Errorf("the PAC file at %s is larger than %d bytes", where, maxSize)
	}
	return data, nil
}
