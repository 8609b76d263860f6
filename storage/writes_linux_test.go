package storage

import (
	"testing"
	"time"
)

// TestWritesAreNoticed: on Linux a Changes hears of a commit by another
// handle through inotify, not by polling: the notice itself comes.
func TestWritesAreNoticed(t *testing.T) {
	c, commit := followedStore(t)
	if c.writes == nil {
		t.Fatal("no inotify watch: Changes polls")
	}
	commit()
	select {
	case <-c.writes.c:
	case <-time.After(10 * time.Second):
		t.Fatal("no notice of a commit in 10 s")
	}
}
