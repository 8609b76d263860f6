package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServeAndStop(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "hello.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, outW := io.Pipe()
	var stderr strings.Builder
	exit := make(chan int, 1)
	go func() {
		exit <- run(ctx, []string{"-listen", "127.0.0.1:0", "-root", root}, outW, &stderr)
		outW.Close()
	}()

	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the address: %v (stderr: %s)", err, stderr.String())
	}
	base, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on http://127.0.0.1:")
	if !ok || base == "" || base == "0" {
		t.Fatalf("first line %q: want listening on http://127.0.0.1:<port>", line)
	}
	url := "http://127.0.0.1:" + base + "/hello.txt"
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "hello\n" {
		t.Fatalf("GET %s: %s %q", url, resp.Status, body)
	}

	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("exit code %d after shutdown, want 0 (stderr: %s)", code, stderr.String())
		}
	case <-time.After(shutdownGrace + 10*time.Second):
		t.Fatal("server did not stop")
	}
	if _, err := http.Get(url); err == nil {
		t.Error("server still answers after shutdown")
	}
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{}, 2}, // -root is required
		{[]string{"-root", dir, "extra"}, 2},
		{[]string{"-bogus"}, 2},
		{[]string{"-h"}, 0},
		{[]string{"-root", filepath.Join(dir, "missing"), "-listen", "127.0.0.1:0"}, 1},
		{[]string{"-root", dir, "-rate", "-5", "-listen", "127.0.0.1:0"}, 1},
		{[]string{"-root", dir, "-listen", "127.0.0.1:99999"}, 1},
	} {
		var stdout, stderr strings.Builder
		if got := run(context.Background(), c.args, &stdout, &stderr); got != c.code {
			t.Errorf("bitsserver %q: exit %d, want %d (stderr: %s)", c.args, got, c.code, stderr.String())
		}
	}
}
