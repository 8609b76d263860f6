// Package policy reads and writes the policy file: what Windows keeps in
// the BITS group policies (job limits, scheduling, bandwidth limits on
// schedules, yielding, network cost), as "Name = value" lines.
package policy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"bits/engine/netpolicy"
)

// Policy holds what Windows keeps in the BITS group policies: job limits,
// scheduling, bandwidth limits on schedules, yielding to other traffic and
// network cost. It comes from one file of "Name = value" lines ('#' starts
// a comment), which the worker reads again whenever it changes.
type Policy struct {
	MaxJobsPerUser       int
	MaxFilesPerJob       int
	MaxRangesPerFile     int
	JobInactivityTimeout time.Duration

	// MaxBackground bounds the background jobs that transfer at once;
	// FOREGROUND jobs always start at once.
	MaxBackground int
	// TimeSlice is how long a background job keeps its slot while
	// another job of the same priority waits for one.
	TimeSlice time.Duration

	Bandwidth netpolicy.Bandwidth
	// Yield makes background transfers use only what other traffic leaves
	// idle; YieldTarget is the queueing delay they may add.
	Yield       bool
	YieldTarget time.Duration

	// NetworkCost is the current network's cost state when it is set; 0
	// asks NetworkManager, and means Unrestricted where it is not running.
	NetworkCost uint32
	// TransferPolicy is the transfer policy of jobs that set none, by
	// priority.
	TransferPolicy [4]uint32
}

// DefaultFile is where the policy lives unless $BITS_POLICY names
// another file.
const DefaultFile = "/etc/bits/policy.conf"

// Path returns the policy file to read.
func Path() string {
	if p := os.Getenv("BITS_POLICY"); p != "" {
		return p
	}
	return DefaultFile
}

// Default returns the policy of a missing file.
func Default() Policy {
	p, _ := build(nil)
	return p
}

// A Setting is one name of the policy file with its value.
type Setting struct {
	Name  string
	Value string // as the file has it, else the default
	Set   bool   // the file sets it
	Help  string
}

// setting describes one name: its default, and how it lands in a
// Policy. Settings that only make sense together (a schedule's window and
// its limits) are assembled after every line is read.
type setting struct {
	name, def, help string
	apply           func(p *Policy, b *bandwidthParts, v string) error
}

// bandwidthParts gathers the bandwidth settings before they become a
// netpolicy.Bandwidth: a group counts as configured when one of its limits
// is set.
type bandwidthParts struct {
	throttleWindow netpolicy.Window
	throttleRate   *netpolicy.Kbps
	throttleOthers netpolicy.Kbps
	workWindow     netpolicy.Window
	work, nonWork  netpolicy.ClassLimits
	workSet        bool
	maintWindow    netpolicy.Window
	maint          netpolicy.ClassLimits
	maintSet       bool
}

