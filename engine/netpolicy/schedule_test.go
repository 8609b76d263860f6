package netpolicy

import (
	"testing"
	"time"
)

func TestParseDays(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string
	}{
		{"Mon-Fri", "Mon,Tue,Wed,Thu,Fri"},
		{"sat,SUN", "Sun,Sat"},
		{"Fri-Mon", "Sun,Mon,Fri,Sat"}, // over the week's end
		{"Wednesday", "Wed"},
		{"all", "all"},
		{"Sun-Sat", "all"},
	} {
		d, err := ParseDays(c.in)
		if err != nil || FormatDays(d) != c.want {
			t.Errorf("ParseDays(%q) = %s, %v; want %s", c.in, FormatDays(d), err, c.want)
		}
	}
	for _, bad := range []string{"", "Mon-", "Funday", "Mon,,Tue", "1-5"} {
		if _, err := ParseDays(bad); err == nil {
			t.Errorf("ParseDays(%q) accepted", bad)
		}
	}
	for _, bad := range []string{"8", "8-24", "-1-5", "a-b", "8-17-20"} {
		if _, _, err := ParseHours(bad); err == nil {
			t.Errorf("ParseHours(%q) accepted", bad)
		}
	}
}

// at is a local time in the week of Monday 2 March 2026.
func at(day time.Weekday, hour, minute int) time.Time {
	return time.Date(2026, 3, 1+int(day), hour, minute, 0, 0, time.Local)
}

func TestWindowContains(t *testing.T) {
	weekdays, _ := ParseDays("Mon-Fri")
	sunday, _ := ParseDays("Sun")
	for _, c := range []struct {
		name string
		w    Window
		t    time.Time
		want bool
	}{
		{"work hours, inside", Window{weekdays, 8, 17}, at(time.Tuesday, 8, 0), true},
		{"work hours, end is not included", Window{weekdays, 8, 17}, at(time.Tuesday, 17, 0), false},
		{"work hours, a minute before the end", Window{weekdays, 8, 17}, at(time.Tuesday, 16, 59), true},
		{"work hours on a Saturday", Window{weekdays, 8, 17}, at(time.Saturday, 10, 0), false},
		{"overnight, before midnight", Window{weekdays, 22, 6}, at(time.Friday, 23, 59), true},
		{"overnight, after midnight belongs to the day before", Window{weekdays, 22, 6}, at(time.Saturday, 0, 0), true},
		{"overnight, ends at 6", Window{weekdays, 22, 6}, at(time.Saturday, 6, 0), false},
		{"overnight into Monday from a Sunday window", Window{weekdays, 22, 6}, at(time.Monday, 3, 0), false},
		{"Sunday night runs into Monday: week rollover", Window{sunday, 22, 6}, at(time.Monday, 3, 0), true},
		{"Sunday night, the Sunday morning before is not it", Window{sunday, 22, 6}, at(time.Sunday, 3, 0), false},
		{"whole day", Window{sunday, 0, 0}, at(time.Sunday, 23, 59), true},
		{"whole day, next day", Window{sunday, 0, 0}, at(time.Monday, 0, 0), false},
	} {
		if got := c.w.Contains(c.t); got != c.want {
			t.Errorf("%s: Contains(%s) = %v", c.name, c.t.Format("Mon 15:04"), got)
		}
	}
}

func TestBandwidthAt(t *testing.T) {
	weekdays, _ := ParseDays("Mon-Fri")
	b := Bandwidth{
		Throttle: &Throttle{Window: Window{EveryDay, 8, 17}, Rate: 1000, Others: Unlimited},
		Work: &WorkLimits{Window: Window{weekdays, 9, 18},
			Work:    ClassLimits{Unlimited, Unlimited, 512, 128},
			NonWork: ClassLimits{Unlimited, Unlimited, Unlimited, 2048}},
		Maintenance: &MaintenanceLimits{Window: Window{EveryDay, 1, 3}, Limits: ClassLimits{Unlimited, 0, 0, 0}},
	}
	for _, c := range []struct {
		name                  string
		t                     time.Time
		fg, high, normal, low Kbps
	}{
		{"work hours and the daily window", at(time.Wednesday, 10, 0), Unlimited, 1000, 512, 128},
		{"work hours after the daily window", at(time.Wednesday, 17, 30), Unlimited, Unlimited, 512, 128},
		{"the daily window before work hours", at(time.Wednesday, 8, 30), Unlimited, 1000, 1000, 1000},
		{"the evening", at(time.Wednesday, 20, 0), Unlimited, Unlimited, Unlimited, 2048},
		{"Saturday in the daily window", at(time.Saturday, 10, 0), Unlimited, 1000, 1000, 1000},
		{"maintenance blocks every background priority", at(time.Thursday, 2, 0), Unlimited, 0, 0, 0},
		{"midnight: outside every window", at(time.Thursday, 0, 0), Unlimited, Unlimited, Unlimited, 2048},
	} {
		l := b.At(c.t)
		got := [4]Kbps{l.For(Foreground), l.For(High), l.For(Normal), l.For(Low)}
		if want := [4]Kbps{c.fg, c.high, c.normal, c.low}; got != want {
			t.Errorf("%s: limits %v, want %v", c.name, got, want)
		}
	}
	if l := (Bandwidth{}).At(at(time.Monday, 12, 0)); l.For(Low) != Unlimited || l.Total != Unlimited {
		t.Errorf("no policy: %+v", l)
	}
}

func TestKbps(t *testing.T) {
	for in, want := range map[string]Kbps{"0": 0, "128": 128, "Unlimited": Unlimited, " 5 ": 5} {
		if got, err := ParseKbps(in); err != nil || got != want {
			t.Errorf("ParseKbps(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "-1", "1.5", "fast"} {
		if _, err := ParseKbps(bad); err == nil {
			t.Errorf("ParseKbps(%q) accepted", bad)
		}
	}
	if got := Kbps(1).BytesPerSecond(); got != 250 {
		t.Errorf("1 Kbps paces at %v B/s, want 250 (2 Kbps, the floor)", got)
	}
	if got := Kbps(8000).BytesPerSecond(); got != 1e6 {
		t.Errorf("8000 Kbps = %v B/s", got)
	}
}
