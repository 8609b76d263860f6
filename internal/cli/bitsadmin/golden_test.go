package bitsadmin

import (
	"context"
	"testing"

	"bits/engine"
	"bits/internal/testenv"
)

// Each test records a few commands and compares what they print, on both
// streams, and their exit codes with testdata/<name>.golden. Run
// `go test ./internal/cli/bitsadmin/ -update` to rewrite the files after an
// intended change, and read the diff.

func TestGoldenCreate(t *testing.T) {
	h := newHarness(t)
	h.record("/create", "job1")
	h.record("/CREATE", "/Upload", "up1")
	h.record("/create", "/upload-reply", "reply1")
	h.record("/rawreturn", "/create", "raw1")
	h.record("/create", "/download", "/Download")
	h.record("/create")
	h.record("/create", "a", "b")
	h.record("/create", "/rawreturn", "x")
	h.record("/list")
	h.check("create")
}

func TestGoldenAddFile(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "job")
	h.record("/addfile", "job", "http://example.com/a.iso", "$DIR/a.iso")
	h.record("/addfile", "job", "not-a-url", "$DIR/b")
	h.record("/addfile", "job", "ftp://example.com/c", "$DIR/c")
	h.record("/addfile", "job", "http://example.com/d", "relative/d")
	h.record("/addfile", "job", "http://example.com/e", "$DIR/no/such/folder/e")
	h.record("/addfile", "nosuch", "http://example.com/a.iso", "$DIR/x")
	h.record("/addfile", "job", "http://example.com/a.iso")
	h.record("/listfiles", "job")
	h.record("/listfiles", id(1)+".")
	h.check("addfile")
}

func TestGoldenLifecycle(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "job")
	h.record("/resume", "job") // no files: BG_E_EMPTY
	h.must("/addfile", "job", "http://example.com/a", "$DIR/a")
	h.record("/resume", "job")
	h.record("/getstate", "job")
	h.record("/suspend", "job")
	h.record("/getstate", "job")
	h.record("/suspend", "job")
	h.record("/cancel", "job")
	h.record("/cancel", "job")

	h.must("/create", "/upload", "up")
	h.source("up")
	h.must("/addfile", "up", "http://example.com/up", "$DIR/up")
	h.record("/complete", "up") // an upload completes only when TRANSFERRED

	h.must("/create", "dl")
	h.must("/addfile", "dl", "http://example.com/dl", "$DIR/dl")
	h.record("/complete", "dl") // its file never arrived
	h.must("/create", "empty")
	h.record("/complete", "empty")
	h.record("/resume", "empty")
	h.record("/list")
	h.check("lifecycle")
}

func TestGoldenInfo(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "my job")
	h.must("/addfile", "my job", "http://example.com/a.iso", "$DIR/a.iso")
	h.must("/addfile", "my job", "http://example.com/b.iso", "$DIR/b.iso")
	desc := "Nightly images"
	if err := h.m.Set(context.Background(), h.job(id(1)).ID, engine.Props{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	h.must("/create", "empty")
	h.record("/info", "my job")
	h.record("/info", "my job", "/verbose")
	h.record("/INFO", id(2), "/Verbose")
	h.record("/info", "my job", "/verbose", "extra")
	h.record("/info", "/verbose")
	h.record("/info")
	h.check("info")
}

// A job in ERROR, put there by a real worker that got 404 from a real origin.
func TestGoldenError(t *testing.T) {
	h := newHarness(t)
	origin := testenv.NewOrigin(t, []byte("content"))
	h.vars["$ORIGIN"] = origin.URL("")
	h.startWorker()
	h.must("/create", "broken")
	h.must("/addfile", "broken", "$ORIGIN/missing.iso", "$DIR/missing.iso")
	h.must("/resume", "broken")
	testenv.Eventually(t, "the job to fail", func() bool { return h.job(id(1)).State == engine.Error })

	h.record("/info", "broken", "/verbose")
	h.record("/geterror", "broken")
	h.record("/rawreturn", "/geterror", "broken")
	h.record("/geterrorcount", "broken")
	h.record("/rawreturn", "/geterrorcount", "broken")
	h.record("/getstate", "broken")
	h.record("/list")
	h.check("error")
}

func TestGoldenList(t *testing.T) {
	h := newHarness(t)
	h.record("/list")
	h.must("/create", "first")
	h.must("/create", "/upload", "second")
	h.source("up")
	h.must("/addfile", "second", "http://example.com/up", "$DIR/up")
	h.must("/create", "third")
	h.must("/addfile", "third", "http://example.com/a", "$DIR/a")
	h.must("/addfile", "third", "http://example.com/b", "$DIR/b")
	h.must("/resume", "third")
	h.record("/list")
	h.record("/LIST", "/AllUsers")
	h.record("/list", "/verbose")
	h.record("/list", "/verbose", "/allusers")
	h.record("/list", "/verbose", "/verbose")
	h.record("/list", "extra")
	h.check("list")
}

func TestGoldenReset(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "a")
	h.must("/create", "b")
	h.must("/addfile", "b", "http://example.com/b", "$DIR/b")
	h.must("/resume", "b")
	h.must("/create", "c")
	h.record("/reset")
	h.record("/list")
	h.record("/reset", "/allusers")
	h.record("/reset", "a")
	h.check("reset")
}

