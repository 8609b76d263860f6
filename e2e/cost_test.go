package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"bits/internal/testenv"
)

// These tests hold jobs back by network cost and bandwidth policy through
// the real binaries: the worker runs on the client side of a network
// namespace link (a loopback server would be exempt from both gates) and
// asks a stand-in NetworkManager on a private dbus-daemon whether the
// network is metered, or reads the policy file that `bitsjob config`
// writes.

const (
	blockedByCost   = 0x80200059 // BG_E_BLOCKED_BY_COST_TRANSFER_POLICY
	blockedByPolicy = 0x8020003E // BG_E_BLOCKED_BY_POLICY
)

// jobStatus is the part of `bitsjob get --json` these tests read.
type jobStatus struct {
	JobState          string
	TransferPolicy    string
	BytesTransferred  uint64
	ErrorCondition    string
	ErrorDetail       string
	InternalErrorCode int32
}

// bitsjob runs the real bitsjob and returns its output and exit code.
func (u *user) bitsjob(args ...string) (stdout, stderr string, code int) {
	u.t.Helper()
	return u.runProgram("bitsjob", args...)
}

// jobctl runs bitsjob and fails the test unless it exits 0.
func (u *user) jobctl(args ...string) string {
	u.t.Helper()
	out, errs, code := u.bitsjob(args...)
	if code != 0 {
		u.t.Fatalf("bitsjob %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func (u *user) status(job string) jobStatus {
	u.t.Helper()
	var st jobStatus
	out := u.jobctl("get", "--json", job)
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		u.t.Fatalf("bitsjob get --json: %v\n%s", err, out)
	}
	return st
}

// costJob creates a download of url into a folder of its own, with an
// hour's retry delay so that only an opening gate can explain a start,
// and with the given transfer policy unless it is "". It does not resume
// the job.
func (s *netSetup) costJob(t *testing.T, url, priority, policy string) (job, dir string) {
	t.Helper()
	dir = t.TempDir()
	job = strings.TrimSpace(s.u.ok("/rawreturn", "/create", filepath.Base(url)))
	s.u.ok("/addfile", job, url, filepath.Join(dir, filepath.Base(url)))
	s.u.ok("/setpriority", job, priority)
	s.u.ok("/setminretrydelay", job, "3600")
	if policy != "" {
		s.u.jobctl("set", job, "--transfer-policy", policy)
	}
	return job, dir
}

// serveContent puts a file of n random bytes on the server.
func (s *netSetup) serveContent(t *testing.T, name string, n int, seed uint64) (url string, content []byte) {
	t.Helper()
	content = testenv.RandomContent(n, seed)
	if err := os.WriteFile(filepath.Join(s.root, name), content, 0o644); err != nil {
		t.Fatal(err)
	}
	return s.base + "/" + name, content
}

// waitHeldBack waits for job to be in TRANSIENT_ERROR and checks that
// bitsadmin and bitsjob both give code as the reason.
func (s *netSetup) waitHeldBack(t *testing.T, job string, code uint32) jobStatus {
	t.Helper()
	s.u.waitState(job, "TRANSIENT_ERROR")
	want := fmt.Sprintf("0x%08x", code)
	if out := s.u.ok("/geterror", job); !strings.Contains(strings.ToLower(out), want) {
		t.Errorf("/geterror of %s lacks %s:\n%s", job, want, out)
	}
	st := s.u.status(job)
	if st.JobState != "TransientError" || st.ErrorCondition != "TransientError" || uint32(st.InternalErrorCode) != code {
		t.Errorf("bitsjob get: JobState %s, ErrorCondition %s, InternalErrorCode 0x%08x; want TransientError, TransientError, %s",
			st.JobState, st.ErrorCondition, uint32(st.InternalErrorCode), want)
	}
	return st
}

// moved is the bytes in the temporary files of dir.
func moved(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	for _, f := range testenv.TempFiles(t, dir) {
		if fi, err := os.Stat(f); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// holds checks that cond stays true over a window d: a measurement
// window for something that must not happen, not a wait for an event.
func holds(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if !cond() {
			t.Fatalf("%s no longer holds", what)
		}
	}
}

// completeAndCheck completes a transferred job and compares its file with
// the server's content.
func (s *netSetup) completeAndCheck(t *testing.T, job, dest string, content []byte) {
	t.Helper()
	s.u.ok("/complete", job)
	if fileSum(t, dest) != sum(content) {
		t.Errorf("%s: the downloaded file differs from the server's", filepath.Base(dest))
	}
}

func (s *netSetup) dumpLogOnFailure(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(s.u.home, "worker.log"))
			t.Logf("worker log:\n%s", log)
		}
	})
}

