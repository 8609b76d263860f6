package storage

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// changePoll is how often a waiting Changes looks at the database's change
// counter where nothing tells it of writes to the database's files: a read
// of shared memory, but each wake-up of the process costs more than the
// read. Where the kernel tells of writes (inotify), it looks at each write,
// and every changeCheck in case a notice was lost.
const (
	changePoll   = 10 * time.Millisecond
	changeCheck  = time.Second
	changeSettle = 100 * time.Millisecond
)

// Changes tells when other connections commit to the database, from any
// process: it watches SQLite's data_version on a connection of its own.
// It is safe for concurrent use.
type Changes struct {
	mu   sync.Mutex
	conn *sql.Conn
	last int64
	// writes, when not nil, has a value after a write to the database's
	// files (its write-ahead log).
	writes *fileWrites
}

// Changes starts following commits from now on.
func (s *Store) Changes(ctx context.Context) (*Changes, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	c := &Changes{conn: conn, writes: watchWrites(s.file)}
	if c.last, err = c.version(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func (c *Changes) version(ctx context.Context) (int64, error) {
	var v int64
	err := c.conn.QueryRowContext(ctx, `PRAGMA data_version`).Scan(&v)
	return v, err
}

// Wait returns true when a commit has landed since the last Wait or
// Changed returned (or since Changes), false after atMost with none, or
// ctx's error.
func (c *Changes) Wait(ctx context.Context, atMost time.Duration) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	deadline := time.NewTimer(atMost)
	defer deadline.Stop()
	poll := changePoll
	var written <-chan struct{}
	if c.writes != nil {
		poll, written = changeCheck, c.writes.c
	}
	next := time.NewTimer(poll)
	defer next.Stop()
	var settle time.Time
	for {
		v, err := c.version(ctx)
		if err != nil {
			return false, err
		}
		if v != c.last {
			c.last = v
			return true, nil
		}
		if time.Now().Before(settle) {
			next.Reset(changePoll)
		} else {
			next.Reset(poll)
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-deadline.C:
			return false, nil
		case <-next.C:
		case <-written:
			// A commit writes the log before the index that the counter
			// reads: after a write, look again shortly for a while.
			settle = time.Now().Add(changeSettle)
		}
	}
}

// Changed reports whether a commit has landed since the last Wait or
// Changed returned, without waiting.
func (c *Changes) Changed(ctx context.Context) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, err := c.version(ctx)
	if err != nil || v == c.last {
		return false, err
	}
	c.last = v
	return true, nil
}

// Close stops following.
func (c *Changes) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.writes != nil {
		c.writes.close()
	}
	return c.conn.Close()
}
