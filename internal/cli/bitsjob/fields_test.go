package bitsjob

import (
	"cmp"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"bits/engine"
)

// The JSON field names are a contract with the BitsTransfer module and with
// scripts: PowerShell's property names. These lists fail the build of a
// change that drops or renames one. Adding a field means adding it here and
// to docs/json.md; removing one means raising SchemaVersion.

// psJobProperties are the properties of PowerShell's BitsJob (spec §4.7).
var psJobProperties = []string{
	"JobId", "DisplayName", "Description", "TransferType", "JobState", "OwnerAccount", "Priority",
	"TransferPolicy", "RetryInterval", "RetryTimeout", "TransientErrorCount", "ProxyUsage", "ProxyList",
	"ProxyBypassList", "ErrorContext", "ErrorCondition", "InternalErrorCode", "ErrorDescription",
	"ErrorContextDescription", "BytesTotal", "BytesTransferred", "FilesTotal", "FilesTransferred",
	"CreationTime", "ModificationTime", "TransferCompletionTime", "FileList",
}

// settingProperties are the job's other settings, named after the cmdlet
// parameters that set them.
var settingProperties = []string{
	"MaxDownloadTime", "HttpMethod", "CustomHeaders", "CustomHeadersWriteOnly", "NotifyFlags",
	"NotifyCmdLine", "ACLFlags", "SecurityFlags", "Dynamic", "CertStoreLocation", "CertStoreName", "CertHash",
}

// bitsjobProperties are settings PowerShell has no name for.
var bitsjobProperties = []string{
	"SchemaVersion", "PeerCachingFlags", "CertSubject", "HelperTokenAccount", "HelperTokenFlags",
	"ReplyFileName", "Credentials",
}

// optionalProperties appear only when they have a value (omitempty): the
// error's detail, a file's verified digest, the SHA-256 its user gave.
var optionalProperties = []string{"ErrorDetail", "VerifiedDigest", "Sha256"}

// psFileProperties are the properties of a BitsFile.
var psFileProperties = []string{"RemoteName", "LocalName", "BytesTotal", "BytesTransferred", "IsTransferComplete"}

var bitsjobFileProperties = []string{"TemporaryName", "ValidationState", "FileRanges"}

// fullJob returns the JSON of a job with every setting set, a file with
// ranges and credentials, as bitsjob get --json prints it.
func fullJob(t *testing.T) map[string]any {
	t.Helper()
	h := newHarness(t)
	h.must("create", "--name", "full", "--priority", "high", "--transfer-policy", "Standard",
		"--notify-cmdline", "/bin/echo", "--notify-cmdline", "done",
		"--proxy-usage", "override", "--proxy-list", "p1:8080", "--proxy-bypass", "<local>",
		"--custom-header", "X-A: 1", "--cert-store-location", "CURRENT_USER", "--cert-store-name", "MY",
		"--cert-hash", strings.Repeat("AB", 20), "--helper-token", "alice", "--acl-flags", "ogds",
		"http://127.0.0.1/a", "$DIR/a")
	h.must("add", "full", "--ranges", "0:10", "http://127.0.0.1/b", "$DIR/b")
	h.stdin = "pw\n"
	h.must("set", "full", "--credential", "server:basic", "--user", "u", "--password-stdin")
	out := h.must("get", "--json", "full")
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return v
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestJSONFieldNames(t *testing.T) {
	job := fullJob(t)
	for _, name := range slices.Concat(psJobProperties, settingProperties, bitsjobProperties) {
		if _, ok := job[name]; !ok {
			t.Errorf("the job JSON has no %s", name)
		}
	}
	want := slices.Sorted(slices.Values(slices.Concat(psJobProperties, settingProperties, bitsjobProperties)))
	if got := keys(job); !slices.Equal(got, want) {
		t.Errorf("job fields changed: add new ones to the lists above and to docs/json.md\n got %v\nwant %v", got, want)
	}
	if job["SchemaVersion"] != float64(SchemaVersion) {
		t.Errorf("SchemaVersion = %v", job["SchemaVersion"])
	}
	files, _ := job["FileList"].([]any)
	if len(files) != 2 {
		t.Fatalf("FileList = %v", job["FileList"])
	}
	for _, f := range files {
		file := f.(map[string]any)
		wantFile := slices.Sorted(slices.Values(slices.Concat(psFileProperties, bitsjobFileProperties)))
		if got := keys(file); !slices.Equal(got, wantFile) {
			t.Errorf("file fields changed\n got %v\nwant %v", got, wantFile)
		}
	}
	// What PowerShell shows: enum names, GUIDs without braces, RFC 3339 UTC times.
	for field, want := range map[string]any{
		"JobId": "ab000000-0000-4000-8000-000000000001", "JobState": "Suspended", "TransferType": "Download",
		"Priority": "High", "ProxyUsage": "Override", "TransferPolicy": "Standard", "ErrorCondition": "NoError",
		"ErrorContext": "None", "CreationTime": "2024-03-05T14:07:09Z", "TransferCompletionTime": nil,
		"CertStoreLocation": "CURRENT_USER", "ACLFlags": float64(15),
	} {
		if job[field] != want {
			t.Errorf("%s = %#v, want %#v", field, job[field], want)
		}
	}
	if got := job["NotifyCmdLine"].([]any); len(got) != 2 || got[0] != "/bin/echo" || got[1] != "done" {
		t.Errorf("NotifyCmdLine = %v", got)
	}
}

// Credentials are never printed: only which target and scheme are set.
func TestJSONHasNoSecrets(t *testing.T) {
	job := fullJob(t)
	b, _ := json.Marshal(job)
	if strings.Contains(string(b), `"pw"`) || strings.Contains(string(b), `"u"`) {
		t.Errorf("a credential appears in the JSON: %s", job["Credentials"])
	}
	creds := job["Credentials"].([]any)
	if len(creds) != 1 || creds[0].(map[string]any)["Target"] != "Server" || creds[0].(map[string]any)["Scheme"] != "Basic" {
		t.Errorf("Credentials = %v", creds)
	}
}

// Every field bitsjob prints is described in docs/json.md.
func TestJSONFieldsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "json.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Za-z0-9]+)`").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	var all []string
	all = slices.Concat(psJobProperties, settingProperties, bitsjobProperties, psFileProperties, bitsjobFileProperties, optionalProperties)
	all = append(all, fieldNames(errorBody{})...)
	all = append(all, fieldNames(eventJSON{})...)
	all = append(all, fieldNames(rangeJSON{})...)
	all = append(all, fieldNames(credentialJSON{})...)
	all = append(all, fieldNames(serviceJSON{})...)
	all = append(all, fieldNames(serviceStatusJSON{})...)
	all = append(all, fieldNames(importedJSON{})...)
	all = append(all, "Error", "Warning", "Version")
	for _, name := range all {
		if !documented[name] {
			t.Errorf("docs/json.md has no row for `%s`", name)
		}
	}
}

