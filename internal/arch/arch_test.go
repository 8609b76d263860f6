package arch

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

// A rule says that the packages matching from never import those matching
// to. Patterns are import paths without "bits/": "x/..." matches x and every
// package under it, "..." every package of the module. Imports within the
// from pattern are not judged (storage may have packages of its own).
type rule struct {
	from, to string
	why      string
}

// never holds for everything a package's non-test files reach, directly or
// through other packages, and for what its test files import directly.
var never = []rule{
	{"storage/...", "...", "storage knows rows, not jobs: it imports nothing of the project"},
	{"hresult", "...", "hresult is a leaf that every layer shares"},
	{"internal/uploadproto", "...", "the upload protocol's words are a leaf that client and server share"},
	{"internal/writeback", "...", "writeback is a leaf that the engine and the upload server share"},
	{"internal/version", "...", "the version is a leaf that the three programs share"},
	{"engine/...", "internal/cli/...", "the engine never imports a front end"},
	{"engine/...", "internal/dbusapi/...", "the engine never imports a front end"},
	{"engine/transport/...", "engine", "transports know nothing of jobs"},
	{"engine/transport/...", "storage/...", "transports know nothing of the store"},
	{"engine/netpolicy/...", "storage/...", "netpolicy knows nothing of jobs or storage"},
	{"engine/policy/...", "storage/...", "the policy file is not the job store"},
	{"engine/spawn/...", "storage/...", "spawn keeps a worker running and knows nothing of jobs"},
	{"server/...", "engine/...", "the upload server shares only leaves with the engine"},
	{"server/...", "storage/...", "the upload server keeps no jobs"},
}

// notDirectly holds for the imports of a package's own files, test files
// too: the front ends reach storage, but only through engine.
var notDirectly = []rule{
	{"internal/cli/...", "storage/...", "front ends change jobs through engine.Manager, never the store"},
	{"cmd/...", "storage/...", "front ends change jobs through engine.Manager, never the store"},
	{"internal/dbusapi/...", "storage/...", "front ends change jobs through engine.Manager, never the store"},
	{"examples/...", "storage/...", "the examples change jobs through engine.Manager, as any program would"},
}

// testSupport is what only test files may import, and the packages that
// must exist for the test to mean anything.
const testSupport = "internal/testenv/..."

var mustExist = []string{"cmd/bitsadmin", "internal/cli/bitsadmin", "internal/dbusapi", "engine", "engine/transport/http", "storage", "server", "internal/testenv"}

// pkg is what go list says of one package of the module, with "bits/" cut
// from every path.
type pkg struct {
	ImportPath   string
	Imports      []string // by its non-test files
	Deps         []string // by its non-test files, directly or not
	TestImports  []string
	XTestImports []string
}

// TestArrows lists the module's packages as they build for Linux and for
// macOS and fails on every import against the layering.
func TestArrows(t *testing.T) {
	for _, goos := range []string{"linux", "darwin"} {
		t.Run(goos, func(t *testing.T) {
			pkgs := list(t, goos)
			for _, p := range mustExist {
				if pkgs[p] == nil {
					t.Fatalf("go list does not show package %s", p)
				}
			}
			for _, v := range violations(pkgs) {
				t.Error(v)
			}
		})
	}
}

