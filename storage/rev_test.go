package storage

import (
	"context"
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
	if err := s.Update(ctx, func(tx *Tx) error { return tx.InsertJob(job) }); err != nil {
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
			return tx.InsertFile(File{JobID: id, RemoteName: "http://h/f", LocalName: "/tmp/f", BytesTotal: -1})
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
	}
}
