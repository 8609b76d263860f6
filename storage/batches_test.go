package storage

import (
	"context"
	"errors"
	"testing"
)

// In Batches, a job refused for its ID writes nothing, neither its files
// nor the triggers' count and totals, and the transaction goes on; the
// connection goes back to the pool with the default temporary store.
func TestBatchesRefusedJobWritesNothing(t *testing.T) {
	s, _ := openTemp(t)
	s.db.SetMaxOpenConns(1) // the connection checked at the end is the one Batches used
	ctx := context.Background()
	files := func(id string, n int) []File {
		fs := []File{{JobID: id, RemoteName: "r", LocalName: "l", BytesTotal: -1}}
		for i := 1; i < n; i++ {
			fs = append(fs, File{JobID: id, Idx: i, RemoteName: "r", LocalName: "l", BytesTotal: 5})
		}
		return fs
	}
	err := s.Batches(ctx, func(update func(func(*Tx) error) error) error {
		return update(func(tx *Tx) error {
			for _, id := range []string{"A", "B", "A", "C"} {
				err := tx.InsertJob(Job{ID: id, DisplayName: id, Owner: "o"}, files(id, 2))
				if id == "A" && errors.Is(err, ErrExists) {
					continue
				}
				if err != nil {
					return err
				}
			}
			if err := tx.InsertJob(Job{ID: "B", Owner: "o"}, files("B", 3)); !errors.Is(err, ErrExists) {
				t.Errorf("a second job B: %v, want ErrExists", err)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx *Tx) error {
		n, err := tx.CountJobs()
		if n != 3 {
			t.Errorf("job count %d, want 3", n)
		}
		var ids []string
		err = errors.Join(err, tx.EachSummary(func(m Summary) error {
			ids = append(ids, m.ID)
			fs, err := tx.Files(m.ID)
			if m.FilesTotal != 2 || m.BytesKnown != 5 || m.SizesUnknown != 1 || len(fs) != 2 || err != nil {
				t.Errorf("job %s totals %+v, %d files (%v)", m.ID, m, len(fs), err)
			}
			return nil
		}))
		if len(ids) != 3 || ids[0] != "A" || ids[1] != "B" || ids[2] != "C" {
			t.Errorf("jobs %v, want A, B and C", ids)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var temp, pages int
	if err := s.db.QueryRowContext(ctx, `PRAGMA temp_store`).Scan(&temp); err != nil || temp != 0 {
		t.Errorf("temp_store %d, %v after Batches; want 0 (default)", temp, err)
	}
	if err := s.db.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&pages); err != nil || pages != 1000 {
		t.Errorf("wal_autocheckpoint %d, %v after Batches; want 1000 (default)", pages, err)
	}
	if err := s.db.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&pages); err != nil || pages != -2000 {
		t.Errorf("cache_size %d, %v after Batches; want -2000 (default)", pages, err)
	}
}
