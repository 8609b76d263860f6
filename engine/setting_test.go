package engine

import "testing"

// TestSettingsDeclared checks that each setting of the table has what Set,
// storage and the front ends ask of it.
func TestSettingsDeclared(t *testing.T) {
	names, flags, verbs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, s := range Settings() {
		if s.apply == nil || s.load == nil || s.store == nil {
			t.Errorf("%s: no rule or no columns", s.Name)
		}
		if s.Kind != KindCompound && (s.value == nil || s.set == nil) {
			t.Errorf("%s: a setting of one value without accessors", s.Name)
		}
		if s.Kind == KindCompound && (s.Flag != "" || s.Verb != "") {
			t.Errorf("%s: a compound setting has no flag or verb of its own", s.Name)
		}
		for _, n := range []struct {
			seen map[string]bool
			name string
		}{{names, s.Name}, {flags, s.Flag}, {verbs, s.Verb}} {
			if n.name != "" && n.seen[n.name] {
				t.Errorf("%q declared twice", n.name)
			}
			n.seen[n.name] = true
		}
		if s.Verb != "" && s.SetHelp != "" && (s.Action == "" || s.Done == "" || s.SetSyntax == "") {
			t.Errorf("%s: /SET%s without its texts", s.Name, s.Verb)
		}
	}
}

// TestSettingsRoundTrip checks that every setting a job has comes back from
// its storage row as it went in.
func TestSettingsRoundTrip(t *testing.T) {
	j := NewJobTemplate(UploadReply)
	j.ID, j.DisplayName, j.Description = "ID", "name", "description"
	j.Priority, j.MinRetryDelay, j.NoProgressTimeout, j.MaxDownloadTime = Low, 61e9, 62e9, 63e9
	j.NotifyFlags, j.NotifyProgram, j.NotifyParameters = 5, "/bin/p", "p a"
	j.ProxyUsage, j.ProxyList, j.ProxyBypassList = ProxyOverride, "p:1", "b"
	j.CustomHeaders, j.HeadersWriteOnly, j.HTTPMethod = "A: b", true, "PUT"
	j.SecurityFlags, j.ACLFlags, j.PeerCachingFlags = 0x800, 3, 1
	j.ClientCert = &ClientCert{StoreLocation: 1, StoreName: "MY", Hash: []byte{1, 2}}
	j.HelperToken, j.HelperTokenFlags, j.ReplyFileName = "u", 2, "/r"
	j.Dynamic, j.TransferPolicy, j.MaxBandwidth = true, 7, 100
	got := fromRow(toRow(j), nil)
	for _, s := range Settings() {
		if s.Kind != KindCompound && s.Value(got) != s.Value(j) {
			t.Errorf("%s: %v, want %v", s.Name, s.Value(got), s.Value(j))
		}
	}
	if got.NotifyParameters != j.NotifyParameters || got.ProxyBypassList != j.ProxyBypassList || !got.HeadersWriteOnly ||
		got.ClientCert == nil || string(got.ClientCert.Hash) != string(j.ClientCert.Hash) {
		t.Errorf("compound settings: %+v", got)
	}
}
