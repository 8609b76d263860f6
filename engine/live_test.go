package engine_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"bits/engine"
	"bits/internal/testenv"
)

// TestSettingsChangeOnARunningJob: a change of headers, proxy or priority
// while a job moves reaches the server at once: the transfer starts again
// from where it stopped, with the new settings, and the file arrives whole.
func TestSettingsChangeOnARunningJob(t *testing.T) {
	proxy := testenv.StartProxy(t) // a real tinyproxy
	proxied := func() bool { return len(proxy.Requests()) > 0 }

	one, two := "X-Test: one", "X-Test: two"
	high := engine.High
	for _, c := range []struct {
		name   string
		change engine.Props
		// seen says whether a request shows the change.
		seen func(testenv.Request) bool
	}{
		{"headers", engine.Props{CustomHeaders: &two}, func(r testenv.Request) bool { return r.Header.Get("X-Test") == "two" }},
		{"proxy", engine.Props{Proxy: &engine.ProxySettings{Usage: engine.ProxyOverride, List: proxy.Addr()}},
			func(testenv.Request) bool { return proxied() }},
		{"priority", engine.Props{Priority: &high}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := start(t)
			content := testenv.RandomContent(1<<20, 5)
			o := testenv.NewOrigin(t, content, testenv.RateLimit(512<<10))
			j := h.jobWith(engine.Props{CustomHeaders: &one}, o.URL("/file"))
			h.waitFor(j.ID, "moving", func(j *engine.Job) bool { return j.Files[0].BytesTransferred > 0 })
			before := len(o.Requests())
			if err := h.m.Set(context.Background(), j.ID, c.change); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, "a request with the new settings", func() bool {
				for _, r := range o.Requests()[before:] {
					if r.Method == http.MethodGet && strings.HasPrefix(r.Range, "bytes=") && !strings.HasPrefix(r.Range, "bytes=0-") &&
						(c.seen == nil || c.seen(r)) {
						return true
					}
				}
				return false
			})
			if got := h.completeAndRead(h.waitState(j.ID, engine.Transferred)); !bytes.Equal(got, content) {
				t.Errorf("the file arrived with %d bytes, not the %d sent, or different", len(got), len(content))
			}
		})
	}
}
