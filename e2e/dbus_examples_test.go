package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"bits/internal/testenv"
)

// TestDBusExamples builds and runs the programs of examples/, the same
// download in Go on the engine and in Python and C on D-Bus, against a
// worker on a private bus: each prints its progress and done, exits 0, and
// the file is whole. The Python one, given a 404, prints the error and
// exits 1.
func TestDBusExamples(t *testing.T) {
	d := newDBusUser(t)
	content := testenv.RandomContent(4<<20, 23)
	o := testenv.NewOrigin(t, content, testenv.RateLimit(8<<20))
	bin := t.TempDir()

	examples := []struct {
		name  string
		build func(t *testing.T) []string // the command line that runs it
	}{
		{"go", func(t *testing.T) []string {
			out := filepath.Join(bin, "download-go")
			if b, err := exec.Command("go", "build", "-o", out, "bits/examples/go/download").CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, b)
			}
			return []string{out}
		}},
		{"python", func(t *testing.T) []string {
			return []string{pythonWithGI(t), "../examples/python/download.py"}
		}},
		{"c", func(t *testing.T) []string {
			for _, tool := range []string{"gcc", "pkg-config"} {
				if _, err := exec.LookPath(tool); err != nil {
					testenv.Missing(t, tool+" is not installed (Debian: apt-get install gcc pkg-config)")
				}
			}
			if err := exec.Command("pkg-config", "--exists", "gio-2.0").Run(); err != nil {
				testenv.Missing(t, "GIO's headers are not installed (Debian: apt-get install libglib2.0-dev)")
			}
			out := filepath.Join(bin, "download-c")
			build := exec.Command("sh", "-c", `gcc -Wall -Werror -o "$1" ../examples/c/download.c $(pkg-config --cflags --libs gio-2.0)`, "sh", out)
			if b, err := build.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", build, err, b)
			}
			return []string{out}
		}},
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			argv := ex.build(t)
			dest := filepath.Join(t.TempDir(), ex.name+".bin")
			out, err := runExample(d, argv, o.URL("/file"), dest)
			if err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
			}
			if !strings.Contains(out, "progress: ") || !strings.Contains(out, "done: "+dest+"\n") {
				t.Errorf("%s printed no progress or no done:\n%s", ex.name, out)
			}
			if fileSum(t, dest) != sum(content) {
				t.Errorf("%s: the file arrived damaged", ex.name)
			}
			t.Logf("%s printed:\n%s", ex.name, out)
		})
	}
	t.Run("python-404", func(t *testing.T) {
		python := pythonWithGI(t)
		out, err := runExample(d, []string{python, "../examples/python/download.py"}, o.URL("/missing"), filepath.Join(t.TempDir(), "missing.bin"))
		if err == nil || !strings.Contains(out, "HTTP status 404") {
			t.Errorf("the Python example on a 404: %v\n%s", err, out)
		}
		t.Logf("python on a 404 printed:\n%s", out)
	})

	if out := d.ok("/list"); !strings.Contains(out, "Listed 0 job(s).") {
		t.Errorf("the examples left jobs behind:\n%s", out)
	}
}

// runExample runs an example as the user and returns what it printed.
func runExample(d *dbusUser, argv []string, url, dest string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], url, dest)...)
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pythonWithGI returns a Python that has PyGObject: Debian's, which
// python3-gi serves, else the first python3 on PATH.
func pythonWithGI(t *testing.T) string {
	t.Helper()
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append(candidates, p)
	}
	for _, p := range candidates {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if exec.Command(p, "-c", "from gi.repository import Gio").Run() == nil {
			return p
		}
	}
	testenv.Missing(t, "no python3 can import gi (Debian: apt-get install python3-gi)")
	return ""
}
