package bitsjob

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
)

// The contract between bitsjob and the PowerShell module (pwsh/BitsTransfer).
// tools/pwsh-grammar/check.mjs parses the module with the tree-sitter
// PowerShell grammar, fails on any syntax error, and dumps every bitsjob call
// and every cmdlet parameter. These tests check that dump against bitsjob's
// real command tree, against the cmdlets of spec §4 and against
// docs/powershell.md. `make pwsh-check` installs the grammar (npm ci); without
// node or the grammar the tests skip, and when CI is set they fail.

type moduleDump struct {
	Files       []string
	Functions   []moduleFunc
	Invocations []moduleCall
	CommonFlags []string
}

type moduleFunc struct {
	Name          string
	CmdletBinding map[string]any
	Parameters    []moduleParam
	Uses          []string // variables and strings its body refers to, lower case
	Calls         []string // commands it calls, lower case
}

type moduleParam struct {
	Name        string
	Type        string
	Aliases     []string
	Attributes  []map[string]any // the arguments of each [Parameter()]
	ValidateSet []string
}

// moduleCall is one run of bitsjob: its command words and flags.
type moduleCall struct {
	Function string
	File     string
	Line     int
	Words    []string
	Flags    []string
	Problem  string
}

var (
	dumpOnce sync.Once
	dump     *moduleDump
	dumpSkip string // why the grammar could not run
	dumpErr  string // why the module failed the grammar check
)

// readDump runs the grammar check once for the package.
func readDump(t *testing.T) *moduleDump {
	t.Helper()
	root := repoRoot(t)
	dumpOnce.Do(func() {
		node, err := exec.LookPath("node")
		if err != nil {
			dumpSkip = "node is not installed"
			return
		}
		tool := filepath.Join(root, "tools", "pwsh-grammar")
		if _, err := os.Stat(filepath.Join(tool, "node_modules", "web-tree-sitter")); err != nil {
			dumpSkip = "the PowerShell grammar is not installed: run make pwsh-check (npm ci in tools/pwsh-grammar)"
			return
		}
		out := filepath.Join(t.TempDir(), "dump.json")
		cmd := exec.Command(node, filepath.Join(tool, "check.mjs"), "--dump", out, filepath.Join(root, "pwsh"))
		if b, err := cmd.CombinedOutput(); err != nil {
			dumpErr = "the PowerShell grammar check failed: " + err.Error() + "\n" + string(b)
			return
		}
		b, err := os.ReadFile(out)
		if err != nil {
			dumpErr = err.Error()
			return
		}
		var d moduleDump
		if err := json.Unmarshal(b, &d); err != nil {
			dumpErr = err.Error()
			return
		}
		dump = &d
	})
	switch {
	case dumpErr != "":
		t.Fatal(dumpErr)
	case dumpSkip != "" && os.Getenv("CI") != "":
		t.Fatalf("%s (CI is set: a missing tool is a failure)", dumpSkip)
	case dumpSkip != "":
		t.Skip(dumpSkip) // only when CI is unset: CI fails above
	}
	return dump
}

// The module parses without syntax errors, and every file of it was read.
func TestModuleGrammar(t *testing.T) {
	d := readDump(t)
	var names []string
	for _, f := range d.Files {
		names = append(names, filepath.Base(f))
	}
	for _, want := range []string{"BitsTransfer.psd1", "BitsTransfer.psm1", "BitsTransfer.Tests.ps1"} {
		if !slices.Contains(names, want) {
			t.Errorf("the grammar check did not read %s (read %v)", want, names)
		}
	}
}

