package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An import killed with SIGKILL leaves whole jobs only, among them every
// job it reported created; run again, it creates exactly the jobs that are
// missing and refuses the others by their GUID.
func TestKilledImportLeavesWholeJobs(t *testing.T) {
	u := newUser(t)
	policy := filepath.Join(t.TempDir(), "policy.conf")
	if err := os.WriteFile(policy, []byte("MaxJobsPerUser = 1000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	u.env = append(u.env, "BITS_POLICY="+policy)
	const jobs, files = 20000, 10
	dir := t.TempDir()
	input := filepath.Join(t.TempDir(), "jobs.ndjson")
	f, err := os.Create(input)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	for i := range jobs {
		var fl []string
		for k := range files {
			fl = append(fl, fmt.Sprintf(`{"RemoteName":"http://127.0.0.1:9/%d/%d","LocalName":%q}`, i, k, filepath.Join(dir, fmt.Sprintf("%d-%d", i, k))))
		}
		fmt.Fprintf(w, `{"JobId":"4a000000-0000-4000-8000-%012d","DisplayName":"job %d","FileList":[%s]}`+"\n", i, i, strings.Join(fl, ","))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	// Kill it once it has reported 500 jobs created: they are committed.
	cmd := u.command("bitsjob", "import", "--json", input)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reported := map[string]bool{}
	sc := bufio.NewScanner(out)
	for len(reported) < 500 && sc.Scan() {
		var v struct{ JobId string }
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("import printed %q: %v", sc.Text(), err)
		}
		reported[v.JobId] = true
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if len(reported) < 500 {
		t.Fatalf("import reported %d jobs before it ended", len(reported))
	}

	held := wholeJobs(t, u, files)
	if len(held) >= jobs {
		t.Fatalf("the import had finished before the kill (%d jobs)", len(held))
	}
	for id := range reported {
		if !held[id] {
			t.Errorf("job %s was reported created but is not in the store", id)
		}
	}

	// Run again: only the missing jobs are made.
	again, _, code := u.bitsjob("import", input)
	if want := fmt.Sprintf("%d jobs created, %d refused\n", jobs-len(held), len(held)); code != 1 || again != want {
		t.Errorf("import again: exit %d, %q; want %q", code, again, want)
	}
	if n := len(wholeJobs(t, u, files)); n != jobs {
		t.Errorf("%d jobs after the second import, want %d", n, jobs)
	}
}

// wholeJobs lists the user's jobs and fails the test for any job that has
// not all its files, by its rows or by the totals the store keeps.
func wholeJobs(t *testing.T, u *user, files int) map[string]bool {
	t.Helper()
	list := u.jobctl("list", "--json")
	ids := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		if l == "" {
			continue
		}
		var v struct {
			JobId      string
			FilesTotal int
			FileList   []json.RawMessage
		}
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatal(err)
		}
		if v.FilesTotal != files || len(v.FileList) != files {
			t.Errorf("job %s has %d files (%d counted), want %d", v.JobId, len(v.FileList), v.FilesTotal, files)
		}
		ids[v.JobId] = true
	}
	return ids
}
