package storage

import (
	"context"
	"slices"
	"testing"
)

// TestRevisionMovesWithEveryChange: each way the store changes a job or
// its totals moves the job's revision, which is what tells the worker to
// read the job again; the revision comes from the state index, and, with
// its state, from the whole table when no state is named.
func TestRevisionMovesWithEveryChange(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	const id = "J"
	job := Job{ID: id, DisplayName: "j", Owner: "o", State: 1, MinRetryDelayS: 600, NoProgressS: 1, MaxDownloadS: 1, ErrorFile: -1}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.InsertJob(job, nil) }); err != nil {
		t.Fatal(err)
	}
	rev := func() int64 {
		t.Helper()
		var byState, all map[string]Revision
		err := s.View(ctx, func(tx *Tx) (err error) {
			if byState, err = tx.Revisions(1, 2); err != nil {
				return err
			}
			all, err = tx.Revisions()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		r, ok := byState[id]
		if !ok {
			t.Fatalf("no revision for the job: %v", byState)
		}
		if r.State != 1 || all[id] != r {
			t.Fatalf("the job stands at %+v by its state, %+v among all; want state 1 in both", r, all[id])
		}
		return r.Rev
	}
	// changed says whether the log of changes holds the job after entry
	// seq, and returns the log's last entry.
	changed := func(seq int64) (bool, int64) {
		t.Helper()
		var ids []string
		var last int64
		err := s.View(ctx, func(tx *Tx) error {
			var complete bool
			var err error
			ids, last, complete, err = tx.ChangesSince(seq)
			if err == nil && !complete {
				t.Errorf("the log does not reach back to entry %d", seq)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return slices.Contains(ids, id), last
	}
	if ok, _ := changed(0); !ok {
		t.Error("a new job is not in the log of changes")
	}
	_, seq := changed(0)
	last := rev()
	for _, c := range []struct {
		name   string
		change func(*Tx) error
	}{
		{"UpdateJob", func(tx *Tx) error { job.Description = "d"; _, err := tx.UpdateJob(job, 1); return err }},
		{"TouchJob", func(tx *Tx) error { return tx.TouchJob(id, 5) }},
		{"AddTransferTime", func(tx *Tx) error { return tx.AddTransferTime(id, 5) }},
		{"SetReplyProgress", func(tx *Tx) error { return tx.SetReplyProgress(id, "t", 1, 0) }},
		{"InsertFile", func(tx *Tx) error {
			return tx.InsertFiles([]File{{JobID: id, RemoteName: "http://h/f", LocalName: "/tmp/f", BytesTotal: -1}})
		}},
		{"SetFileProgress", func(tx *Tx) error {
			_, err := tx.SetFileProgress(id, 0, FileProgress{BytesTotal: 10, BytesDone: 4})
			return err
		}},
		{"DeleteFile", func(tx *Tx) error {
			_, err := tx.tx.ExecContext(tx.ctx, `DELETE FROM files WHERE job_id = ?`, id)
			return err
		}},
	} {
		if err := s.Update(ctx, c.change); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if r := rev(); r == last {
			t.Errorf("%s left the revision at %d", c.name, r)
		} else {
			last = r
		}
		var ok bool
		if ok, seq = changed(seq); !ok {
			t.Errorf("%s left no entry in the log of changes", c.name)
		}
	}
	if err := s.Update(ctx, func(tx *Tx) error { return tx.DeleteJob(id) }); err != nil {
		t.Fatal(err)
	}
	if ok, _ := changed(seq); !ok {
		t.Error("a deleted job is not in the log of changes")
	}
}

// TestChangeLogIsBounded: the log of changes keeps its last 10,000 entries
// or so, and a reader that fell further behind is told so.
func TestChangeLogIsBounded(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	job := Job{ID: "J", DisplayName: "j", Owner: "o", State: 1, MinRetryDelayS: 600, NoProgressS: 1, MaxDownloadS: 1, ErrorFile: -1}
	err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.InsertJob(job, nil); err != nil {
			return err
		}
		for i := range 12000 {
			if err := tx.TouchJob(job.ID, int64(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx *Tx) error {
		var n int
		if err := tx.tx.QueryRowContext(ctx, `SELECT count(*) FROM job_changes`).Scan(&n); err != nil {
			return err
		}
		if n > 11000 {
			t.Errorf("the log holds %d entries", n)
		}
		ids, last, complete, err := tx.ChangesSince(0)
		if err != nil {
			return err
		}
		if complete || last != 12001 || !slices.Equal(ids, []string{"J"}) {
			t.Errorf("ChangesSince(0) = %v, %d, complete %v; want [J], 12001, false", ids, last, complete)
		}
		if _, _, complete, err = tx.ChangesSince(last - 100); err != nil || !complete {
			t.Errorf("a reader 100 entries behind: complete %v, %v", complete, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