var settings = []setting{
	{"MaxJobsPerUser", "60", "jobs a user may have", positive(func(p *Policy, v int) { p.MaxJobsPerUser = v })},
	{"MaxFilesPerJob", "200", "files a job may have", positive(func(p *Policy, v int) { p.MaxFilesPerJob = v })},
	{"MaxRangesPerFile", "500", "ranges a file may have", positive(func(p *Policy, v int) { p.MaxRangesPerFile = v })},
	{"JobInactivityTimeout", "90", "days (1-999) a job may go unchanged before it is cancelled", func(p *Policy, _ *bandwidthParts, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 999 {
			return errors.New("JobInactivityTimeout is 1 to 999 days")
		}
		p.JobInactivityTimeout = time.Duration(n) * 24 * time.Hour
		return nil
	}},

	{"MaxBackgroundTransfers", "2", "background jobs that transfer at once", positive(func(p *Policy, v int) { p.MaxBackground = v })},
	{"TimeSlice", "300", "seconds a background job transfers while another of its priority waits", positive(func(p *Policy, v int) {
		p.TimeSlice = time.Duration(v) * time.Second
	})},

	{"BandwidthThrottlingStartTime", "8", "hour the MaxInternetBandwidth window starts", func(_ *Policy, b *bandwidthParts, v string) error {
		h, err := hour(v)
		b.throttleWindow.Start = h
		return err
	}},
	{"BandwidthThrottlingEndTime", "17", "hour the MaxInternetBandwidth window ends", func(_ *Policy, b *bandwidthParts, v string) error {
		h, err := hour(v)
		b.throttleWindow.End = h
		return err
	}},
	{"BandwidthThrottlingTransferRate", "", "Kbps all background jobs share inside the window (0 blocks them); unset: no MaxInternetBandwidth policy", func(_ *Policy, b *bandwidthParts, v string) error {
		if v == "" {
			return nil
		}
		k, err := netpolicy.ParseKbps(v)
		b.throttleRate = &k
		return err
	}},
	{"BandwidthThrottlingOtherRate", "unlimited", "Kbps all background jobs share outside the window", kbps(func(b *bandwidthParts) *netpolicy.Kbps { return &b.throttleOthers })},

	{"WorkDays", "Mon-Fri", "days of the work schedule", func(_ *Policy, b *bandwidthParts, v string) error {
		d, err := netpolicy.ParseDays(v)
		b.workWindow.Days = d
		return err
	}},
	{"WorkHours", "8-17", "hours of the work schedule", func(_ *Policy, b *bandwidthParts, v string) error {
		var err error
		b.workWindow.Start, b.workWindow.End, err = netpolicy.ParseHours(v)
		return err
	}},
	workLimit("WorkLimitHigh", "HIGH jobs in work hours", func(b *bandwidthParts) *netpolicy.Kbps { return &b.work[netpolicy.High] }),
	workLimit("WorkLimitNormal", "NORMAL jobs in work hours", func(b *bandwidthParts) *netpolicy.Kbps { return &b.work[netpolicy.Normal] }),
	workLimit("WorkLimitLow", "LOW jobs in work hours", func(b *bandwidthParts) *netpolicy.Kbps { return &b.work[netpolicy.Low] }),
	workLimit("NonWorkLimitHigh", "HIGH jobs outside work hours", func(b *bandwidthParts) *netpolicy.Kbps { return &b.nonWork[netpolicy.High] }),
	workLimit("NonWorkLimitNormal", "NORMAL jobs outside work hours", func(b *bandwidthParts) *netpolicy.Kbps { return &b.nonWork[netpolicy.Normal] }),
	workLimit("NonWorkLimitLow", "LOW jobs outside work hours", func(b *bandwidthParts) *netpolicy.Kbps { return &b.nonWork[netpolicy.Low] }),

	{"MaintenanceDays", "all", "days of the maintenance schedule", func(_ *Policy, b *bandwidthParts, v string) error {
		d, err := netpolicy.ParseDays(v)
		b.maintWindow.Days = d
		return err
	}},
	{"MaintenanceHours", "1-5", "hours of the maintenance schedule", func(_ *Policy, b *bandwidthParts, v string) error {
		var err error
		b.maintWindow.Start, b.maintWindow.End, err = netpolicy.ParseHours(v)
		return err
	}},
	maintLimit("MaintenanceLimitHigh", "HIGH", netpolicy.High),
	maintLimit("MaintenanceLimitNormal", "NORMAL", netpolicy.Normal),
	maintLimit("MaintenanceLimitLow", "LOW", netpolicy.Low),

	{"YieldToOtherTraffic", "on", "background jobs use only the bandwidth other traffic leaves idle (on or off)", func(p *Policy, _ *bandwidthParts, v string) error {
		switch strings.ToLower(v) {
		case "on", "true", "yes", "1":
			p.Yield = true
		case "off", "false", "no", "0":
			p.Yield = false
		default:
			return fmt.Errorf("%q is neither on nor off", v)
		}
		return nil
	}},
	{"YieldTargetDelay", "25", "milliseconds of queueing delay background jobs may add (5-1000)", func(p *Policy, _ *bandwidthParts, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 1000 {
			return errors.New("YieldTargetDelay is 5 to 1000 milliseconds")
		}
		p.YieldTarget = time.Duration(n) * time.Millisecond
		return nil
	}},

	{"NetworkCost", "auto", "the network's cost: auto (NetworkManager's metered flag), or a cost state such as Unrestricted, Capped, UsageBased or Roaming", func(p *Policy, _ *bandwidthParts, v string) error {
		if strings.EqualFold(v, "auto") {
			p.NetworkCost = 0
			return nil
		}
		c, err := netpolicy.ParseCostStates(v)
		if err != nil || c == 0 || c&^0xFF != 0 || c&(c-1) != 0 {
			return fmt.Errorf("%q is not auto or one cost state", v)
		}
		p.NetworkCost = c
		return nil
	}},
	transferPolicy("TransferPolicyForeground", "FOREGROUND", 0),
	transferPolicy("TransferPolicyHigh", "HIGH", 1),
	transferPolicy("TransferPolicyNormal", "NORMAL", 2),
	transferPolicy("TransferPolicyLow", "LOW", 3),
}

