package storage

import (
	"context"
	"errors"
	"testing"
)

// In Batches, a savepoint that fails takes back only its own rows, and the
// triggers' count and totals with them; the connection goes back to the
// pool with the default temporary store.
func TestBatchesSavepointsTakeBackOnlyThemselves(t *testing.T) {
	s, _ := openTemp(t)
	s.db.SetMaxOpenConns(1) // the connection checked at the end is the one Batches used
	ctx := context.Background()
	refused := errors.New("refused")
	err := s.Batches(ctx, func(update func(func(*Tx) error) error) error {
		return update(func(tx *Tx) error {
			for i, id := range []string{"A", "B", "C"} {
				err := tx.Savepoint(func() error {
					if err := tx.InsertJob(Job{ID: id, DisplayName: id, Owner: "o"}); err != nil {
						return err
					}
					if err := tx.InsertFiles([]File{{JobID: id, RemoteName: "r", LocalName: "l", BytesTotal: -1}, {JobID: id, Idx: 1, RemoteName: "r", LocalName: "l", BytesTotal: 5}}); err != nil {
						return err
					}
					if i == 1 {
						return refused
					}
					return nil
				})
				if err != nil && err != refused {
					return err
				}
			}
			err := tx.InsertJob(Job{ID: "A", Owner: "o"})
			if !errors.Is(err, ErrExists) {
				t.Errorf("a second job A: %v, want ErrExists", err)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(tx *Tx) error {
		n, err := tx.CountJobs()
		if n != 2 {
			t.Errorf("job count %d, want 2", n)
		}
		var ids []string
		err = errors.Join(err, tx.EachSummary(func(m Summary) error {
			ids = append(ids, m.ID)
			if m.FilesTotal != 2 || m.BytesKnown != 5 || m.SizesUnknown != 1 {
				t.Errorf("job %s totals %+v", m.ID, m)
			}
			return nil
		}))
		if len(ids) != 2 || ids[0] != "A" || ids[1] != "C" {
			t.Errorf("jobs %v, want A and C", ids)
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
}
