package e2e

import (
	"fmt"
	nethttp "net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"bits/internal/testenv"
)

// TestKilledWorkerKeepsItsSmallFiles kills the worker and its supervisor
// with SIGKILL in the middle of a job of small files, many of them recorded
// complete but not yet synced (a job's small files are synced together
// before it is TRANSFERRED): the next worker, in the same boot, finds their
// bytes in the page cache, fetches none of them again, and every file
// arrives whole.
func TestKilledWorkerKeepsItsSmallFiles(t *testing.T) {
	t.Parallel() // its own user and origin; most of its time is the origin's rate limit
	u := newUser(t)
	content := testenv.RandomContent(20_000, 71)
	files := testenv.NewOriginHandler(content, testenv.RateLimit(100_000))
	t.Cleanup(files.Close)
	o := testenv.NewOrigin(t, nil)
	// /s/N is file N: the origin's log tells them apart.
	o.Handle("/s/", nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		r = r.Clone(r.Context())
		r.URL.Path = "/file"
		files.ServeHTTP(w, r)
	}))
	const n = 120
	dir := t.TempDir()
	var set strings.Builder
	for i := range n {
		fmt.Fprintf(&set, "%s %s\n", o.URL(fmt.Sprintf("/s/%d", i)), filepath.Join(dir, fmt.Sprintf("f%03d.bin", i)))
	}
	setFile := filepath.Join(t.TempDir(), "set.txt")
	if err := os.WriteFile(setFile, []byte(set.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	u.ok("/create", "small")
	u.ok("/addfileset", "small", setFile)
	u.ok("/resume", "small")

	filesDone := func() int {
		k, err := strconv.Atoi(u.raw("/getfilestransferred", "small"))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	testenv.Eventually(t, "a third of the files complete", func() bool { return filesDone() >= n/3 })
	u.killAll()
	done := filesDone() // files finish in order: these are the first ones
	if done >= n {
		t.Fatalf("all %d files were done before the kill: the origin is too fast for this test", n)
	}

	u.waitState("small", "TRANSFERRED")
	u.ok("/complete", "small")
	for i := range n {
		got, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("f%03d.bin", i)))
		if err != nil || string(got) != string(content) {
			t.Fatalf("file %d is not the origin's (%v)", i, err)
		}
	}
	gets := map[string]int{}
	for _, r := range o.Requests() {
		if r.Method == nethttp.MethodGet {
			gets[r.Path]++
		}
	}
	for i := range done {
		if g := gets[fmt.Sprintf("/s/%d", i)]; g != 1 {
			t.Errorf("file %d, complete when the worker was killed, was fetched %d times", i, g)
		}
	}
	t.Logf("%d of %d files complete at the kill, kept", done, n)
}
