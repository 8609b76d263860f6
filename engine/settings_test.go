package engine_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bits/engine"
	"bits/engine/spawn"
	"bits/hresult"
	"bits/internal/testenv"
)

func ptr[T any](v T) *T { return &v }

func TestRangesLandOneAfterAnother(t *testing.T) {
	h := start(t)
	content := testenv.RandomContent(10000, 8)
	o := testenv.NewOrigin(t, content)
	ctx := context.Background()
	j, _ := h.m.Create(ctx, "r", engine.Download)
	dest := filepath.Join(h.dir, "r")
	ranges := []engine.Range{{Offset: 5000, Length: engine.ToEOF}, {Offset: 0, Length: 100}, {Offset: 2000, Length: 100}}
	if err := h.m.AddFileWithRanges(ctx, j.ID, o.URL("/file"), dest, ranges); err != nil {
		t.Fatal(err)
	}
	h.m.Resume(ctx, j.ID)
	got := h.waitState(j.ID, engine.Transferred)
	if got.Files[0].BytesTotal != 5200 {
		t.Errorf("bytes total %d, want 5200", got.Files[0].BytesTotal)
	}
	h.m.Complete(ctx, j.ID)
	want := append(append(bytes.Clone(content[:100]), content[2000:2100]...), content[5000:]...)
	if b, _ := os.ReadFile(dest); !bytes.Equal(b, want) {
		t.Fatalf("local file has %d bytes that are not the ranges in offset order", len(b))
	}
	for _, r := range o.Requests() {
		if r.Method == "GET" && r.Range == "" {
			t.Errorf("a GET without Range fetched the whole file")
		}
	}

	// A range past the end fails the job with BG_E_INVALID_RANGE.
	j2, _ := h.m.Create(ctx, "r2", engine.Download)
	h.m.AddFileWithRanges(ctx, j2.ID, o.URL("/file"), filepath.Join(h.dir, "r2"), []engine.Range{{Offset: 20000, Length: 5}})
	h.m.Resume(ctx, j2.ID)
	if e := h.waitState(j2.ID, engine.Error).Err; e.Code != hresult.BG_E_INVALID_RANGE {
		t.Errorf("error %+v, want BG_E_INVALID_RANGE", e)
	}
}

func TestRangeRules(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	j, _ := h.m.Create(ctx, "r", engine.Download)
	local := filepath.Join(h.dir, "x")
	for name, rs := range map[string][]engine.Range{
		"overlap":                    {{Offset: 0, Length: 100}, {Offset: 50, Length: 10}},
		"duplicate":                  {{Offset: 10, Length: 5}, {Offset: 10, Length: 5}},
		"zero length at same offset": {{Offset: 100, Length: 0}, {Offset: 100, Length: 5}},
		"after eof":                  {{Offset: 0, Length: engine.ToEOF}, {Offset: 500, Length: 1}},
	} {
		err := h.m.AddFileWithRanges(ctx, j.ID, "http://127.0.0.1:9/f", local, rs)
		if !hresult.Is(err, hresult.BG_E_OVERLAPPING_RANGES) {
			t.Errorf("%s: %v, want BG_E_OVERLAPPING_RANGES", name, err)
		}
	}
	if got, _ := h.m.Get(ctx, j.ID); len(got.Files) != 0 {
		t.Fatal("a refused file was added")
	}
	up, _ := h.m.Create(ctx, "u", engine.Upload)
	if err := h.m.AddFileWithRanges(ctx, up.ID, "http://127.0.0.1:9/f", local, []engine.Range{{Length: 1}}); !hresult.Is(err, hresult.E_NOTIMPL) {
		t.Errorf("ranges on an upload job: %v, want E_NOTIMPL", err)
	}
}

