package bitsjob

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// importFixture creates jobs that carry every setting import maps back,
// in the harness's store.
func importFixture(h *harness) {
	h.t.Helper()
	h.source("up")
	h.must("create", "--name", "every setting", "--description", "all of them", "--priority", "high",
		"--retry-interval", "90", "--retry-timeout", "3600", "--max-download-time", "2h",
		"--notify-flags", "0x2", "--notify-cmdline", "/usr/bin/logger", "--notify-cmdline", "job done",
		"--proxy-usage", "override", "--proxy-list", "p1:8080 p2:8080", "--proxy-bypass", "localhost",
		"--custom-header", "X-A: 1", "--custom-header", "X-B: 2",
		"--security-flags", "0x108", "--acl-flags", "og", "--peer-caching-flags", "1",
		"--helper-token", "alice", "--helper-token-flags", "3", "--transfer-policy", "BelowCap, NearCap",
		"--max-bandwidth", "800", "--cert-store-location", "LOCAL_MACHINE", "--cert-store-name", "MY",
		"--cert-subject", "client.example",
		"http://127.0.0.1/a.iso", "$DIR/a.iso", "http://127.0.0.1/b.iso", "$DIR/b.iso")
	h.must("add", "every setting", "--ranges", "0:100,200:eof", "http://127.0.0.1/c.bin", "$DIR/c.part")
	h.must("create", "--name", "method", "--http-method", "PUT", "--cert-store-name", "ROOT",
		"--cert-hash", "00112233445566778899AABBCCDDEEFF00112233", "http://127.0.0.1/m", "$DIR/m")
	h.must("create", "--name", "dynamic", "--dynamic", "--proxy-usage", "NoProxy", "http://127.0.0.1/d", "$DIR/d")
	h.must("create", "--name", "hidden headers", "--custom-header", "X-Token: secret", "--custom-headers-write-only")
	h.must("create", "--name", "up", "--type", "upload", "--priority", "low", "http://127.0.0.1/up", "$DIR/up")
	h.must("create", "--name", "reply", "--type", "UploadReply", "--reply-file", "$DIR/reply",
		"http://127.0.0.1/up", "$DIR/up")
	h.must("create", "--name", "default")
	h.stdin = "s3cret\n"
	h.must("set", "default", "--credential", "server:basic", "--user", "bob", "--password-stdin")
}

// A store's list --json imports into another store and lists the same
// there: every setting is carried, the GUIDs are kept, and only what JSON
// never shows (credentials) is lost.
func TestImportRoundTripsListJSON(t *testing.T) {
	a := newHarness(t)
	importFixture(a)
	list := a.must("list", "--json")
	file := filepath.Join(a.dir, "jobs.ndjson")
	if err := os.WriteFile(file, []byte(list), 0o600); err != nil {
		t.Fatal(err)
	}

	b := newHarness(t)
	out, errs, code := b.run("import", file)
	if code != 0 || errs != "" || out != "7 jobs created, 0 refused\n" {
		t.Fatalf("import: exit %d\n%s%s", code, out, errs)
	}
	// Credentials are never printed, so they cannot be carried.
	want := strings.Replace(list, `"Credentials":[{"Target":"Server","Scheme":"Basic"}]`, `"Credentials":[]`, 1)
	if got := b.must("list", "--json"); got != want {
		t.Errorf("the imported store lists differently:\n%s", lineDiff(want, got))
	}

	// With --new-ids the jobs are the same but for their GUIDs.
	c := newHarness(t)
	c.must("create", "--name", "already there")
	if out, errs, code := c.run("import", "--new-ids", file); code != 0 {
		t.Fatalf("import --new-ids: exit %d\n%s%s", code, out, errs)
	}
	got := c.must("list", "--json")
	_, got, _ = strings.Cut(got, "\n") // the job that was there
	if strip := func(s string) string { return jobIDs.ReplaceAllString(s, "") }; strip(got) != strip(want) {
		t.Errorf("import --new-ids lists differently:\n%s", lineDiff(strip(want), strip(got)))
	}
	if strings.Contains(got, id(1)) {
		t.Error("import --new-ids kept a GUID")
	}
}

var jobIDs = regexp.MustCompile(`"JobId":"[0-9a-f-]{36}"`)

// lineDiff shows the first line that differs.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "want: " + wl + "\ngot:  " + gl
		}
	}
	return "(same)"
}

