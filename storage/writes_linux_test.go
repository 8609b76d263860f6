package storage

import (
	"context"
	"testing"
	"time"
)

// TestWritesAreNoticed: on Linux a Changes hears of a commit by another
// handle through inotify, not by polling: the notice itself comes.
func TestWritesAreNoticed(t *testing.T) {
	a, path := openTemp(t)
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	c, err := a.Changes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.writes == nil {
		t.Fatal("no inotify watch: Changes polls")
	}
	job := Job{ID: "J", DisplayName: "j", Owner: "o", State: 3, Priority: 2, CreatedNS: 1, ModifiedNS: 1,
		MinRetryDelayS: 600, NoProgressS: 1, MaxDownloadS: 1, ErrorFile: -1}
	if err := b.Update(ctx, func(tx *Tx) error { return tx.InsertJob(job) }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.writes.c:
	case <-time.After(10 * time.Second):
		t.Fatal("no notice of a commit in 10 s")
	}
}
