package bitsjob

import (
	"slices"
	"testing"
	"time"

	"bits/engine"
)

func TestCommandLineRoundTrip(t *testing.T) {
	for _, args := range [][]string{
		{"/usr/bin/notify"},
		{"/usr/bin/notify", "job done"},
		{"/opt/my tools/notify", "a", "", "b c"},
		{`C:\dir\prog.exe`, `C:\dir with space\`, `trailing\\`},
		{"prog", `say "hi"`, `a\"b`, `"`, `\`, `\\"`},
		{"prog", "tab\there", "x y\\"},
	} {
		line := joinCommandLine(args)
		if got := engine.SplitCommandLine(line); !slices.Equal(got, args) {
			t.Errorf("join %q = %q, split back %q", args, line, got)
		}
		if got := notifyCmdLine(args[0], line); !slices.Equal(got, args) {
			t.Errorf("notifyCmdLine(%q) = %q", line, got)
		}
	}
}

func TestMatchName(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "", true}, {"*", "any/thing", true}, {"night*", "Nightly backup", true},
		{"*BACK*", "nightly backup", true}, {"n?ght", "night", true}, {"n?ght", "nght", false},
		{"a[b]", "a[b]", true}, {"a[b]", "ab", false}, {"**x***", "yx", true}, {"x", "xx", false},
	} {
		if got := matchName(c.pattern, c.name); got != c.want {
			t.Errorf("matchName(%q, %q) = %v", c.pattern, c.name, got)
		}
	}
}

func TestParseValues(t *testing.T) {
	for s, want := range map[string]uint32{"o": 1, "OG": 3, "d,s": 12, "ogds": 15, "0x3": 3, "5": 5} {
		if got, err := parseACLFlags(s); err != nil || got != want {
			t.Errorf("parseACLFlags(%q) = %d, %v", s, got, err)
		}
	}
	if _, err := parseACLFlags("ox"); err == nil {
		t.Error("parseACLFlags accepted x")
	}
	for s, want := range map[string]time.Duration{"600": 600 * time.Second, "5m": 5 * time.Minute, "0": 0} {
		if got, err := parseSeconds(s); err != nil || got != want {
			t.Errorf("parseSeconds(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"-1", "soon", "-5m"} {
		if _, err := parseSeconds(s); err == nil {
			t.Errorf("parseSeconds(%q) accepted", s)
		}
	}
	for s, want := range map[string]engine.ProxyUsage{"SystemDefault": engine.ProxyPreconfig, "preconfig": engine.ProxyPreconfig,
		"NoProxy": engine.ProxyNone, "no_proxy": engine.ProxyNone, "override": engine.ProxyOverride, "AutoDetect": engine.ProxyAutodetect} {
		if got, err := parseProxyUsage(s); err != nil || got != want {
			t.Errorf("parseProxyUsage(%q) = %v, %v", s, got, err)
		}
	}
	for s, want := range map[string]engine.JobType{"download": engine.Download, "Upload": engine.Upload,
		"UploadReply": engine.UploadReply, "upload-reply": engine.UploadReply} {
		if got, err := parseJobType(s); err != nil || got != want {
			t.Errorf("parseJobType(%q) = %v, %v", s, got, err)
		}
	}
	if g, ok := parseJobGUID("ab000000-0000-4000-8000-000000000001"); !ok || g != "{AB000000-0000-4000-8000-000000000001}" {
		t.Errorf("parseJobGUID = %q, %v", g, ok)
	}
	if _, ok := parseJobGUID("nightly"); ok {
		t.Error("a name parsed as a GUID")
	}
}

func TestProgressBar(t *testing.T) {
	j := &engine.Job{State: engine.Transferring, Files: []engine.File{{LocalName: "/dl/big.iso", BytesTotal: 4 << 20, BytesTransferred: 1 << 20}}}
	if got, want := bar(j, 10, 1<<20), "[==>       ]  25%  big.iso  1.0 MiB / 4.0 MiB  1.0 MiB/s  3s left  Transferring"; got != want {
		t.Errorf("bar = %q, want %q", got, want)
	}
	if got, want := bar(j, 10, 0), "[==>       ]  25%  big.iso  1.0 MiB / 4.0 MiB  Transferring"; got != want {
		t.Errorf("bar = %q, want %q", got, want)
	}
	j = &engine.Job{State: engine.Queued, Files: []engine.File{{BytesTotal: engine.SizeUnknown}}}
	if got, want := bar(j, 4, 0), "[>   ]   0%  0 B / ?  Queued"; got != want {
		t.Errorf("bar = %q, want %q", got, want)
	}
	j = &engine.Job{State: engine.Acknowledged}
	if got, want := bar(j, 4, 0), "[====] 100%  0 B / 0 B  Acknowledged"; got != want {
		t.Errorf("bar = %q, want %q", got, want)
	}
}
