package engine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Policy holds the machine-wide limits that Windows keeps in the BITS group
// policies, read from a file of "Name = value" lines ('#' starts a comment).
type Policy struct {
	MaxJobsPerUser       int           // MaxJobsPerUser
	MaxFilesPerJob       int           // MaxFilesPerJob
	MaxRangesPerFile     int           // MaxRangesPerFile
	JobInactivityTimeout time.Duration // JobInactivityTimeout, in days in the file
}

// DefaultPolicyFile is where the policy lives unless $BITS_POLICY names
// another file.
const DefaultPolicyFile = "/etc/bits/policy.conf"

// PolicyPath returns the policy file to read.
func PolicyPath() string {
	if p := os.Getenv("BITS_POLICY"); p != "" {
		return p
	}
	return DefaultPolicyFile
}

// DefaultPolicy returns BITS' defaults.
func DefaultPolicy() Policy {
	return Policy{MaxJobsPerUser: DefaultMaxJobsPerUser, MaxFilesPerJob: DefaultMaxFilesPerJob,
		MaxRangesPerFile: DefaultMaxRangesPerFile, JobInactivityTimeout: DefaultJobInactivityTimeout}
}

// LoadPolicy reads path over the defaults. A missing file is no error: it
// means every default. A bad line is, so a typo never passes unnoticed.
func LoadPolicy(path string) (Policy, error) {
	p := DefaultPolicy()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if strings.TrimSpace(line) == "" {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		v, err := strconv.Atoi(strings.TrimSpace(value))
		if !ok || err != nil || v < 1 {
			return p, fmt.Errorf("%s:%d: want Name = positive number", path, n)
		}
		switch strings.TrimSpace(name) {
		case "MaxJobsPerUser":
			p.MaxJobsPerUser = v
		case "MaxFilesPerJob":
			p.MaxFilesPerJob = v
		case "MaxRangesPerFile":
			p.MaxRangesPerFile = v
		case "JobInactivityTimeout":
			if v > 999 {
				return p, fmt.Errorf("%s:%d: JobInactivityTimeout is 1 to 999 days", path, n)
			}
			p.JobInactivityTimeout = time.Duration(v) * 24 * time.Hour
		default:
			return p, fmt.Errorf("%s:%d: unknown setting %q", path, n, strings.TrimSpace(name))
		}
	}
	return p, sc.Err()
}
