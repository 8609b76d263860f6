package storage

import (
	"context"
	"slices"
	"strconv"
	"testing"
)

// TestStatementsArePreparedOnce: the first two transactions to use a
// statement compile it (a command, which runs it once, compiles it once),
// the pool prepares it after the second, and the next transactions share
// it instead of compiling it again.
func TestStatementsArePreparedOnce(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	const q = `SELECT n FROM job_count`
	var compiled [][]string
	for range 4 {
		err := s.View(ctx, func(tx *Tx) error {
			var n int
			err := tx.queryRow(q).Scan(&n)
			compiled = append(compiled, slices.Clone(tx.unshared))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if want := [][]string{{q}, {q}, nil, nil}; !slices.EqualFunc(compiled, want, slices.Equal) {
		t.Errorf("statements compiled by each transaction: %q, want %q", compiled, want)
	}
	if s.stmts.lookup(q) == nil {
		t.Error("the read pool did not keep the statement")
	}
}

// Statements of changing text, each compiled once, are remembered only up
// to a bound: a worker that lives for months does not keep them all.
func TestStatementsSeenOnceAreBounded(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	for i := range 2 * maxOnce {
		err := s.View(ctx, func(tx *Tx) error {
			var n int
			return tx.queryRow(`SELECT n + ` + strconv.Itoa(i) + ` FROM job_count`).Scan(&n)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	s.stmts.mu.Lock()
	n := len(s.stmts.once)
	s.stmts.mu.Unlock()
	if n == 0 || n > maxOnce {
		t.Errorf("%d statements remembered as seen once, want 1 to %d", n, maxOnce)
	}
}