// TestMeteredNetworkHoldsJobsBack: NetworkManager on a real bus says the
// network is metered. A NORMAL job with the default transfer policy waits
// in TRANSIENT_ERROR with BG_E_BLOCKED_BY_COST_TRANSFER_POLICY, moving no
// byte and not timing out, while a job allowed to transfer Always
// finishes. A running job whose transfer policy changes to one that
// excludes the network stops at once. When the network becomes unmetered
// the held jobs start without waiting for their retry delay, and a network
// guessed metered holds them again.
func TestMeteredNetworkHoldsJobsBack(t *testing.T) {
	bus := testenv.StartBus(t)
	nm := bus.NetworkManager(t, testenv.MeteredYes)
	s := newNetSetup(t, testenv.LinkOptions{})
	s.u.env = append(s.u.env, "DBUS_SYSTEM_BUS_ADDRESS="+bus.Address)
	s.dumpLogOnFailure(t)

	heldURL, heldContent := s.serveContent(t, "held.bin", 3<<20, 11)
	held, heldDir := s.costJob(t, heldURL, "NORMAL", "")
	// Waiting for the network is not a failure: a no-progress timeout
	// shorter than the test does not turn the job to ERROR.
	s.u.ok("/setnoprogresstimeout", held, "2")
	s.u.ok("/resume", held)
	st := s.waitHeldBack(t, held, blockedByCost)
	if !strings.Contains(st.ErrorDetail, "Capped") {
		t.Errorf("the error does not name the network's cost: %q", st.ErrorDetail)
	}

	// Allowed on every network, a job transfers on this one.
	alwaysURL, alwaysContent := s.serveContent(t, "always.bin", 3<<20, 12)
	always, alwaysDir := s.costJob(t, alwaysURL, "NORMAL", "Always")
	s.u.ok("/resume", always)
	s.u.waitState(always, "TRANSFERRED")
	s.completeAndCheck(t, always, filepath.Join(alwaysDir, "always.bin"), alwaysContent)

	// Meanwhile the held job moved nothing.
	if st := s.u.raw("/getstate", held); st != "TRANSIENT_ERROR" {
		t.Fatalf("the held job is %s while the network is metered", st)
	}
	if n, m := s.u.bytesDone(held), moved(t, heldDir); n != 0 || m != 0 {
		t.Fatalf("the held job moved bytes on a metered network: %d recorded, %d on disk", n, m)
	}

	// A running job stops as soon as its policy excludes the network.
	// Its own limit keeps it running long enough to be changed.
	slowURL := s.serve(t, "slow.bin", 64<<20)
	slow, slowDir := s.costJob(t, slowURL, "NORMAL", "Always")
	s.u.jobctl("set", slow, "--max-bandwidth", "8000")
	s.u.ok("/resume", slow)
	testenv.Eventually(t, "the slow job to move bytes", func() bool { return s.u.bytesDone(slow) > 1<<20 })
	s.u.jobctl("set", slow, "--transfer-policy", "Unrestricted")
	st = s.waitHeldBack(t, slow, blockedByCost)
	if st.TransferPolicy != "Unrestricted" {
		t.Errorf("TransferPolicy %q after the change; want Unrestricted", st.TransferPolicy)
	}
	stopped := moved(t, slowDir)
	if stopped >= 64<<20 {
		t.Fatal("the slow job finished before its policy changed")
	}
	holds(t, 2*time.Second, "the stopped job staying put", func() bool {
		return moved(t, slowDir) == stopped && s.u.raw("/getstate", slow) == "TRANSIENT_ERROR"
	})
	if st := s.u.raw("/getstate", held); st != "TRANSIENT_ERROR" {
		t.Fatalf("the held job is %s after its no-progress timeout; waiting for the network must not count", st)
	}

	// The network becomes unmetered: both start, though their retry
	// delay is an hour.
	nm.SetMetered(testenv.MeteredNo)
	s.u.waitState(held, "TRANSFERRED")
	s.completeAndCheck(t, held, filepath.Join(heldDir, "held.bin"), heldContent)
	testenv.Eventually(t, "the slow job to resume", func() bool { return s.u.bytesDone(slow) > stopped+1<<20 })

	// NetworkManager guesses the network is metered: the slow job stops
	// again.
	nm.SetMetered(testenv.MeteredGuessYes)
	s.waitHeldBack(t, slow, blockedByCost)
	s.u.ok("/cancel", slow)
}