func fieldNames(v any) []string {
	b, _ := json.Marshal(v)
	var m map[string]any
	json.Unmarshal(b, &m)
	// omitempty fields are gone from the zero value: name them from the type.
	out := keys(m)
	switch v.(type) {
	case errorBody:
		out = append(out, "Detail", "Action", "Job", "Input")
	case serviceJSON:
		out = append(out, "StateFolder")
	case serviceStatusJSON:
		out = append(out, "StateFolder", "Linger", "WorkerPID")
	}
	return out
}

// repoRoot is the folder of go.mod: three folders above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root := filepath.Join(filepath.Dir(testdata), "..", "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("no go.mod at %s: %v", root, err)
	}
	return filepath.Clean(root)
}

// Every setting of one value shows in the JSON under its name: set through
// create's flag to a value a new job does not have, its field differs from
// a new job's. A setting declared in the engine but left out of toJSON or
// appendJob fails here (the round trip of import would not see it: both
// stores would print the default).
func TestEverySettingShowsInJSON(t *testing.T) {
	sample := map[engine.Kind]string{
		engine.KindText: "sample", engine.KindPath: "/srv/reply.bin", engine.KindSeconds: "4242",
		engine.KindNumber: "1", engine.KindPriority: "High", engine.KindACL: "o",
		engine.KindCost: "Roaming", engine.KindBool: "true", engine.KindKbps: "800",
	}
	value := map[string]string{"HttpMethod": "PUT", "NotifyFlags": "2"} // what those settings accept
	typeOf := map[string]string{"ReplyFileName": "UploadReply"}         // else Download
	h := newHarness(t)
	newJob := map[string]map[string]json.RawMessage{}
	for _, typ := range []string{"Download", "UploadReply"} {
		newJob[typ] = fieldsOf(t, h.must("create", "--json", "--type", typ, "--name", "plain"))
	}
	n := 0
	for _, s := range engine.Settings() {
		if s.Kind == engine.KindCompound || s.Flag == "" {
			continue
		}
		v := cmp.Or(value[s.Name], sample[s.Kind])
		if v == "" {
			t.Fatalf("no sample value for %s (kind %d)", s.Name, s.Kind)
		}
		typ := cmp.Or(typeOf[s.Name], "Download")
		got := fieldsOf(t, h.must("create", "--json", "--type", typ, "--name", "plain", "--"+s.Flag+"="+v))
		if _, ok := got[s.Name]; !ok {
			t.Errorf("%s is not a field of the JSON", s.Name)
		} else if string(got[s.Name]) == string(newJob[typ][s.Name]) {
			t.Errorf("--%s=%s: the JSON's %s is %s, as a new job's", s.Flag, v, s.Name, got[s.Name])
		}
		n++
	}
	if n < 10 {
		t.Errorf("only %d settings checked", n)
	}
}

func fieldsOf(t *testing.T, line string) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("%v\n%s", err, line)
	}
	return m
}
