package engine

import (
	"cmp"
	"slices"
	"time"
)

// A slotJob is a job as the scheduler sees it.
type slotJob struct {
	id       string
	priority Priority
	// since is when the job got its slot, for a running job; for a waiting
	// one, when it last had one (zero: never), so that the job that waited
	// longest goes first.
	since    time.Time
	created  time.Time
	stopping bool // running, but asked to give its slot up
}

// schedule decides which waiting jobs start and which running ones give
// their slot up, as BITS schedules:
//
//   - FOREGROUND jobs start at once and take no slot.
//   - Background jobs fill up to slots slots: higher priority first, then
//     the one that has waited longest since its last turn.
//   - A waiting job pre-empts a running job of lower priority.
//   - A waiting job takes the slot of a running job of its own priority
//     that has had it for a whole time slice: round robin.
//
// A job asked to stop keeps its slot until its runner ends (it records a
// checkpoint first); the waiting job it makes room for starts then.
func schedule(running, waiting []slotJob, slots int, slice time.Duration, now time.Time) (start, stop []string) {
	var bg []slotJob
	freeing := 0
	for _, r := range running {
		switch {
		case r.priority == Foreground:
		case r.stopping:
			freeing++
		default:
			bg = append(bg, r)
		}
	}
	waiting = slices.Clone(waiting)
	slices.SortStableFunc(waiting, func(a, b slotJob) int {
		return cmp.Or(cmp.Compare(a.priority, b.priority), a.since.Compare(b.since), a.created.Compare(b.created))
	})
	free := slots - len(bg) - freeing
	for _, w := range waiting {
		switch {
		case w.priority == Foreground:
			start = append(start, w.id)
			continue
		case free > 0:
			start = append(start, w.id)
			free--
			continue
		case freeing > 0:
			freeing-- // a slot being given up is this job's
			continue
		}
		v := victim(bg, w, slice, now)
		if v < 0 {
			break // later jobs rank no higher (FOREGROUND ones sort first): none finds a victim
		}
		stop = append(stop, bg[v].id)
		bg = slices.Delete(bg, v, v+1)
	}
	return start, stop
}

// victim picks the running job that gives its slot to w: the one of
// lowest priority below w's, else one of w's priority whose time slice is
// over; the one that has run longest among equals. -1 when there is none.
func victim(running []slotJob, w slotJob, slice time.Duration, now time.Time) int {
	best := -1
	for i, r := range running {
		lower := r.priority > w.priority
		turnOver := r.priority == w.priority && now.Sub(r.since) >= slice
		if !lower && !turnOver {
			continue
		}
		if best < 0 || r.priority > running[best].priority ||
			(r.priority == running[best].priority && r.since.Before(running[best].since)) {
			best = i
		}
	}
	return best
}