// TestPolicyNetworkCostOverridesNetworkManager: the policy file's
// NetworkCost, set with `bitsjob config set`, holds a job back although
// NetworkManager says the network is not metered; unsetting it lets the
// job run.
func TestPolicyNetworkCostOverridesNetworkManager(t *testing.T) {
	bus := testenv.StartBus(t)
	bus.NetworkManager(t, testenv.MeteredNo)
	s := newNetSetup(t, testenv.LinkOptions{})
	s.u.env = append(s.u.env, "DBUS_SYSTEM_BUS_ADDRESS="+bus.Address)
	s.dumpLogOnFailure(t)

	s.u.jobctl("config", "set", "NetworkCost", "Capped")
	if got := strings.TrimSpace(s.u.jobctl("config", "get", "NetworkCost")); got != "Capped" {
		t.Errorf("config get NetworkCost printed %q; want Capped", got)
	}
	url, content := s.serveContent(t, "policy.bin", 3<<20, 13)
	job, dir := s.costJob(t, url, "NORMAL", "")
	s.u.ok("/resume", job)
	st := s.waitHeldBack(t, job, blockedByCost)
	if !strings.Contains(st.ErrorDetail, "Capped") {
		t.Errorf("the error does not name the network's cost: %q", st.ErrorDetail)
	}
	if n, m := s.u.bytesDone(job), moved(t, dir); n != 0 || m != 0 {
		t.Fatalf("the held job moved bytes: %d recorded, %d on disk", n, m)
	}

	s.u.jobctl("config", "unset", "NetworkCost")
	if got := strings.TrimSpace(s.u.jobctl("config", "get", "NetworkCost")); got != "auto" {
		t.Errorf("config get NetworkCost printed %q after unset; want auto", got)
	}
	s.u.waitState(job, "TRANSFERRED")
	s.completeAndCheck(t, job, filepath.Join(dir, "policy.bin"), content)
}