// TestNotificationProgramRunsAndRetries checks the program runs without a
// shell when the job is TRANSFERRED, is retried after the retry delay while
// it fails, and stops once it succeeds.
func TestNotificationProgramRunsAndRetries(t *testing.T) {
	h := start(t)
	o := testenv.NewOrigin(t, []byte("payload"))
	ctx := context.Background()
	// The marker's folder does not exist at first, so the program fails.
	mdir := filepath.Join(t.TempDir(), "later")
	marker := filepath.Join(mdir, "ran; rm -rf /") // a shell would split this
	touch, err := exec.LookPath("touch")
	if err != nil {
		t.Fatal(err)
	}
	j, _ := h.m.Create(ctx, "n", engine.Download)
	h.m.AddFile(ctx, j.ID, o.URL("/file"), filepath.Join(h.dir, "n"))
	h.m.Set(ctx, j.ID, engine.Props{MinRetryDelay: ptr(60 * time.Second),
		NotifyCmdLine: &engine.NotifyCmdLine{Program: touch, Parameters: `touch "` + marker + `"`}})
	h.m.Resume(ctx, j.ID)
	h.waitState(j.ID, engine.Transferred)
	testenv.Eventually(t, "the program to run and fail", func() bool { return strings.Contains(h.log(), "exit status 1") })
	if err := os.Mkdir(mdir, 0o755); err != nil {
		t.Fatal(err)
	}
	h.clock.Add(59 * time.Second)
	spawn.Nudge(h.m.Home())
	if strings.Count(h.log(), "notification program ran") != 1 {
		t.Fatal("the program ran again before its retry delay")
	}
	h.clock.Add(2 * time.Second)
	testenv.Eventually(t, "the retried program", func() bool { _, err := os.Stat(marker); return err == nil })
	testenv.Eventually(t, "the success to be logged", func() bool { return strings.Count(h.log(), "notification program ran") == 2 })
}

func TestInactiveJobsAreCancelled(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	j, _ := h.m.Create(ctx, "old", engine.Download)
	h.clock.Add(89 * 24 * time.Hour)
	recent, _ := h.m.Create(ctx, "recent", engine.Download)
	h.clock.Add(24*time.Hour + time.Second)
	spawn.Nudge(h.m.Home())
	testenv.Eventually(t, "the inactive job to go", func() bool {
		_, err := h.m.Get(ctx, j.ID)
		return hresult.Is(err, hresult.BG_E_NOT_FOUND)
	})
	if _, err := h.m.Get(ctx, recent.ID); err != nil {
		t.Errorf("a job modified 1 day ago was cancelled: %v", err)
	}
}