func positive(set func(*Policy, int)) func(*Policy, *bandwidthParts, string) error {
	return func(p *Policy, _ *bandwidthParts, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errors.New("want a positive number")
		}
		set(p, n)
		return nil
	}
}

func hour(v string) (int, error) {
	h, err := strconv.Atoi(v)
	if err != nil || h < 0 || h > 23 {
		return 0, errors.New("want an hour from 0 to 23")
	}
	return h, nil
}

func kbps(field func(*bandwidthParts) *netpolicy.Kbps) func(*Policy, *bandwidthParts, string) error {
	return func(_ *Policy, b *bandwidthParts, v string) error {
		k, err := netpolicy.ParseKbps(v)
		*field(b) = k
		return err
	}
}

func workLimit(name, what string, field func(*bandwidthParts) *netpolicy.Kbps) setting {
	return setting{name, "unlimited", "Kbps for " + what + " (0 blocks them)", func(p *Policy, b *bandwidthParts, v string) error {
		b.workSet = b.workSet || v != "unlimited"
		return kbps(field)(p, b, v)
	}}
}

func maintLimit(name, prio string, c netpolicy.Class) setting {
	return setting{name, "unlimited", "Kbps for " + prio + " jobs in maintenance hours (0 blocks them)", func(_ *Policy, b *bandwidthParts, v string) error {
		k, err := netpolicy.ParseKbps(v)
		b.maint[c] = k
		b.maintSet = b.maintSet || v != "unlimited"
		return err
	}}
}

func transferPolicy(name, prio string, i int) setting {
	return setting{name, "PolicyUnrestricted", "cost states " + prio + " jobs that set no transfer policy may transfer in", func(p *Policy, _ *bandwidthParts, v string) error {
		c, err := netpolicy.ParseCostStates(v)
		if err != nil || c&0xFF == 0 {
			return fmt.Errorf("%q is not a transfer policy", v)
		}
		p.TransferPolicy[i] = c
		return nil
	}}
}

func findSetting(name string) *setting {
	for i := range settings {
		if strings.EqualFold(settings[i].name, name) {
			return &settings[i]
		}
	}
	return nil
}