// TestBandwidthPolicyBlocksBackgroundJobs: a MaxInternetBandwidth window
// around now with a rate of 0 holds a NORMAL job back with
// BG_E_BLOCKED_BY_POLICY while a FOREGROUND job transfers; raising the
// rate while the worker runs lets the NORMAL job transfer, within the new
// rate. Bad settings are refused and leave the file as it was.
// NetworkManager is absent here: the network counts as unrestricted.
func TestBandwidthPolicyBlocksBackgroundJobs(t *testing.T) {
	s := newNetSetup(t, testenv.LinkOptions{})
	s.u.env = append(s.u.env, "DBUS_SYSTEM_BUS_ADDRESS=unix:path="+filepath.Join(t.TempDir(), "no-bus"))
	s.dumpLogOnFailure(t)

	// A two-hour window that holds now even if the hour turns meanwhile.
	h := time.Now().Hour()
	s.u.jobctl("config", "set", "BandwidthThrottlingStartTime", strconv.Itoa(h))
	s.u.jobctl("config", "set", "BandwidthThrottlingEndTime", strconv.Itoa((h+2)%24))
	s.u.jobctl("config", "set", "BandwidthThrottlingTransferRate", "0")
	if got := strings.TrimSpace(s.u.jobctl("config", "get", "BandwidthThrottlingTransferRate")); got != "0" {
		t.Errorf("config get BandwidthThrottlingTransferRate printed %q; want 0", got)
	}

	const normalSize = 2 << 20
	normalURL, normalContent := s.serveContent(t, "normal.bin", normalSize, 21)
	normal, normalDir := s.costJob(t, normalURL, "NORMAL", "")
	s.u.ok("/resume", normal)
	s.waitHeldBack(t, normal, blockedByPolicy)

	fgURL, fgContent := s.serveContent(t, "foreground.bin", 4<<20, 22)
	fg, fgDir := s.costJob(t, fgURL, "FOREGROUND", "")
	s.u.ok("/resume", fg)
	s.u.waitState(fg, "TRANSFERRED")
	s.completeAndCheck(t, fg, filepath.Join(fgDir, "foreground.bin"), fgContent)
	if st := s.u.raw("/getstate", normal); st != "TRANSIENT_ERROR" {
		t.Fatalf("the NORMAL job is %s inside a 0 Kbps window", st)
	}
	if n, m := s.u.bytesDone(normal), moved(t, normalDir); n != 0 || m != 0 {
		t.Fatalf("the NORMAL job moved bytes inside a 0 Kbps window: %d recorded, %d on disk", n, m)
	}

	// Bad input: exit status 2, a message that says what is wrong, and
	// the file untouched.
	policyPath := envValue(s.u.env, "BITS_POLICY")
	before, err := os.ReadFile(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ args, want []string }{
		{[]string{"config", "set", "NoSuchSetting", "1"}, []string{"NoSuchSetting", "not a setting"}},
		{[]string{"config", "set", "WorkLimitLow", "fast"}, []string{"WorkLimitLow", `"fast"`}},
	} {
		out, errs, code := s.u.bitsjob(c.args...)
		if code != 2 {
			t.Errorf("bitsjob %s: exit %d; want 2\n%s%s", strings.Join(c.args, " "), code, out, errs)
		}
		for _, w := range c.want {
			if !strings.Contains(errs, w) {
				t.Errorf("bitsjob %s: the message lacks %q:\n%s", strings.Join(c.args, " "), w, errs)
			}
		}
		if after, err := os.ReadFile(policyPath); err != nil || !bytes.Equal(after, before) {
			t.Errorf("bitsjob %s changed the policy file (%v):\n%s\nwas:\n%s", strings.Join(c.args, " "), err, after, before)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(policyPath), ".*")); len(left) != 0 {
		t.Errorf("files left beside the policy file: %v", left)
	}

	// A policy change while the worker runs lets the job go, at the new
	// rate.
	const rateKbps = 4000
	start := time.Now()
	s.u.jobctl("config", "set", "BandwidthThrottlingTransferRate", strconv.Itoa(rateKbps))
	if got := strings.TrimSpace(s.u.jobctl("config", "get", "BandwidthThrottlingTransferRate")); got != strconv.Itoa(rateKbps) {
		t.Errorf("config get BandwidthThrottlingTransferRate printed %q; want %d", got, rateKbps)
	}
	s.u.waitState(normal, "TRANSFERRED")
	took := time.Since(start)
	// At 4000 Kbps the file takes 4.2 s; allow for a burst at the start.
	if least := time.Duration(float64(normalSize) / (rateKbps * 1000 / 8) * 0.5 * float64(time.Second)); took < least {
		t.Errorf("the NORMAL job transferred %d bytes in %v at %d Kbps; want at least %v", normalSize, took, rateKbps, least)
	}
	t.Logf("at %d Kbps the NORMAL job took %v for %d bytes", rateKbps, took.Round(10*time.Millisecond), normalSize)
	s.completeAndCheck(t, normal, filepath.Join(normalDir, "normal.bin"), normalContent)
}

// envValue is the last value of name in env.
func envValue(env []string, name string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == name {
			v = val
		}
	}
	return v
}
