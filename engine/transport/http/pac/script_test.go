package pac

import (
	"context"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"bits/internal/testenv"
)

// withHelper builds bits-pac and puts it on PATH for the test.
func withHelper(t *testing.T) {
	dir := t.TempDir()
	if err := testenv.BuildPrograms(dir, HelperName); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))
}

// TestScriptRunsInTheHelper runs a PAC file in a real bits-pac: answers in
// order, concurrent calls, a script that does not load, and one that runs
// away, whose helper is killed and replaced.
func TestScriptRunsInTheHelper(t *testing.T) {
	withHelper(t)
	s, err := Start([]byte(`
		function FindProxyForURL(url, host) {
			if (host == "loop.example") { while (true) {} }
			if (isPlainHostName(host)) return "DIRECT";
			return "PROXY a.example:3128; SOCKS b.example; DIRECT";
		}`))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	find := func(raw string) ([]Route, error) {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return s.Find(context.Background(), u)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := find("https://files.example/x")
			if err != nil || len(got) != 3 || got[0].Proxy.String() != "http://a.example:3128" ||
				got[1].Proxy.String() != "socks5://b.example:1080" || !got[2].Direct {
				t.Errorf("files.example: %+v, %v", got, err)
			}
		}()
	}
	wg.Wait()
	if got, err := find("http://intranet/x"); err != nil || len(got) != 1 || !got[0].Direct {
		t.Errorf("intranet: %+v, %v; want DIRECT", got, err)
	}

	first := s.proc.cmd.Process.Pid
	if _, err := find("http://loop.example/"); err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("a looping script: %v, want a time-out", err)
	}
	if got, err := find("https://files.example/x"); err != nil || len(got) != 3 {
		t.Fatalf("after the time-out: %+v, %v", got, err)
	}
	if s.proc.cmd.Process.Pid == first {
		t.Error("the helper whose script ran away still runs")
	}

	if _, err := Start([]byte("function FindProxyForURL(url, host) {")); err == nil || !strings.Contains(err.Error(), "not JavaScript") {
		t.Errorf("a broken script: %v, want it refused", err)
	}
}
