package bitsadmin

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestTranslate(t *testing.T) {
	sw := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name string
		argv []string
		want call
		err  error
	}{
		{name: "no arguments", argv: nil, err: errNoCommand},
		{name: "prefixes only", argv: []string{"/RAWRETURN", "/nowrap"}, want: call{raw: true, wrap: "/NOWRAP"}, err: errNoCommand},
		{name: "unknown verb", argv: []string{"/frobnicate", "x"}, err: errInvalidCommand},
		{name: "verb without slash is unknown", argv: []string{"create", "x"}, err: errInvalidCommand},
		{name: "create", argv: []string{"/create", "job"},
			want: call{verb: "/CREATE", sw: sw(), args: []string{"job"}}},
		{name: "verb and switch in any case", argv: []string{"/CrEaTe", "/UpLoAd", "job"},
			want: call{verb: "/CREATE", sw: sw("/UPLOAD", ""), args: []string{"job"}}},
		{name: "upload-reply", argv: []string{"/create", "/upload-reply", "job"},
			want: call{verb: "/CREATE", sw: sw("/UPLOAD-REPLY", ""), args: []string{"job"}}},
		{name: "a second type switch is a name", argv: []string{"/create", "/download", "/Download"},
			want: call{verb: "/CREATE", sw: sw("/DOWNLOAD", ""), args: []string{"/Download"}}},
		{name: "conflicting type switches", argv: []string{"/create", "/download", "/upload", "job"}, err: errArgCount},
		{name: "create without name", argv: []string{"/create"}, err: errArgCount},
		{name: "create with two names", argv: []string{"/create", "a", "b"}, err: errArgCount},
		{name: "all prefixes", argv: []string{"/rawreturn", "/wrap", "/getstate", "job"},
			want: call{raw: true, wrap: "/WRAP", verb: "/GETSTATE", sw: sw(), args: []string{"job"}}},
		{name: "last wrap prefix wins", argv: []string{"/WRAP", "/NoWrap", "/list"},
			want: call{wrap: "/NOWRAP", verb: "/LIST", sw: sw()}},
		{name: "prefix after the verb is the job", argv: []string{"/getstate", "/rawreturn"},
			want: call{verb: "/GETSTATE", sw: sw(), args: []string{"/rawreturn"}}},
		{name: "prefix after the verb is not a prefix", argv: []string{"/getstate", "/rawreturn", "job"}, err: errArgCount},
		{name: "prefix after list is an argument", argv: []string{"/list", "/rawreturn"}, err: errArgCount},
		{name: "info verbose", argv: []string{"/info", "job", "/VERBOSE"},
			want: call{verb: "/INFO", sw: sw("/VERBOSE", ""), args: []string{"job"}}},
		{name: "info job named like a switch", argv: []string{"/info", "/verbose"},
			want: call{verb: "/INFO", sw: sw(), args: []string{"/verbose"}}},
		{name: "info verbose before the job", argv: []string{"/info", "/verbose", "job"}, err: errArgCount},
		{name: "list switches in any order", argv: []string{"/list", "/verbose", "/AllUsers"},
			want: call{verb: "/LIST", sw: sw("/VERBOSE", "", "/ALLUSERS", "")}},
		{name: "list repeated switch", argv: []string{"/list", "/verbose", "/verbose"}, err: errArgCount},
		{name: "list unknown switch", argv: []string{"/list", "/bogus"}, err: errArgCount},
		{name: "addfile with unix paths", argv: []string{"/addfile", "job", "http://h/a.iso", "/home/a.iso"},
			want: call{verb: "/ADDFILE", sw: sw(), args: []string{"job", "http://h/a.iso", "/home/a.iso"}}},
		{name: "transfer name is always the first token", argv: []string{"/transfer", "/Download", "/priority", "Foreground", "http://h/x", "/home/x"},
			want: call{verb: "/TRANSFER", sw: sw("/PRIORITY", "Foreground"), args: []string{"/Download", "http://h/x", "/home/x"}}},
		{name: "transfer with every switch", argv: []string{"/TRANSFER", "j", "/upload", "/ACLFLAGS", "og", "/dynamic", "/Priority", "low", "http://h/x", "/tmp/x"},
			want: call{verb: "/TRANSFER", sw: sw("/UPLOAD", "", "/ACLFLAGS", "og", "/DYNAMIC", "", "/PRIORITY", "low"), args: []string{"j", "http://h/x", "/tmp/x"}}},
		{name: "transfer several pairs", argv: []string{"/transfer", "j", "http://h/a", "/a", "http://h/b", "/b"},
			want: call{verb: "/TRANSFER", sw: sw(), args: []string{"j", "http://h/a", "/a", "http://h/b", "/b"}}},
		{name: "switches end at the first file", argv: []string{"/transfer", "j", "http://h/a", "/download"},
			want: call{verb: "/TRANSFER", sw: sw(), args: []string{"j", "http://h/a", "/download"}}},
		{name: "transfer odd file list", argv: []string{"/transfer", "j", "http://h/a", "/a", "http://h/b"}, err: errArgCount},
		{name: "transfer without files", argv: []string{"/transfer", "j"}, err: errArgCount},
		{name: "transfer switch without value", argv: []string{"/transfer", "j", "/priority"}, err: errArgCount},
		{name: "help", argv: []string{"/?"}, want: call{verb: "/?", sw: sw()}},
		{name: "-h is /?", argv: []string{"-h"}, want: call{verb: "/?", sw: sw()}},
		{name: "--help is /?", argv: []string{"/rawreturn", "--help"}, want: call{verb: "/?", sw: sw(), raw: true}},
		{name: "-h with more is unknown", argv: []string{"-h", "x"}, err: errInvalidCommand},
		{name: "help takes nothing", argv: []string{"/help", "x"}, err: errArgCount},
		{name: "monitor switches", argv: []string{"/monitor", "/REFRESH", "2", "/allusers"},
			want: call{verb: "/MONITOR", sw: sw("/REFRESH", "2", "/ALLUSERS", "")}},
		{name: "monitor refresh without seconds", argv: []string{"/monitor", "/refresh"}, err: errArgCount},
		{name: "a group takes its command as arguments", argv: []string{"/rawreturn", "/Util", "/version", "/verbose"},
			want: call{raw: true, verb: "/UTIL", sw: sw(), args: []string{"/version", "/verbose"}}},
		{name: "notify command line words", argv: []string{"/setnotifycmdline", "j", "/bin/prog", "prog", "/tmp/x"},
			want: call{verb: "/SETNOTIFYCMDLINE", sw: sw(), args: []string{"j", "/bin/prog", "prog", "/tmp/x"}}},
		{name: "helper token takes at most an account and a password", argv: []string{"/sethelpertoken", "j", "a", "p", "x"}, err: errArgCount},
		{name: "setter", argv: []string{"/SetMinRetryDelay", "{00000000-0000-4000-8000-000000000001}.", "60"},
			want: call{verb: "/SETMINRETRYDELAY", sw: sw(), args: []string{"{00000000-0000-4000-8000-000000000001}.", "60"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := translate(tt.argv)
			if err != tt.err {
				t.Fatalf("translate(%q) error = %v, want %v", tt.argv, err, tt.err)
			}
			if err != nil {
				if got.raw != tt.want.raw {
					t.Errorf("translate(%q) raw = %v on error, want %v", tt.argv, got.raw, tt.want.raw)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("translate(%q) =\n%#v\nwant\n%#v", tt.argv, got, tt.want)
			}
		})
	}
}

// Every verb in the tables can be found by its own name, and every verb's
// grammar accepts a call with its minimum of arguments.
func TestVerbTable(t *testing.T) {
	for group, table := range map[string][]verb{"": verbs, "/UTIL": utilVerbs, "/CACHE": cacheVerbs,
		"/PEERS": peersVerbs, "/PEERCACHING": peerCachingVerbs} {
		seen := map[string]bool{}
		for _, v := range table {
			if seen[v.name] {
				t.Errorf("verb %s %s listed twice", group, v.name)
			}
			seen[v.name] = true
			if got, ok := lookupIn(table, v.name); !ok || got.name != v.name {
				t.Errorf("lookupIn(%s, %s) = %v, %v", group, v.name, got, ok)
			}
			argv := []string{v.name}
			for range v.grammar.min {
				argv = append(argv, "x")
			}
			if _, err := parseCall(table, argv, errInvalidCommand); err != nil {
				t.Errorf("parseCall(%s, %q) = %v", group, argv, err)
			}
		}
	}
}

// docs/bitsadmin.md has a row for every verb and every command of a group,
// so a verb added to a table without its documentation fails here.
func TestDocsHaveEveryVerb(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "bitsadmin.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.ToUpper(string(b))
	for prefix, table := range map[string][]verb{"": verbs, "/UTIL ": utilVerbs, "/CACHE ": cacheVerbs,
		"/PEERS ": peersVerbs, "/PEERCACHING ": peerCachingVerbs} {
		for _, v := range table {
			if !strings.Contains(doc, "\n| `"+prefix+v.name) {
				t.Errorf("docs/bitsadmin.md has no row for %s%s", prefix, v.name)
			}
		}
	}
}