// Every job of an import is whole or absent: refused lines are reported
// with their line number and leave nothing, the rest are created.
func TestGoldenImport(t *testing.T) {
	h := newHarness(t)
	h.must("create", "--name", "existing")
	lines := []string{
		`{"DisplayName":"minimal","FileList":[{"RemoteName":"http://127.0.0.1/a","LocalName":"$DIR/a"}]}`,
		``,
		`{"DisplayName":"not json"`,
		`{"DisplayName":"misspelt","Priorty":"Low"}`,
		`{"DisplayName":"bad value","Priority":"urgent"}`,
		`{"JobId":"` + id(1) + `","DisplayName":"same GUID"}`,
		`{"DisplayName":"bad last file","FileList":[{"RemoteName":"http://127.0.0.1/b","LocalName":"$DIR/b"},{"RemoteName":"http://127.0.0.1/c","LocalName":"$DIR/no/c"}]}`,
		`{"DisplayName":"custom method","TransferType":"Upload","HttpMethod":"PUT","Priority":"Low"}`,
		`{"JobId":"0a000000-0000-4000-8000-000000000001","DisplayName":"kept GUID","TransferType":"Upload","Priority":"Low","JobState":"Error","BytesTransferred":5}`,
		`{"SchemaVersion":2,"DisplayName":"from the future"}`,
		`{"DisplayName":"rounded by jq","BytesTotal":18446744073709552000,"JobState":"Transferred","FileList":[{"RemoteName":"http://127.0.0.1/r","LocalName":"$DIR/r","BytesTotal":1.8e19,"IsTransferComplete":"yes"}]}`,
	}
	writeInput(t, h, "jobs.ndjson", lines)
	h.record("import", "$DIR/jobs.ndjson")
	h.record("import", "--json", "--resume", "--priority", "high", "$DIR/jobs.ndjson")
	writeInput(t, h, "urls.txt", []string{
		"# an aria2 input file",
		"http://127.0.0.1/files/one.iso",
		"http://127.0.0.1/files/two.iso",
		"  dir=$DIR",
		"\tout=second.iso",
		"",
		"http://127.0.0.1/three.iso\thttp://127.0.0.2/three.iso",
		"http://127.0.0.1/four.iso",
		"  checksum=sha-1=0123",
		"http://127.0.0.1/",
		"http://127.0.0.1/five%20six.iso",
		"  dir=$DIR/no",
	})
	h.stdin = "  dir=/tmp\n"
	h.record("import", "--format", "aria2", "-")
	t.Chdir(h.dir)
	h.record("import", "urls.txt")
	h.record("import", "--format", "csv", "urls.txt")
	h.record("import", "$DIR/missing.txt")
	h.record("list")
	h.check("import")
}

func writeInput(t *testing.T, h *harness, name string, lines []string) {
	t.Helper()
	body := h.expand([]string{strings.Join(lines, "\n") + "\n"})[0]
	if err := os.WriteFile(filepath.Join(h.dir, name), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// import --json prints one line per job created, with its GUID and line.
func TestImportJSONNamesEachJob(t *testing.T) {
	h := newHarness(t)
	writeInput(t, h, "jobs.ndjson", []string{`{"DisplayName":"a"}`, `{"Priority":"no"}`, `{"DisplayName":"b"}`})
	out, _, code := h.run("import", "--json", "$DIR/jobs.ndjson")
	if code != exitFailed {
		t.Errorf("exit %d with a line refused", code)
	}
	var got []importedJSON
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var v importedJSON
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if len(got) != 2 || got[0].Line != 1 || got[1].Line != 3 || got[0].JobId != id(1) || got[1].JobId != id(2) {
		t.Errorf("import --json printed %+v", got)
	}
}

// Every setting create takes as a flag is read back from a job's JSON by
// import, so a new setting cannot be left out of the round trip.
func TestImportReadsEverySettingFlag(t *testing.T) {
	fs := pflag.NewFlagSet("create", pflag.ContinueOnError)
	var s settings
	s.register(fs)
	mapped := map[string]bool{"remove-client-cert": true} // an action, not a value JSON shows
	for _, js := range jsonSettings {
		mapped[js.flag] = true
	}
	fs.VisitAll(func(f *pflag.Flag) {
		if !mapped[f.Name] {
			t.Errorf("--%s has no field in import's jsonSettings", f.Name)
		}
	})
}