// Every bitsjob command and flag the module passes exists in bitsjob.
func TestModuleCallsExistingCommands(t *testing.T) {
	d := readDump(t)
	if len(d.Invocations) < 10 {
		t.Fatalf("only %d bitsjob calls found in the module", len(d.Invocations))
	}
	root := newRoot(&env{})
	for _, inv := range d.Invocations {
		where := filepath.Base(inv.File) + ":" + itoa(inv.Line) + " (" + inv.Function + ")"
		if inv.Problem != "" {
			t.Errorf("%s: %s", where, inv.Problem)
			continue
		}
		cmd := findCommand(root, inv.Words)
		if cmd == nil {
			t.Errorf("%s: bitsjob has no command %q", where, strings.Join(inv.Words, " "))
			continue
		}
		for _, f := range slices.Concat(inv.Flags, d.CommonFlags) {
			if cmd.Flags().Lookup(f) == nil && cmd.InheritedFlags().Lookup(f) == nil {
				t.Errorf("%s: bitsjob %s has no flag --%s", where, strings.Join(inv.Words, " "), f)
			}
		}
	}
	for _, c := range []string{"create", "add", "resume", "suspend", "cancel", "complete", "get", "list", "set", "watch"} {
		if !slices.ContainsFunc(d.Invocations, func(inv moduleCall) bool {
			return slices.Equal(inv.Words, []string{c})
		}) {
			t.Errorf("the module never runs bitsjob %s", c)
		}
	}
	if !slices.Contains(d.CommonFlags, "json") {
		t.Error("Invoke-Bitsjob does not pass --json")
	}
}

// findCommand walks bitsjob's command tree by command words.
func findCommand(root *cobra.Command, words []string) *cobra.Command {
	cmd := root
	for _, w := range words {
		var next *cobra.Command
		for _, c := range cmd.Commands() {
			if c.Name() == w || slices.Contains(c.Aliases, w) {
				next = c
			}
		}
		if next == nil {
			return nil
		}
		cmd = next
	}
	return cmd
}

func itoa(n int) string { return strconv.Itoa(n) }

// specParam is a cmdlet parameter of spec §4: position (-1: named only),
// mandatory, pipeline binding, aliases and parameter set.
type specParam struct {
	name      string
	position  int
	mandatory bool
	pipeline  string // "", "ByValue" or "ByPropertyName"
	aliases   []string
	set       string // "" for every set
}

func named(names ...string) []specParam {
	var out []specParam
	for _, n := range names {
		alias := ""
		n, alias, _ = strings.Cut(n, "/")
		p := specParam{name: n, position: -1}
		if alias != "" {
			p.aliases = []string{alias}
		}
		out = append(out, p)
	}
	return out
}

var bitsJobParam = specParam{name: "BitsJob", position: 0, mandatory: true, pipeline: "ByValue", aliases: []string{"b"}}

// specCmdlets are the eight cmdlets of spec §4 and their parameters.
var specCmdlets = map[string][]specParam{
	"Start-BitsTransfer": slices.Concat([]specParam{
		{name: "Source", position: 0, mandatory: true, pipeline: "ByPropertyName"},
		{name: "Destination", position: 1, pipeline: "ByPropertyName"},
	}, named("Asynchronous", "Suspended", "TransferType", "DisplayName", "Description", "Priority",
		"TransferPolicy", "Authentication", "Credential", "ProxyAuthentication", "ProxyCredential",
		"UseStoredCredential", "ProxyUsage", "ProxyList", "ProxyBypass", "RetryInterval", "RetryTimeout",
		"MaxDownloadTime", "Dynamic", "HttpMethod", "CustomHeaders", "CustomHeadersWriteOnly", "NotifyFlags",
		"NotifyCmdLine", "ACLFlags", "SecurityFlags", "CertStoreLocation", "CertStoreName", "CertHash")),
	"Get-BitsTransfer": {
		{name: "Name", position: 0, aliases: []string{"n"}, set: "ListJobsByName"},
		{name: "AllUsers", position: 1, aliases: []string{"all"}, set: "ListJobsByName"},
		{name: "JobId", position: 0, mandatory: true, pipeline: "ByPropertyName", aliases: []string{"id"}, set: "ListJobsById"},
	},
	"Set-BitsTransfer": slices.Concat([]specParam{bitsJobParam}, named("DisplayName/dn", "Priority/p",
		"Description/d", "Dynamic", "CustomHeadersWriteOnly", "HttpMethod/hm", "ProxyAuthentication/pa",
		"RetryInterval", "RetryTimeout", "MaxDownloadTime", "TransferPolicy", "ACLFlags", "SecurityFlags",
		"UseStoredCredential", "Credential/cred", "ProxyCredential/pc", "Authentication/au",
		"SetOwnerToCurrentUser/so", "ProxyUsage/pu", "ProxyList/pl", "ProxyBypass/pb", "CustomHeaders",
		"NotifyFlags", "NotifyCmdLine", "CertStoreLocation", "CertStoreName", "CertHash")),
	"Add-BitsFile": {
		{name: "BitsJob", position: 0, mandatory: true, pipeline: "ByValue"},
		{name: "Source", position: 1, mandatory: true, pipeline: "ByPropertyName"},
		{name: "Destination", position: 2, pipeline: "ByPropertyName"},
	},
	"Complete-BitsTransfer": {bitsJobParam},
	"Remove-BitsTransfer":   {bitsJobParam},
	"Suspend-BitsTransfer":  {bitsJobParam},
	"Resume-BitsTransfer":   {bitsJobParam, {name: "Asynchronous", position: -1, aliases: []string{"as"}}},
}

