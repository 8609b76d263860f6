package storage

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// changePoll is how often a waiting Changes looks at the database's change
// counter: a read of shared memory, so cheap enough to do often.
const changePoll = 10 * time.Millisecond

// Changes tells when other connections commit to the database, from any
// process: it watches SQLite's data_version on a connection of its own.
// It is safe for concurrent use.
type Changes struct {
	mu   sync.Mutex
	conn *sql.Conn
	last int64
}

// Changes starts following commits from now on.
func (s *Store) Changes(ctx context.Context) (*Changes, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	c := &Changes{conn: conn}
	if c.last, err = c.version(ctx); err != nil {
		conn.Close()
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
	tick := time.NewTicker(changePoll)
	defer tick.Stop()
	for {
		v, err := c.version(ctx)
		if err != nil {
			return false, err
		}
		if v != c.last {
			c.last = v
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-deadline.C:
			return false, nil
		case <-tick.C:
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
	return c.conn.Close()
}
