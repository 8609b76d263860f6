package engine

import (
	"testing"

	"bits/hresult"
)

// TestNextEveryPair checks the state machine over every state x event pair
// against a literal table. "-" means the event is refused with
// BG_E_INVALID_STATE and the state stays.
func TestNextEveryPair(t *testing.T) {
	const x = "-"
	// Columns follow the Event order: Resume Suspend Cancel Complete Connect
	// Progress Done Transient Fatal Retry GiveUp Recover Block.
	table := map[State][numEvents]string{
		Queued:         {"QUEUED", "SUSPENDED", "CANCELLED", "ACKNOWLEDGED", "CONNECTING", x, x, x, x, x, x, x, "TRANSIENT_ERROR"},
		Connecting:     {"CONNECTING", "SUSPENDED", "CANCELLED", "ACKNOWLEDGED", x, "TRANSFERRING", "TRANSFERRED", "TRANSIENT_ERROR", "ERROR", x, x, "QUEUED", "TRANSIENT_ERROR"},
		Transferring:   {"TRANSFERRING", "SUSPENDED", "CANCELLED", "ACKNOWLEDGED", x, "TRANSFERRING", "TRANSFERRED", "TRANSIENT_ERROR", "ERROR", x, x, "QUEUED", "TRANSIENT_ERROR"},
		Suspended:      {"QUEUED", "SUSPENDED", "CANCELLED", "ACKNOWLEDGED", x, x, x, x, x, x, x, x, x},
		Error:          {"QUEUED", "SUSPENDED", "CANCELLED", "ACKNOWLEDGED", x, x, x, x, x, x, x, x, x},
		TransientError: {"QUEUED", "SUSPENDED", "CANCELLED", "ACKNOWLEDGED", x, x, x, x, "ERROR", "QUEUED", "ERROR", x, x},
		Transferred:    {"QUEUED", "SUSPENDED", "CANCELLED", "ACKNOWLEDGED", x, x, x, x, x, x, x, x, x},
		Acknowledged:   {x, x, x, x, x, x, x, x, x, x, x, x, x},
		Cancelled:      {x, x, x, x, x, x, x, x, x, x, x, x, x},
	}
	if len(table) != 9 {
		t.Fatalf("table covers %d states, want 9", len(table))
	}
	for s := Queued; s <= Cancelled; s++ {
		row, ok := table[s]
		if !ok {
			t.Fatalf("no row for %v", s)
		}
		for ev := Event(0); ev < numEvents; ev++ {
			got, err := Next(s, ev)
			want := row[ev]
			if want == x {
				if !hresult.Is(err, hresult.BG_E_INVALID_STATE) || got != s {
					t.Errorf("Next(%v, %v) = %v, %v; want refusal with BG_E_INVALID_STATE", s, ev, got, err)
				}
				continue
			}
			if err != nil || got.String() != want {
				t.Errorf("Next(%v, %v) = %v, %v; want %s", s, ev, got, err, want)
			}
		}
	}
}

func TestStateNumbersMatchBITS(t *testing.T) {
	want := []string{"QUEUED", "CONNECTING", "TRANSFERRING", "SUSPENDED", "ERROR", "TRANSIENT_ERROR",
		"TRANSFERRED", "ACKNOWLEDGED", "CANCELLED"}
	for i, w := range want {
		if State(i).String() != w {
			t.Errorf("State(%d) = %v, want %s", i, State(i), w)
		}
	}
	for i, w := range []string{"FOREGROUND", "HIGH", "NORMAL", "LOW"} {
		if p, ok := ParsePriority(w); !ok || int(p) != i || p.String() != w {
			t.Errorf("priority %s: %v %v", w, p, ok)
		}
	}
	for i, w := range []string{"DOWNLOAD", "UPLOAD", "UPLOAD-REPLY"} {
		if ty, ok := ParseJobType(w); !ok || int(ty) != i {
			t.Errorf("type %s: %v %v", w, ty, ok)
		}
	}
}

func TestParseGUID(t *testing.T) {
	for in, want := range map[string]string{
		"{6af46e48-41d3-453f-b7af-a694bbc823f7}":  "6AF46E48-41D3-453F-B7AF-A694BBC823F7",
		"{6AF46E48-41D3-453F-B7AF-A694BBC823F7}.": "6AF46E48-41D3-453F-B7AF-A694BBC823F7",
		"6AF46E48-41D3-453F-B7AF-A694BBC823F7":    "",
		"{6AF46E48-41D3-453F-B7AF-A694BBC823FZ}":  "",
		"{6AF46E4841D3-453F-B7AF-A694BBC823F7-}":  "",
		"myjob":                                   "",
	} {
		got, ok := ParseGUID(in)
		if got != want || ok != (want != "") {
			t.Errorf("ParseGUID(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}
