package netpolicy

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Class is a job priority as BITS numbers them: Foreground, then the
// three background classes.
type Class int

const (
	Foreground Class = iota
	High
	Normal
	Low
	numClasses
)

// A Window is a span of hours on some days of the week, in local time.
// Start and End are whole hours (0-23); End is not included. A span whose
// End is before its Start runs past midnight and belongs to the day it
// starts on; Start == End is the whole day.
type Window struct {
	Days       [7]bool // indexed by time.Weekday
	Start, End int
}

// EveryDay is a Window's Days when the policy names none.
var EveryDay = [7]bool{true, true, true, true, true, true, true}

// Contains says whether t falls in the window.
func (w Window) Contains(t time.Time) bool {
	h := t.Hour()
	day := t.Weekday()
	switch {
	case w.Start == w.End:
		return w.Days[day]
	case w.Start < w.End:
		return w.Days[day] && h >= w.Start && h < w.End
	case h >= w.Start:
		return w.Days[day]
	case h < w.End:
		return w.Days[(day+6)%7] // the span began yesterday
	}
	return false
}

var dayNames = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}

// ParseDays reads days of the week: "Mon-Fri", "Sat,Sun", "Fri-Mon" (a
// range that runs over the week's end) or "all", by three-letter or full
// English names in any case.
func ParseDays(s string) ([7]bool, error) {
	var days [7]bool
	if strings.EqualFold(strings.TrimSpace(s), "all") {
		return EveryDay, nil
	}
	for _, p := range strings.Split(s, ",") {
		from, to, isRange := strings.Cut(p, "-")
		if !isRange {
			to = from
		}
		a, okA := parseDay(from)
		b, okB := parseDay(to)
		if !okA || !okB {
			return days, fmt.Errorf("%q is not a list of days such as Mon-Fri or Sat,Sun", s)
		}
		for d := a; ; d = (d + 1) % 7 {
			days[d] = true
			if d == b {
				break
			}
		}
	}
	return days, nil
}

func parseDay(s string) (time.Weekday, bool) {
	s = strings.TrimSpace(s)
	for i, n := range dayNames {
		full := time.Weekday(i).String()
		if strings.EqualFold(s, n) || strings.EqualFold(s, full) {
			return time.Weekday(i), true
		}
	}
	return 0, false
}

// FormatDays writes days as ParseDays reads them.
func FormatDays(days [7]bool) string {
	if days == EveryDay {
		return "all"
	}
	var names []string
	for d, on := range days {
		if on {
			names = append(names, dayNames[d])
		}
	}
	return strings.Join(names, ",")
}

// ParseHours reads a span of hours "8-17": from 08:00 up to 17:00.
func ParseHours(s string) (start, end int, err error) {
	from, to, ok := strings.Cut(s, "-")
	start, err1 := parseHour(from)
	end, err2 := parseHour(to)
	if !ok || err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("%q is not a span of hours such as 8-17", s)
	}
	return start, end, nil
}

// parseHour reads a whole hour, 0 to 23.
func parseHour(s string) (int, error) {
	h, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || h < 0 || h > 23 {
		return 0, fmt.Errorf("%q is not an hour from 0 to 23", s)
	}
	return h, nil
}

// Bandwidth is the bandwidth policy: the three BITS group policies that
// cap background transfers. A nil part is not configured. Foreground
// transfers are never capped by it.
type Bandwidth struct {
	// Throttle is MaxInternetBandwidth: one limit for all background
	// transfers together inside a daily window, another outside it.
	Throttle *Throttle
	// Work is EnableBandwidthLimits: a limit per background priority in
	// work hours, another outside them.
	Work *WorkLimits
	// Maintenance is EnableMaintenanceLimits: limits per background
	// priority that replace the work limits in maintenance hours.
	Maintenance *MaintenanceLimits
}

// Throttle caps all background transfers together.
type Throttle struct {
	Window       Window
	Rate, Others Kbps // inside the window, and at all other times
}

// ClassLimits are limits by priority; the Foreground entry is unused.
type ClassLimits [numClasses]Kbps

// WorkLimits cap each background priority by the work schedule.
type WorkLimits struct {
	Window        Window
	Work, NonWork ClassLimits
}

// MaintenanceLimits cap each background priority in maintenance hours.
type MaintenanceLimits struct {
	Window Window
	Limits ClassLimits
}

// Limits are the caps in force at one moment.
type Limits struct {
	Total Kbps        // all background transfers together
	Class ClassLimits // each priority; Foreground is always Unlimited
}

// At returns the limits in force at t.
func (b Bandwidth) At(t time.Time) Limits {
	l := Limits{Total: Unlimited, Class: ClassLimits{Unlimited, Unlimited, Unlimited, Unlimited}}
	if th := b.Throttle; th != nil {
		l.Total = th.Others
		if th.Window.Contains(t) {
			l.Total = th.Rate
		}
	}
	var class *ClassLimits
	switch {
	case b.Maintenance != nil && b.Maintenance.Window.Contains(t):
		class = &b.Maintenance.Limits
	case b.Work != nil && b.Work.Window.Contains(t):
		class = &b.Work.Work
	case b.Work != nil:
		class = &b.Work.NonWork
	}
	if class != nil {
		for c := High; c < numClasses; c++ {
			l.Class[c] = class[c]
		}
	}
	return l
}

// For returns the tightest limit on one priority: its own and the total.
func (l Limits) For(c Class) Kbps {
	if c == Foreground {
		return Unlimited
	}
	return l.Class[c].Tighter(l.Total)
}