func violations(pkgs map[string]*pkg) []string {
	var out []string
	judged := map[string]bool{}
	for _, name := range sortedKeys(pkgs) {
		p := pkgs[name]
		for _, r := range never {
			if !match(r.from, name) {
				continue
			}
			judged[r.from] = true
			for _, d := range p.Deps {
				if match(r.to, d) && !match(r.from, d) {
					out = append(out, name+" imports "+d+via(pkgs, name, d)+": "+r.why)
				}
			}
			for _, d := range testImports(p) {
				if match(r.to, d) && !match(r.from, d) && !match(testSupport, d) {
					out = append(out, name+"'s tests import "+d+": "+r.why)
				}
			}
		}
		for _, r := range notDirectly {
			if !match(r.from, name) {
				continue
			}
			judged[r.from] = true
			for _, d := range append(slices.Clone(p.Imports), testImports(p)...) {
				if match(r.to, d) {
					out = append(out, name+" imports "+d+": "+r.why)
				}
			}
		}
		out = append(out, frontEnds(name, p)...)
		if !match(testSupport, name) {
			for _, d := range p.Deps {
				if match(testSupport, d) {
					out = append(out, name+" imports "+d+via(pkgs, name, d)+" outside its tests: only tests may use test support")
				}
			}
		}
	}
	for _, r := range append(slices.Clone(never), notDirectly...) {
		if !judged[r.from] {
			out = append(out, "no package matches "+r.from+": the rule about it has nothing to hold")
		}
	}
	return out
}

// frontEnds holds the thin mains: cmd/X imports internal/cli/X and
// nothing else of the project, and nothing else imports internal/cli/X.
func frontEnds(name string, p *pkg) []string {
	var out []string
	if strings.HasPrefix(name, "cmd/") {
		want := "internal/cli/" + path.Base(name)
		if !slices.Equal(p.Imports, []string{want}) {
			out = append(out, name+" imports "+strings.Join(p.Imports, ", ")+": a main imports only "+want+" and calls its Main")
		}
	}
	for _, d := range append(slices.Clone(p.Imports), testImports(p)...) {
		if match("internal/cli/...", d) && d != name && name != "cmd/"+path.Base(d) {
			out = append(out, name+" imports "+d+": nothing imports a front end but its own main")
		}
	}
	return out
}

func testImports(p *pkg) []string {
	var out []string
	for _, d := range append(slices.Clone(p.TestImports), p.XTestImports...) {
		if d != p.ImportPath {
			out = append(out, d)
		}
	}
	return out
}

// via names the packages through which from reaches to, when not directly.
func via(pkgs map[string]*pkg, from, to string) string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if n == to {
			var chain []string
			for m := prev[n]; m != from; m = prev[m] {
				chain = append(chain, m)
			}
			if len(chain) == 0 {
				return ""
			}
			slices.Reverse(chain)
			return " (through " + strings.Join(chain, ", ") + ")"
		}
		if pkgs[n] == nil {
			continue
		}
		for _, d := range pkgs[n].Imports {
			if _, seen := prev[d]; !seen {
				prev[d] = n
				queue = append(queue, d)
			}
		}
	}
	return ""
}

func match(pattern, name string) bool {
	if pattern == "..." {
		return true
	}
	if root, ok := strings.CutSuffix(pattern, "/..."); ok {
		return name == root || strings.HasPrefix(name, root+"/")
	}
	return name == pattern
}

// list runs go list over the module as it builds for goos and keeps the
// module's own packages and imports.
func list(t *testing.T, goos string) map[string]*pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-json=ImportPath,Imports,Deps,TestImports,XTestImports,Error", "bits/...")
	cmd.Env = append(os.Environ(), "GOOS="+goos, "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs := map[string]*pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			pkg
			Error *struct{ Err string }
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list's output: %v", err)
		}
		if p.Error != nil {
			t.Fatalf("go list: %s: %s", p.ImportPath, p.Error.Err)
		}
		q := &p.pkg
		q.ImportPath = own(q.ImportPath)
		for _, l := range []*[]string{&q.Imports, &q.Deps, &q.TestImports, &q.XTestImports} {
			*l = ownOnly(*l)
		}
		pkgs[q.ImportPath] = q
	}
	return pkgs
}

func own(importPath string) string {
	return strings.TrimPrefix(importPath, "bits/")
}

func ownOnly(paths []string) []string {
	var out []string
	for _, p := range paths {
		if strings.HasPrefix(p, "bits/") {
			out = append(out, own(p))
		}
	}
	return out
}

func sortedKeys(m map[string]*pkg) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
