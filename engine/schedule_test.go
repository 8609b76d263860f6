package engine

import (
	"slices"
	"testing"
	"time"
)

func TestSchedule(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	slice := 5 * time.Minute
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	job := func(id string, p Priority, since time.Duration) slotJob {
		j := slotJob{id: id, priority: p, created: t0}
		if since >= 0 {
			j.since = at(since)
		}
		return j
	}
	never := time.Duration(-1)
	cases := []struct {
		name             string
		running, waiting []slotJob
		slots            int
		now              time.Duration
		start, stop      []string
	}{
		{name: "foreground starts at once, beyond the slots",
			running: []slotJob{job("n1", Normal, 0), job("n2", Normal, 0)},
			waiting: []slotJob{job("f1", Foreground, never), job("f2", Foreground, never), job("n3", Normal, never)},
			slots:   2, now: time.Minute, start: []string{"f1", "f2"}},
		{name: "free slots go by priority",
			waiting: []slotJob{job("low", Low, never), job("high", High, never), job("normal", Normal, never)},
			slots:   2, start: []string{"high", "normal"}},
		{name: "a higher priority pre-empts the lowest running job",
			running: []slotJob{job("n1", Normal, 0), job("l1", Low, time.Minute)},
			waiting: []slotJob{job("h1", High, never)},
			slots:   2, now: 2 * time.Minute, stop: []string{"l1"}},
		{name: "among the lowest, the longest running gives way",
			running: []slotJob{job("l1", Low, time.Minute), job("l2", Low, 0)},
			waiting: []slotJob{job("n1", Normal, never)},
			slots:   2, now: 2 * time.Minute, stop: []string{"l2"}},
		{name: "the same priority waits for the time slice",
			running: []slotJob{job("n1", Normal, 0)},
			waiting: []slotJob{job("n2", Normal, never)},
			slots:   1, now: slice - time.Second},
		{name: "round robin once the slice is over",
			running: []slotJob{job("n1", Normal, 0)},
			waiting: []slotJob{job("n2", Normal, never)},
			slots:   1, now: slice, stop: []string{"n1"}},
		{name: "a lower priority never pre-empts, even after the slice",
			running: []slotJob{job("h1", High, 0)},
			waiting: []slotJob{job("n1", Normal, never)},
			slots:   1, now: time.Hour},
		{name: "the job that waited longest since its turn goes first",
			waiting: []slotJob{job("recent", Normal, 10*time.Minute), job("old", Normal, time.Minute), job("new", Normal, never)},
			slots:   2, now: time.Hour, start: []string{"new", "old"}},
		{name: "a slot being given up is not given twice",
			running: []slotJob{{id: "l1", priority: Low, since: t0, stopping: true}, job("l2", Low, 0)},
			waiting: []slotJob{job("h1", High, never), job("h2", High, never)},
			slots:   2, now: time.Minute, stop: []string{"l2"}},
		{name: "after the stop, the freed slot goes to the pre-empting job",
			running: []slotJob{job("l2", Low, 0)},
			waiting: []slotJob{job("h1", High, never), job("l1", Low, 0)},
			slots:   2, now: time.Minute, start: []string{"h1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start, stop := schedule(c.running, c.waiting, c.slots, slice, at(c.now))
			if !slices.Equal(start, c.start) || !slices.Equal(stop, c.stop) {
				t.Errorf("start %v stop %v, want start %v stop %v", start, stop, c.start, c.stop)
			}
		})
	}
}

// TestScheduleRoundRobin runs three jobs of one priority through one slot
// on an injected clock: each gets a turn in order, and none waits more
// than two slices.
func TestScheduleRoundRobin(t *testing.T) {
	slice := time.Minute
	now := time.Date(2026, 3, 1, 23, 58, 0, 0, time.UTC) // the turns cross midnight
	jobs := map[string]*slotJob{}
	for _, id := range []string{"a", "b", "c"} {
		jobs[id] = &slotJob{id: id, priority: Normal, created: now}
	}
	running := ""
	var order []string
	for range 9 {
		var run, wait []slotJob
		for id, j := range jobs {
			if id == running {
				run = append(run, *j)
			} else {
				wait = append(wait, *j)
			}
		}
		start, stop := schedule(run, wait, 1, slice, now)
		if len(stop) == 1 { // the runner ends, then the next scan starts the next job
			running = ""
			run = nil
			wait = append(wait, *jobs[stop[0]])
			start, _ = schedule(nil, wait, 1, slice, now)
		}
		if len(start) == 1 {
			running = start[0]
			jobs[running].since = now
			order = append(order, running)
		}
		now = now.Add(slice)
	}
	// The first three start in an order set by creation, equal here, so
	// check the rotation rather than the names.
	if len(order) != 9 {
		t.Fatalf("turns %v", order)
	}
	for i := 3; i < len(order); i++ {
		if order[i] != order[i-3] {
			t.Fatalf("turns %v are not a rotation", order)
		}
	}
	if order[0] == order[1] || order[1] == order[2] || order[0] == order[2] {
		t.Fatalf("turns %v: a job ran twice before another ran once", order)
	}
}
