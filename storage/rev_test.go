package storage

import (
	"context"
	"testing"
)

// TestRevisionMovesWithEveryChange: each way the store changes a job or
// its totals moves the job's revision, which is what tells the worker to
// read the job again; and the revision comes from the state index.
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
		var revs map[string]int64
		if err := s.View(ctx, func(tx *Tx) (err error) { revs, err = tx.Revisions(1, 2); return err }); err != nil {
			t.Fatal(err)
		}
		r, ok := revs[id]
		if !ok {
			t.Fatalf("no revision for the job: %v", revs)
		}
		return r
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
