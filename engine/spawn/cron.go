package spawn

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Under cron, an @reboot line starts the worker at boot under a supervising
// parent (bitsjob worker --supervise), which starts it again within seconds
// when it dies; front ends start the same when no worker runs. The
// machine-wide variant is a file in /etc/cron.d that starts, at boot, the
// worker of each user whose state folder holds jobs.

// cronMark ends every crontab line that install writes.
const cronMark = "# bits transfer worker"

const cronSystemFile = "/etc/cron.d/bits-worker"

// cronLine returns the crontab line that starts the worker of home at boot.
func cronLine(home, program string) string {
	return cronEscape("@reboot BITS_HOME=" + shQuote(home) + " " + shQuote(program) + " worker --supervise " + cronMark)
}

// CronCommand returns the command of a crontab line as cron passes it to
// the shell: what follows the schedule, with \% made % again.
func CronCommand(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "@reboot ")
	if !ok {
		return "", false
	}
	return strings.ReplaceAll(rest, `\%`, "%"), true
}

func cronSystemLine(program string) string {
	return cronEscape("@reboot root " + shQuote(program) + " service start --all-users")
}

// shQuote quotes a word for sh.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// cronEscape escapes %, which cron turns into a line break.
func cronEscape(s string) string {
	return strings.ReplaceAll(s, "%", `\%`)
}

// ours reports whether a crontab line is the one install wrote for home,
// whatever the program.
func ours(line, home string) bool {
	return strings.HasSuffix(line, cronMark) && strings.Contains(line, "BITS_HOME="+cronEscape(shQuote(home))+" ")
}

type cron struct{}

func (cron) install(s *Setup, r *Report, rec *record) error {
	if s.System {
		changed, err := writeFile(cronSystemFile, []byte("# Written by `bitsjob service install --system`; `bitsjob service uninstall --system` removes it.\n"+cronSystemLine(s.Program)+"\n"), 0o644)
		if err != nil {
			return err
		}
		r.Changed = changed
		r.say("%s starts, at boot, the worker of each user whose state folder (~/.local/state/bits) holds jobs, as that user, under a parent that starts it again within seconds when it dies.", cronSystemFile)
		r.say("Commands start a user's worker the same way whenever it is needed.")
		cronNote(r)
		return nil
	}
	lines, err := crontab()
	if err != nil {
		return err
	}
	want := cronLine(s.Home, s.Program)
	var kept []string
	found := false
	for _, l := range lines {
		switch {
		case l == want && !found:
			found = true
			kept = append(kept, l)
		case ours(l, s.Home):
		default:
			kept = append(kept, l)
		}
	}
	if !found {
		if err := setCrontab(append(kept, want)); err != nil {
			return err
		}
		r.Changed = true
	}
	r.say("Your crontab starts the worker at boot: %s", want)
	r.say("The worker runs under a parent (bitsjob worker --supervise) that starts it again within %s when it dies; commands start the same whenever no worker runs. Its log: %s, rotated at 10 MB.", firstRestart, filepath.Join(s.Home, LogFile))
	cronNote(r)
	return nil
}

// cronNote says when cron itself does not run, as in many containers.
func cronNote(r *Report) {
	if !cronRuns() {
		r.say("No cron daemon runs on this machine now: the @reboot line takes effect when cron runs at boot (Debian: apt-get install cron; in a container, start cron in its entry point).")
	}
}

func (cron) uninstall(s *Setup, r *Report, _ *record) error {
	if s.System {
		if err := os.Remove(cronSystemFile); err == nil {
			r.say("Removed %s.", cronSystemFile)
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	if _, err := exec.LookPath("crontab"); err != nil {
		return nil // no crontab, so nothing of ours in it
	}
	lines, err := crontab()
	if err != nil {
		return err
	}
	var kept []string
	for _, l := range lines {
		if ours(l, s.Home) {
			r.say("Removed from your crontab: %s", l)
			continue
		}
		kept = append(kept, l)
	}
	if len(kept) == len(lines) {
		return nil
	}
	return setCrontab(kept)
}

func (cron) status(s *Setup, st *Status, _ *record) {
	if s.System {
		if b, err := os.ReadFile(cronSystemFile); err == nil {
			st.Active = strings.Contains(string(b), "service start --all-users")
			st.Details = append(st.Details, cronSystemFile+" starts every user's worker at boot.")
		}
	} else {
		lines, err := crontab()
		if err != nil {
			st.Details = append(st.Details, err.Error())
			return
		}
		for _, l := range lines {
			if ours(l, s.Home) {
				st.Active = true
				st.Details = append(st.Details, "Crontab line: "+l)
			}
		}
		if !st.Active {
			st.Details = append(st.Details, "The @reboot line is missing from your crontab: run bitsjob service install again.")
		}
	}
	if !cronRuns() {
		st.Details = append(st.Details, "No cron daemon runs now: @reboot lines take effect when cron runs at boot.")
	}
}

// crontab returns the lines of the user's crontab; none is no lines.
func crontab() ([]string, error) {
	cmd := exec.Command("crontab", "-l")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "no crontab for") {
			return nil, nil
		}
		return nil, fmt.Errorf("crontab -l: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	text := strings.TrimSuffix(string(out), "\n")
	if text == "" {
		return nil, nil
	}
	return strings.Split(text, "\n"), nil
}

// setCrontab replaces the user's crontab; no lines removes it.
func setCrontab(lines []string) error {
	if len(lines) == 0 {
		_, err := run("crontab", "-r")
		return err
	}
	cmd := exec.Command("crontab", "-")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("crontab -: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// cronRuns reports whether a cron daemon runs (Linux: by process name).
func cronRuns() bool {
	comms, err := filepath.Glob("/proc/[0-9]*/comm")
	if err != nil || len(comms) == 0 {
		return true // cannot tell: assume the usual
	}
	for _, c := range comms {
		b, _ := os.ReadFile(c)
		switch strings.TrimSpace(string(b)) {
		case "cron", "crond", "cronie", "busybox-crond":
			return true
		}
	}
	return false
}
