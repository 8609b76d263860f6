package policy

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.conf")
	os.WriteFile(path, []byte("# limits\nMaxJobsPerUser = 2\nMaxRangesPerFile=3 # few\nJobInactivityTimeout = 7\n"), 0o644)
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxJobsPerUser != 2 || p.MaxRangesPerFile != 3 || p.MaxFilesPerJob != 200 || p.JobInactivityTimeout != 7*24*time.Hour {
		t.Errorf("policy = %+v", p)
	}
	for _, bad := range []string{"MaxJobsPerUser = 0\n", "MaxJobs = 3\n", "JobInactivityTimeout = 1000\n", "MaxFilesPerJob\n"} {
		os.WriteFile(path, []byte(bad), 0o644)
		if _, err := Load(path); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
	if p, err := Load(filepath.Join(t.TempDir(), "none")); err != nil || p != Default() {
		t.Errorf("missing file: %+v, %v", p, err)
	}
}
