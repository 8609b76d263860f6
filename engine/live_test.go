package engine_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"bits/engine"
	"bits/internal/testenv"
)

// TestSettingsChangeOnARunningJob: a change of headers, proxy, priority or
// credentials while a job moves reaches the server at once: the transfer
// starts again from where it stopped, with the new settings, and the file
// arrives whole.
func TestSettingsChangeOnARunningJob(t *testing.T) {
	proxy := testenv.StartProxy(t) // a real tinyproxy
	proxied := func() bool { return len(proxy.Requests()) > 0 }
	// locked makes the server ask for Basic credentials from then on, as
	// a server whose password the user has just been given.
	var locked atomic.Bool
	user, password := "ann", "s3cret"

	one, two := "X-Test: one", "X-Test: two"
	high := engine.High
	for _, c := range []struct {
		name   string
		change func(m *engine.Manager, id string) error
		// seen says whether a request that reached the file shows the change.
		seen func(testenv.Request) bool
	}{
		{"headers", changeProps(engine.Props{CustomHeaders: &two}), func(r testenv.Request) bool { return r.Header.Get("X-Test") == "two" }},
		{"proxy", changeProps(engine.Props{Proxy: &engine.ProxySettings{Usage: engine.ProxyOverride, List: proxy.Addr()}}),
			func(testenv.Request) bool { return proxied() }},
		{"priority", changeProps(engine.Props{Priority: &high}), func(testenv.Request) bool { return true }},
		{"credentials", func(m *engine.Manager, id string) error {
			locked.Store(true)
			return m.SetCredentials(context.Background(), id, engine.Credential{Target: engine.TargetServer, Scheme: engine.SchemeBasic,
				User: &user, Password: &password})
		}, func(r testenv.Request) bool { return r.Header.Get("Authorization") != "" }},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := start(t)
			content := testenv.RandomContent(1<<20, 5)
			o := testenv.NewOriginHandler(content, testenv.RateLimit(512<<10))
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if u, p, ok := r.BasicAuth(); locked.Load() && (!ok || u != user || p != password) {
					w.Header().Set("WWW-Authenticate", `Basic realm="files"`)
					http.Error(w, "who are you?", http.StatusUnauthorized)
					return
				}
				o.ServeHTTP(w, r)
			}))
			t.Cleanup(func() { srv.Close(); o.Close() })
			j := h.jobWith(engine.Props{CustomHeaders: &one}, srv.URL+"/file")
			h.waitFor(j.ID, "moving", func(j *engine.Job) bool { return j.Files[0].BytesTransferred > 0 })
			before := len(o.Requests())
			if err := c.change(h.m, j.ID); err != nil {
				t.Fatal(err)
			}
			testenv.Eventually(t, "a request with the new settings", func() bool {
				for _, r := range o.Requests()[before:] {
					if r.Method == http.MethodGet && strings.HasPrefix(r.Range, "bytes=") && !strings.HasPrefix(r.Range, "bytes=0-") && c.seen(r) {
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

// changeProps is a change of settings through Set.
func changeProps(p engine.Props) func(*engine.Manager, string) error {
	return func(m *engine.Manager, id string) error { return m.Set(context.Background(), id, p) }
}