// Every cmdlet of spec §4 exists with every parameter, its position,
// mandatory flag, pipeline binding, aliases and parameter set; every
// parameter is used by the cmdlet (or a helper it calls); -WhatIf and
// -Confirm come with SupportsShouldProcess on all but Get-BitsTransfer.
func TestModuleCmdletsMatchSpec(t *testing.T) {
	d := readDump(t)
	funcs := map[string]moduleFunc{}
	for _, f := range d.Functions {
		funcs[strings.ToLower(f.Name)] = f
	}
	// uses is what a function and the module functions it calls refer to.
	var uses func(name string, seen map[string]bool) map[string]bool
	uses = func(name string, seen map[string]bool) map[string]bool {
		out := map[string]bool{}
		f, ok := funcs[name]
		if !ok || seen[name] {
			return out
		}
		seen[name] = true
		for _, u := range f.Uses {
			out[u] = true
		}
		for _, c := range f.Calls {
			for u := range uses(c, seen) {
				out[u] = true
			}
		}
		return out
	}
	for cmdlet, params := range specCmdlets {
		f, ok := funcs[strings.ToLower(cmdlet)]
		if !ok {
			t.Errorf("the module has no %s", cmdlet)
			continue
		}
		should := f.CmdletBinding["SupportsShouldProcess"] == true
		if want := cmdlet != "Get-BitsTransfer"; should != want {
			t.Errorf("%s: SupportsShouldProcess is %v, want %v", cmdlet, should, want)
		}
		used := uses(strings.ToLower(cmdlet), map[string]bool{})
		for _, sp := range params {
			i := slices.IndexFunc(f.Parameters, func(p moduleParam) bool {
				return strings.EqualFold(p.Name, sp.name)
			})
			if i < 0 {
				t.Errorf("%s has no -%s", cmdlet, sp.name)
				continue
			}
			p := f.Parameters[i]
			where := cmdlet + " -" + sp.name
			attrs := map[string]any{}
			if len(p.Attributes) > 1 {
				t.Errorf("%s: more than one [Parameter()]", where)
			}
			if len(p.Attributes) == 1 {
				attrs = p.Attributes[0]
			}
			pos := -1
			if v, ok := attrs["Position"].(float64); ok {
				pos = int(v)
			}
			if pos != sp.position {
				t.Errorf("%s: position %d, want %d", where, pos, sp.position)
			}
			if got := attrs["Mandatory"] == true; got != sp.mandatory {
				t.Errorf("%s: mandatory %v, want %v", where, got, sp.mandatory)
			}
			pipeline := ""
			if attrs["ValueFromPipeline"] == true {
				pipeline = "ByValue"
			}
			if attrs["ValueFromPipelineByPropertyName"] == true {
				pipeline += "ByPropertyName"
			}
			if pipeline != sp.pipeline {
				t.Errorf("%s: pipeline %q, want %q", where, pipeline, sp.pipeline)
			}
			set, _ := attrs["ParameterSetName"].(string)
			if set != sp.set {
				t.Errorf("%s: parameter set %q, want %q", where, set, sp.set)
			}
			if !slices.Equal(p.Aliases, sp.aliases) && !(len(p.Aliases) == 0 && len(sp.aliases) == 0) {
				t.Errorf("%s: aliases %v, want %v", where, p.Aliases, sp.aliases)
			}
			if !used[strings.ToLower(sp.name)] {
				t.Errorf("%s is declared but never used", where)
			}
		}
	}
	if def, _ := funcs["get-bitstransfer"].CmdletBinding["DefaultParameterSetName"].(string); def != "ListJobsByName" {
		t.Errorf("Get-BitsTransfer's default parameter set is %q", def)
	}
}

