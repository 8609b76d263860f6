package storage

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestChangesSeesAnotherHandlesCommit: a commit through another handle on
// the file (another process, for SQLite) ends a Wait; with no commit a
// Wait lasts until its deadline and says no commit came.
func TestChangesSeesAnotherHandlesCommit(t *testing.T) {
	ch, commit := followedStore(t)
	ctx := context.Background()

	quiet, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := ch.Wait(quiet, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with no commit returned %v before its context ended", err)
	}

	commit()
	bounded, cancel2 := context.WithTimeout(ctx, 10*time.Second)
	defer cancel2()
	if changed, err := ch.Wait(bounded, time.Hour); err != nil || !changed {
		t.Fatalf("Wait after another handle's commit: %v, %v; want true", changed, err)
	}
	// Seen once: the next Wait waits for the next commit.
	quiet2, cancel3 := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel3()
	if _, err := ch.Wait(quiet2, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a second Wait for the same commit returned %v", err)
	}
	if changed, err := ch.Wait(ctx, 20*time.Millisecond); err != nil || changed {
		t.Fatalf("a Wait that met its deadline returned %v, %v; want false", changed, err)
	}
}

// followedStore opens a store and a Changes that follows it, and returns
// them with a commit through another handle on the same file (another
// process, for SQLite).
func followedStore(t *testing.T) (*Changes, func()) {
	a, path := openTemp(t)
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	ch, err := a.Changes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Close() })
	commit := func() {
		t.Helper()
		job := Job{ID: "J", DisplayName: "j", Owner: "o", State: 3, Priority: 2, CreatedNS: 1, ModifiedNS: 1,
			MinRetryDelayS: 600, NoProgressS: 1, MaxDownloadS: 1, ErrorFile: -1}
		if err := b.Update(context.Background(), func(tx *Tx) error { return tx.InsertJob(job, nil) }); err != nil {
			t.Fatal(err)
		}
	}
	return ch, commit
}