// TestPolicyFileLimitsJobs: the Manager takes its limits from the policy
// file that $BITS_POLICY names.
func TestPolicyFileLimitsJobs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.conf")
	os.WriteFile(path, []byte("MaxJobsPerUser = 1\n"), 0o644)
	t.Setenv("BITS_POLICY", path)
	m, err := engine.Open(engine.Options{Home: t.TempDir(), StartWorker: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Create(context.Background(), "one", engine.Download)
	if _, err := m.Create(context.Background(), "two", engine.Download); !hresult.Is(err, hresult.BG_E_TOO_MANY_JOBS_PER_USER) {
		t.Errorf("second job with MaxJobsPerUser = 1: %v", err)
	}
}

func TestCredentialsAreNeverReadBack(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	j, _ := h.m.Create(ctx, "c", engine.Download)
	secret := "s3cret-pa55"
	if err := h.m.SetCredentials(ctx, j.ID, engine.Credential{Target: engine.TargetServer, Scheme: engine.SchemeBasic,
		User: ptr("edward"), Password: ptr(secret)}); err != nil {
		t.Fatal(err)
	}
	if err := h.m.SetCredentials(ctx, j.ID, engine.Credential{Target: engine.TargetProxy, Scheme: engine.SchemeNTLM}); err != nil {
		t.Fatalf("NULL NULL for NTLM: %v", err)
	}
	if err := h.m.SetCredentials(ctx, j.ID, engine.Credential{Target: engine.TargetServer, Scheme: engine.SchemeBasic}); !hresult.Is(err, hresult.E_INVALIDARG) {
		t.Errorf("NULL NULL for BASIC: %v", err)
	}
	if err := h.m.SetCredentials(ctx, j.ID, engine.Credential{Target: 3, Scheme: engine.SchemeBasic, User: ptr("a"), Password: ptr("b")}); !hresult.Is(err, hresult.BG_E_INVALID_AUTH_TARGET) {
		t.Errorf("target 3: %v", err)
	}
	got, _ := h.m.Get(ctx, j.ID)
	want := []engine.CredentialInfo{{Target: engine.TargetServer, Scheme: engine.SchemeBasic}, {Target: engine.TargetProxy, Scheme: engine.SchemeNTLM}}
	if len(got.Credentials) != 2 || got.Credentials[0] != want[0] || got.Credentials[1] != want[1] {
		t.Errorf("credentials = %+v", got.Credentials)
	}
	if s := fmtJob(got); strings.Contains(s, secret) {
		t.Error("the password is in the job a front end sees")
	}
	h.m.RemoveCredentials(ctx, j.ID, engine.TargetServer, engine.SchemeBasic)
	h.m.RemoveCredentials(ctx, j.ID, engine.TargetServer, engine.SchemeDigest) // never set: not an error
	if got, _ := h.m.Get(ctx, j.ID); len(got.Credentials) != 1 {
		t.Errorf("after removal: %+v", got.Credentials)
	}
	if err := h.m.TakeOwnership(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := h.m.Get(ctx, j.ID); len(got.Credentials) != 0 {
		t.Errorf("credentials survived TakeOwnership: %+v", got.Credentials)
	}
}

func TestRemoteNamesCarryNoCredentials(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	j, _ := h.m.Create(ctx, "u", engine.Download)
	err := h.m.AddFile(ctx, j.ID, "http://edward:password20@127.0.0.1:9/f", filepath.Join(h.dir, "f"))
	if !hresult.Is(err, hresult.E_INVALIDARG) || strings.Contains(err.Error(), "password20") {
		t.Fatalf("AddFile with credentials in the URL: %v", err)
	}
	if n, err := h.m.ReplaceRemotePrefix(ctx, j.ID, "http://", "http://a:b@"); n != 0 || err != nil {
		t.Fatalf("ReplaceRemotePrefix on an empty job: %d, %v", n, err)
	}
	h.m.AddFile(ctx, j.ID, "http://127.0.0.1:9/f", filepath.Join(h.dir, "f"))
	if _, err := h.m.ReplaceRemotePrefix(ctx, j.ID, "http://", "http://a:b@"); !hresult.Is(err, hresult.E_INVALIDARG) {
		t.Errorf("ReplaceRemotePrefix adding credentials: %v", err)
	}
}

func TestSettingRules(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	j, _ := h.m.Create(ctx, "s", engine.Download)
	h.m.AddFile(ctx, j.ID, "http://127.0.0.1:9/f", filepath.Join(h.dir, "f"))
	refused := map[string]struct {
		p    engine.Props
		code hresult.Code
	}{
		"lists without OVERRIDE": {engine.Props{Proxy: &engine.ProxySettings{Usage: engine.ProxyNone, List: "p:80"}}, hresult.E_INVALIDARG},
		"OVERRIDE without list":  {engine.Props{Proxy: &engine.ProxySettings{Usage: engine.ProxyOverride}}, hresult.E_INVALIDARG},
		"long proxy list":        {engine.Props{Proxy: &engine.ProxySettings{Usage: engine.ProxyOverride, List: strings.Repeat("p", 4001)}}, hresult.BG_E_PROXY_LIST_TOO_LARGE},
		"bad security flags":     {engine.Props{SecurityFlags: ptr(uint32(0x1000))}, hresult.E_INVALIDARG},
		"bad cert store":         {engine.Props{ClientCert: &engine.ClientCert{StoreName: "NOPE", Subject: "x"}}, hresult.E_INVALIDARG},
		"short cert hash":        {engine.Props{ClientCert: &engine.ClientCert{StoreName: "MY", Hash: []byte{1, 2}}}, hresult.E_INVALIDARG},
		"bad method":             {engine.Props{HTTPMethod: ptr("PO ST")}, hresult.E_INVALIDARG},
		"reply file of download": {engine.Props{ReplyFileName: ptr("/tmp/r")}, hresult.E_NOTIMPL},
		"long description":       {engine.Props{Description: ptr(strings.Repeat("d", 1025))}, hresult.BG_E_STRING_TOO_LONG},
		"ACL flags":              {engine.Props{ACLFlags: ptr(uint32(16))}, hresult.E_INVALIDARG},
	}
	for name, c := range refused {
		if err := h.m.Set(ctx, j.ID, c.p); !hresult.Is(err, c.code) {
			t.Errorf("%s: %v, want 0x%08x", name, err, uint32(c.code))
		}
	}

	// A custom method forces FOREGROUND for good and refuses dynamic content.
	if err := h.m.Set(ctx, j.ID, engine.Props{HTTPMethod: ptr("PUT")}); err != nil {
		t.Fatal(err)
	}
	got, _ := h.m.Get(ctx, j.ID)
	if got.Priority != engine.Foreground || got.HTTPMethod != "PUT" {
		t.Errorf("after PUT: priority %v, method %q", got.Priority, got.HTTPMethod)
	}
	if err := h.m.Set(ctx, j.ID, engine.Props{Priority: ptr(engine.Low)}); !hresult.Is(err, hresult.BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD) {
		t.Errorf("priority after a custom method: %v", err)
	}
	if err := h.m.Set(ctx, j.ID, engine.Props{Dynamic: ptr(true)}); !hresult.Is(err, hresult.BG_E_NOT_SUPPORTED_WITH_CUSTOM_HTTP_METHOD) {
		t.Errorf("dynamic with a custom method: %v", err)
	}

	// Write-only headers are never read back, but kept.
	h.m.Set(ctx, j.ID, engine.Props{CustomHeaders: ptr("X-Token: abc\r\nX-Other: 1"), MakeHeadersWriteOnly: true})
	if got, _ := h.m.Get(ctx, j.ID); got.CustomHeaders != "" || !got.HeadersWriteOnly {
		t.Errorf("write-only headers read back: %q", got.CustomHeaders)
	}

	// After the first Resume the method is read-only.
	j2, _ := h.m.Create(ctx, "s2", engine.Download)
	h.m.AddFile(ctx, j2.ID, "http://127.0.0.1:9/f", filepath.Join(h.dir, "g"))
	h.m.Resume(ctx, j2.ID)
	h.m.Suspend(ctx, j2.ID)
	if err := h.m.Set(ctx, j2.ID, engine.Props{HTTPMethod: ptr("POST")}); !hresult.Is(err, hresult.BG_E_READ_ONLY_PROPERTY_AFTER_RESUME) {
		t.Errorf("method after Resume: %v", err)
	}
}

func TestReplaceRemotePrefixAndValidation(t *testing.T) {
	h := start(t)
	ctx := context.Background()
	content := []byte("validated content")
	o := testenv.NewOrigin(t, content)
	j, _ := h.m.Create(ctx, "p", engine.Download)
	h.m.AddFile(ctx, j.ID, "http://old.invalid/file", filepath.Join(h.dir, "p"))
	if n, err := h.m.ReplaceRemotePrefix(ctx, j.ID, "HTTP://old.invalid", o.URL("")); n != 0 || err != nil {
		t.Errorf("prefix match ignored case: %d, %v", n, err)
	}
	if n, err := h.m.ReplaceRemotePrefix(ctx, j.ID, "http://old.invalid", o.URL("")); n != 1 || err != nil {
		t.Fatalf("ReplaceRemotePrefix = %d, %v", n, err)
	}
	h.m.Resume(ctx, j.ID)
	h.waitState(j.ID, engine.Transferred)
	if err := h.m.SetValidationState(ctx, j.ID, 0, false); err != nil {
		t.Fatal(err)
	}
	got, _ := h.m.Get(ctx, j.ID)
	if got.State != engine.Error || got.Err.Code != hresult.BG_E_VALIDATION_FAILED || got.Files[0].BytesTransferred != 0 {
		t.Fatalf("after FALSE: %v %+v, %d bytes", got.State, got.Err, got.Files[0].BytesTransferred)
	}
	h.m.Resume(ctx, j.ID)
	h.waitState(j.ID, engine.Transferred)
	if err := h.m.SetValidationState(ctx, j.ID, 0, true); err != nil {
		t.Fatal(err)
	}
	h.m.Complete(ctx, j.ID)
	if b, _ := os.ReadFile(filepath.Join(h.dir, "p")); !bytes.Equal(b, content) {
		t.Errorf("content %q", b)
	}
}