func TestGoldenGet(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "job")
	h.must("/addfile", "job", "http://example.com/a", "$DIR/a")
	for _, v := range []string{"/getstate", "/getbytestotal", "/getbytestransferred", "/getfilestotal",
		"/getfilestransferred", "/geterrorcount", "/getminretrydelay", "/getnoprogresstimeout"} {
		h.record(v, "job")
		h.record("/rawreturn", v, "job")
	}
	h.record("/geterror", "job") // not in an error state
	h.record("/rawreturn", "/geterror", "job")
	h.record("/getstate")
	h.record("/getstate", "job", "extra")
	h.record("/rawreturn", "/getstate", "nosuch")
	h.check("get")
}

func TestGoldenSet(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "job")
	h.record("/setminretrydelay", "job", "60")
	h.record("/getminretrydelay", "job")
	h.record("/setminretrydelay", "job", "1") // raised to the 5 s floor
	h.record("/setminretrydelay", "job", "abc")
	h.record("/setminretrydelay", "job", "-5")
	h.record("/setminretrydelay", "job", "4294967296")
	h.record("/getminretrydelay", "job")
	h.record("/setminretrydelay", "job")
	h.record("/setminretrydelay", "nosuch", "60")
	h.record("/SetNoProgressTimeout", "job", "0")
	h.record("/setnoprogresstimeout", "job", "1.5")
	h.record("/getnoprogresstimeout", "job")
	h.check("set")
}

func TestGoldenUsage(t *testing.T) {
	h := newHarness(t)
	h.record()
	h.record("/rawreturn")
	h.record("/frobnicate")
	h.record("create", "job")
	h.record("/help")
	h.record("/?")
	h.record("/HeLp", "extra")
	h.record("/wrap", "/list")
	h.record("/NOWRAP", "/RawReturn", "/list")
	h.record("/list", "/wrap")
	h.check("usage")
}

func TestGoldenLookup(t *testing.T) {
	h := newHarness(t)
	h.must("/create", "dup")
	h.must("/create", "dup")
	h.must("/create", "Dup")
	h.record("/getstate", "dup")
	h.record("/getstate", "Dup")
	h.record("/getstate", id(1))
	h.record("/getstate", id(2)+".")
	h.record("/getstate", "{ab000000-0000-4000-8000-000000000003}")
	h.record("/getstate", "{AB000000-0000-4000-8000-999999999999}")
	h.record("/getstate", "AB000000-0000-4000-8000-000000000001") // braces are required
	h.record("/getstate", "nosuch")
	h.record("/cancel", "dup")
	h.check("lookup")
}

// /transfer input that is refused before anything starts leaves no job.
func TestGoldenTransferRefused(t *testing.T) {
	h := newHarness(t)
	h.record("/transfer")
	h.record("/transfer", "job")
	h.record("/transfer", "job", "http://example.com/a")
	h.record("/transfer", "job", "/priority")
	h.record("/transfer", "job", "/priority", "urgent", "http://example.com/a", "$DIR/a")
	h.record("/transfer", "job", "/aclflags", "OX", "http://example.com/a", "$DIR/a")
	h.record("/transfer", "job", "/upload", "/dynamic", "http://example.com/a", "$DIR/a") // dynamic content is for downloads
	h.record("/transfer", "job", "http://example.com/a", "relative/a")
	h.record("/transfer", "job", "http://example.com/a", "$DIR/a", "ftp://example.com/b", "$DIR/b")
	h.record("/list")
	h.check("transfer-refused")
}