// Start-BitsTransfer's priority defaults to Foreground, unlike the API.
func TestModuleStartDefaultsToForeground(t *testing.T) {
	readDump(t)
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "pwsh", "BitsTransfer", "BitsTransfer.psm1"))
	if err != nil {
		t.Fatal(err)
	}
	start := string(src)[strings.Index(string(src), "function Start-BitsTransfer"):]
	start = start[:strings.Index(start, "\n}\n")]
	if !regexp.MustCompile(`\[string\] \$Priority = 'Foreground'`).MatchString(start) {
		t.Error("Start-BitsTransfer's -Priority does not default to Foreground")
	}
	if !strings.Contains(start, `"--priority=$Priority"`) {
		t.Error("Start-BitsTransfer does not pass its priority to bitsjob create")
	}
}

// docs/powershell.md has a row for every parameter of spec §4: Supported,
// Mapped (how) or Refused (why).
func TestModuleParametersDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "powershell.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // Cmdlet -Param -> status
	cmdlet := ""
	heading := regexp.MustCompile("^#+ `?([A-Z][a-z]+-Bits[A-Za-z]+)`?")
	row := regexp.MustCompile("^\\| `-([A-Za-z]+)` \\| (Supported|Mapped|Refused) \\|")
	for _, l := range strings.Split(string(doc), "\n") {
		if m := heading.FindStringSubmatch(l); m != nil {
			cmdlet = m[1]
		}
		if m := row.FindStringSubmatch(l); m != nil && cmdlet != "" {
			rows[cmdlet+" -"+m[1]] = m[2]
		}
	}
	for c, params := range specCmdlets {
		for _, p := range params {
			if _, ok := rows[c+" -"+p.name]; !ok {
				t.Errorf("docs/powershell.md: no row for %s -%s (Supported, Mapped or Refused)", c, p.name)
			}
		}
	}
}

// The manifest has its own GUID and exports the eight cmdlets; the format
// file is well-formed and shows the five columns Windows shows.
func TestModuleManifestAndFormat(t *testing.T) {
	dir := filepath.Join(repoRoot(t), "pwsh", "BitsTransfer")
	psd1, err := os.ReadFile(filepath.Join(dir, "BitsTransfer.psd1"))
	if err != nil {
		t.Fatal(err)
	}
	guid := regexp.MustCompile(`(?m)^\s*GUID\s*=\s*'([0-9a-fA-F-]{36})'`).FindSubmatch(psd1)
	if guid == nil {
		t.Error("BitsTransfer.psd1 has no GUID")
	} else if strings.EqualFold(string(guid[1]), "8fa5064b-8479-4c5c-86ea-0d311fe48875") {
		t.Error("BitsTransfer.psd1 uses the GUID of Microsoft's module")
	}
	for c := range specCmdlets {
		if !strings.Contains(string(psd1), "'"+c+"'") {
			t.Errorf("BitsTransfer.psd1 does not export %s", c)
		}
	}
	var cfg struct {
		Views []struct {
			Name     string   `xml:"Name"`
			Types    []string `xml:"ViewSelectedBy>TypeName"`
			Headers  []string `xml:"TableControl>TableHeaders>TableColumnHeader>Label"`
			Property []string `xml:"TableControl>TableRowEntries>TableRowEntry>TableColumnItems>TableColumnItem>PropertyName"`
		} `xml:"ViewDefinitions>View"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "BitsTransfer.Format.ps1xml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("BitsTransfer.Format.ps1xml: %v", err)
	}
	want := []string{"JobId", "DisplayName", "TransferType", "JobState", "OwnerAccount"}
	found := false
	for _, v := range cfg.Views {
		if slices.Contains(v.Types, "Microsoft.BackgroundIntelligentTransfer.Management.BitsJob") {
			found = true
			if !slices.Equal(v.Headers, want) || !slices.Equal(v.Property, want) {
				t.Errorf("BitsJob table view: headers %v, properties %v, want %v", v.Headers, v.Property, want)
			}
		}
	}
	if !found {
		t.Error("no view for Microsoft.BackgroundIntelligentTransfer.Management.BitsJob")
	}
}