// build applies every setting, from values where the file has it,
// else from its default.
func build(values map[string]string) (Policy, error) {
	var p Policy
	var b bandwidthParts
	for _, s := range settings {
		v, ok := values[s.name]
		if !ok {
			v = s.def
		}
		if err := s.apply(&p, &b, v); err != nil {
			return p, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	b.throttleWindow.Days = netpolicy.EveryDay
	if b.throttleRate != nil {
		p.Bandwidth.Throttle = &netpolicy.Throttle{Window: b.throttleWindow, Rate: *b.throttleRate, Others: b.throttleOthers}
	}
	if b.workSet {
		p.Bandwidth.Work = &netpolicy.WorkLimits{Window: b.workWindow, Work: b.work, NonWork: b.nonWork}
	}
	if b.maintSet {
		p.Bandwidth.Maintenance = &netpolicy.MaintenanceLimits{Window: b.maintWindow, Limits: b.maint}
	}
	return p, nil
}

// readFile returns the file's lines and its settings by name. A
// missing file has none.
func readFile(path string) (lines []string, values map[string]string, err error) {
	values = map[string]string{}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, values, nil
	}
	if err != nil {
		return nil, nil, err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		lines = append(lines, sc.Text())
		name, value, ok, err := parseLine(sc.Text())
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		if ok {
			values[name] = value
		}
	}
	return lines, values, sc.Err()
}

// parseLine reads "Name = value # comment"; ok is false for a blank
// or comment line. The name comes back as the setting spells it.
func parseLine(line string) (name, value string, ok bool, err error) {
	text, _, _ := strings.Cut(line, "#")
	if strings.TrimSpace(text) == "" {
		return "", "", false, nil
	}
	name, value, found := strings.Cut(text, "=")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !found || value == "" {
		return "", "", false, errors.New("want Name = value")
	}
	s := findSetting(name)
	if s == nil {
		return "", "", false, fmt.Errorf("unknown setting %q", name)
	}
	return s.name, value, true, nil
}

// Load reads path over the defaults. A missing file is no error: it
// means every default. A bad line is, so a typo never passes unnoticed.
func Load(path string) (Policy, error) {
	_, values, err := readFile(path)
	if err != nil {
		return Default(), err
	}
	p, err := build(values)
	if err != nil {
		return Default(), fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Settings lists every setting with its value in the file at path.
func Settings(path string) ([]Setting, error) {
	_, values, err := readFile(path)
	if err != nil {
		return nil, err
	}
	if _, err := build(values); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Setting
	for _, s := range settings {
		v, set := values[s.name]
		if !set {
			v = s.def
		}
		out = append(out, Setting{Name: s.name, Value: v, Set: set, Help: s.help})
	}
	return out, nil
}

// A SettingError is a setting name or value that the policy does not take.
type SettingError struct{ Err error }

func (e *SettingError) Error() string { return e.Err.Error() }
func (e *SettingError) Unwrap() error { return e.Err }

// Set sets one setting in the file at path, or removes it (back to
// its default) when value is empty. The new file is checked as a whole
// before it replaces the old one, in one rename, so a running worker never
// reads half a change and a bad value leaves the file as it was.
func Set(path, name, value string) error {
	s := findSetting(name)
	if s == nil {
		return &SettingError{fmt.Errorf("unknown setting %q", name)}
	}
	value = strings.TrimSpace(value)
	if strings.ContainsAny(value, "#\n\r") {
		return &SettingError{fmt.Errorf("%s: a value cannot hold '#' or a line break", s.name)}
	}
	lines, values, err := readFile(path)
	if err != nil {
		return err
	}
	var out []string
	done := false
	for _, l := range lines {
		if n, _, ok, _ := parseLine(l); ok && n == s.name {
			if value != "" && !done {
				out = append(out, s.name+" = "+value)
			}
			done = true
			continue
		}
		out = append(out, l)
	}
	if value != "" && !done {
		out = append(out, s.name+" = "+value)
	}
	if value == "" {
		delete(values, s.name)
	} else {
		values[s.name] = value
	}
	if _, err := build(values); err != nil {
		return &SettingError{err}
	}
	return writeFileAtomic(path, []byte(strings.Join(out, "\n")+"\n"), 0o644)
}

// writeFileAtomic replaces path with data: a synced temporary file renamed
// over it, then the folder synced. Only the default file's folder is made
// when missing: another file's missing folder is a mistyped name more
// often than a wish.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	dir := filepath.Dir(path)
	if dir == filepath.Dir(DefaultFile) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	} else if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("the folder %s does not exist", dir)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// File is the policy file as the worker last read it: it reads it
// again when the file changes, and keeps the last good policy while the
// file has an error (which it logs once).
type File struct {
	path string
	log  *slog.Logger

	mu     sync.Mutex
	policy Policy
	stamp  string // size, modification time and inode of the file read; "" when missing
	bad    string // the stamp of a file that did not parse
}

// NewFile reads the policy file at path; errors go to log.
func NewFile(path string, log *slog.Logger) *File {
	pf := &File{path: path, log: log, policy: Default(), stamp: "-"}
	pf.Get()
	return pf
}

// Get returns the policy in force, reading the file again if it changed.
func (pf *File) Get() Policy {
	pf.mu.Lock()
	defer pf.mu.Unlock()
	stamp := ""
	if fi, err := os.Stat(pf.path); err == nil {
		// The inode too: Set renames a new file into place, which a
		// change of the same size within the clock's grain would hide.
		ino := uint64(0)
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			ino = st.Ino
		}
		stamp = fmt.Sprintf("%d:%d:%d", fi.Size(), fi.ModTime().UnixNano(), ino)
	}
	if stamp == pf.stamp || stamp == pf.bad {
		return pf.policy
	}
	p, err := Load(pf.path)
	if err != nil {
		pf.bad = stamp
		pf.log.Error("policy file not applied; keeping the last good one", "err", err)
		return pf.policy
	}
	if pf.stamp != "-" {
		pf.log.Info("policy file read again", "path", pf.path)
	}
	pf.policy, pf.stamp, pf.bad = p, stamp, ""
	return p
}
