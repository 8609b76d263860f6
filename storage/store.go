// Package storage keeps jobs and files in a SQLite database. It knows rows and
// transactions, not job rules: the engine decides what may change, storage
// makes each change atomic and safe across processes. It imports nothing of
// the project.
package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed sql/*.sql
var migrations embed.FS

// ErrNotFound is returned when a job does not exist.
var ErrNotFound = errors.New("storage: not found")

// Store is an open job database. It is safe for concurrent use, and several
// processes may open the same file: writes take SQLite's write lock at BEGIN
// (BEGIN IMMEDIATE), so read-modify-write transactions never interleave.
type Store struct {
	// db is one pool for reads and writes: a write begins IMMEDIATE, a
	// read DEFERRED (readers never wait for writers in WAL mode). A
	// command, whose reads and writes come one after the other, opens one
	// connection (each open reads the schema and sets the pragmas: a
	// tenth of a command's time).
	db *sql.DB
	// wmu queues this process's writers. Without it they would meet at
	// SQLite's write lock, whose busy handler sleeps 1 to 100 ms between
	// tries: the worker's transfers, each writing its checkpoints and
	// files' ends, would wait out those sleeps rather than each other.
	wmu    sync.Mutex
	txs    atomic.Int64 // transactions begun, reads and writes
	stmts  *statements  // prepared once for the pool, shared by its transactions
	writes atomic.Int64 // write transactions committed
	file   string       // the database's file
}

// Open opens or creates the database at file (mode 0600) and brings its
// schema up to date.
func Open(file string) (*Store, error) {
	// Never through a link, and only the caller's own file is made
	// private: root opens users' databases too, and they are the users'.
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0o600)
	if err != nil {
		return nil, err
	}
	err = private(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Deleted rows are overwritten with zeros, so a removed password
	// stays in no free page; Scrub empties the WAL's older copies.
	q.Add("_pragma", "secure_delete(1)")
	q.Set("_txlock", "immediate") // reads ask for a read-only transaction: DEFERRED
	db, err := sql.Open("sqlite", "file:"+file+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, stmts: newStatements(db), file: file}
	// Two processes that open a new database at once (a worker that
	// systemd starts and the command that installed it) can find it busy
	// while the other one sets it up, before any busy timeout applies.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := s.migrate(context.Background())
		if err == nil {
			return s, nil
		}
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			s.Close()
			return nil, fmt.Errorf("storage: migrate %s: %w", file, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// private makes the database file mode 0600 if it is the caller's; it
// must be a regular file.
func private(f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("storage: %s is not a regular file", f.Name())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return nil
	}
	return f.Chmod(0o600)
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.close()
	return s.db.Close()
}

// Version returns the schema version: the number of the last migration applied.
func (s *Store) Version(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func (s *Store) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "sql/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	// Most opens find the schema current: a read says so without taking
	// the write lock, which every command would otherwise wait for.
	latest := migrationVersion(names[len(names)-1])
	if v, err := s.Version(ctx); err == nil && latest >= 0 && v >= latest {
		return nil
	}
	// Foreign keys are off while the migrations run, as SQLite's way of
	// rebuilding a table asks (dropping a parent table would delete its
	// children's rows), and checked before they commit. The pragma is
	// the connection's, and has no effect inside a transaction.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
		return err
	}
	defer func() {
		if _, err := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); err != nil {
			conn.Raw(func(any) error { return driver.ErrBadConn }) // not back to the pool without them
		}
	}()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL) STRICT`); err != nil {
		return err
	}
	var have int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
		return err
	}
	for _, name := range names {
		base := path.Base(name)
		v := migrationVersion(base)
		if v < 0 {
			return fmt.Errorf("migration %s: no version number", base)
		}
		if v <= have {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			return fmt.Errorf("%s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, v, base); err != nil {
			return err
		}
	}
	var broken bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pragma_foreign_key_check)`).Scan(&broken); err != nil {
		return err
	}
	if broken {
		return errors.New("storage: the migrations left rows whose foreign keys match no row")
	}
	return tx.Commit()
}

// migrationVersion is the version number a migration file's name starts
// with, or -1.
func migrationVersion(name string) int {
	v, err := strconv.Atoi(strings.SplitN(path.Base(name), "_", 2)[0])
	if err != nil {
		return -1
	}
	return v
}

// Update runs fn in a write transaction: all of fn's changes land, or none.
// The process's writers take turns; fn must not call Update itself.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := s.run(ctx, s.db, s.stmts, nil, fn); err != nil {
		return err
	}
	s.writes.Add(1)
	return nil
}

// Writes returns how many write transactions this Store committed: tests
// count what a transfer costs the store.
func (s *Store) Writes() int64 { return s.writes.Load() }

// View runs fn in a read transaction that sees one consistent snapshot.
func (s *Store) View(ctx context.Context, fn func(*Tx) error) error {
	return s.run(ctx, s.db, s.stmts, &sql.TxOptions{ReadOnly: true}, fn)
}

// Batches runs fn with a connection of its own for a long series of
// write transactions, which each call of update runs as Update would. On
// that connection statements keep their undo pages in memory, not in a
// temporary file written page by page; the page cache is 16 MB instead
// of 2; and the WAL is copied into the database every 64 MB it grows
// instead of every 4 MB. Inserts at random keys (GUIDs) dirty pages all
// over the indexes: a small cache writes them to the WAL before the commit
// and reads them back, and each checkpoint copies them again. (A 32 or 64
// MB cache was slower: its pages cost more to get and to free.) The
// connection goes back to the pool as it came: on every connection, a
// list's sort would hold its rows in memory.
func (s *Store) Batches(ctx context.Context, fn func(update func(func(*Tx) error) error) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var pages, cache int
	if err := conn.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&pages); err != nil {
		return err
	}
	if err := conn.QueryRowContext(ctx, `PRAGMA cache_size`).Scan(&cache); err != nil {
		return err
	}
	for _, p := range []string{`PRAGMA temp_store = MEMORY`, `PRAGMA wal_autocheckpoint = 16384`, `PRAGMA cache_size = -16384`} {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			return err
		}
	}
	defer func() {
		after := context.WithoutCancel(ctx)
		conn.ExecContext(after, `PRAGMA temp_store = DEFAULT`)
		conn.ExecContext(after, `PRAGMA wal_autocheckpoint = `+strconv.Itoa(pages))
		conn.ExecContext(after, `PRAGMA cache_size = `+strconv.Itoa(cache))
	}()
	// Its transactions share no statements: the pool's would be prepared
	// on another connection while this one is held, and a pool of one
	// would wait for ever.
	return fn(func(f func(*Tx) error) error { return s.run(ctx, conn, nil, nil, f) })
}

// Transactions is how many read and write transactions s has run: what a
// process costs the store, counted rather than timed.
func (s *Store) Transactions() int64 { return s.txs.Load() }

func (s *Store) run(ctx context.Context, db interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}, shared *statements, opts *sql.TxOptions, fn func(*Tx) error) error {
	s.txs.Add(1)
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	t := &Tx{ctx: ctx, tx: tx, stmts: map[string]*sql.Stmt{}, shared: shared}
	if err := fn(t); err != nil {
		return ended(ctx, err)
	}
	if err := tx.Commit(); err != nil {
		return ended(ctx, err)
	}
	// Prepared after the transaction, when its connection is free again:
	// a transaction that waited for another connection could wait for
	// ever in a pool of one.
	shared.learn(ctx, t.unshared)
	return nil
}

// ended is err, or ctx's error when ctx ended the transaction: database/sql
// rolls it back then, and later statements say only sql.ErrTxDone.
func ended(ctx context.Context, err error) error {
	if errors.Is(err, sql.ErrTxDone) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// statements are a pool's prepared statements, shared by its
// transactions: a statement used again is compiled once per connection
// rather than once per transaction (compiling was a third of the cost of
// the worker's records). Statements of changing text (lists of values)
// would be many: past maxStatements, the rest are compiled each time. A
// nil *statements shares nothing.
type statements struct {
	db *sql.DB
	mu sync.Mutex
	m  map[string]*sql.Stmt
	// once holds the statements compiled by one transaction so far: a
	// statement is prepared for the pool when a second one needs it, so
	// that a command, which runs each of its statements once, compiles
	// none twice. Statements of changing text would fill it for ever:
	// past maxOnce it starts again.
	once map[string]bool
}

const (
	maxStatements = 256
	maxOnce       = 4 * maxStatements
)

func newStatements(db *sql.DB) *statements {
	return &statements{db: db, m: map[string]*sql.Stmt{}, once: map[string]bool{}}
}

func (p *statements) lookup(q string) *sql.Stmt {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[q]
}

// learn prepares the statements qs that are not prepared yet and that a
// transaction compiled before. It must not run inside a transaction of the
// same pool.
func (p *statements) learn(ctx context.Context, qs []string) {
	if p == nil {
		return
	}
	for _, q := range qs {
		p.mu.Lock()
		_, have := p.m[q]
		full := len(p.m) >= maxStatements
		first := !p.once[q] && !full
		if first {
			if len(p.once) >= maxOnce {
				clear(p.once)
			}
			p.once[q] = true
		}
		p.mu.Unlock()
		if have || full || first {
			continue
		}
		st, err := p.db.PrepareContext(ctx, q)
		if err != nil {
			continue // compiled within each transaction, as before
		}
		p.mu.Lock()
		if _, have := p.m[q]; have {
			st.Close()
		} else {
			p.m[q] = st
		}
		p.mu.Unlock()
	}
}

func (p *statements) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, st := range p.m {
		st.Close()
	}
	clear(p.m)
	clear(p.once)
}

// Scrub copies every committed change into the database file and empties
// the WAL. The WAL keeps each version of a page until then, so a row
// deleted under secure_delete is gone from every file only after Scrub.
// It waits (up to the busy timeout) for readers of older versions.
func (s *Store) Scrub(ctx context.Context) error {
	var busy, logFrames, done int
	err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logFrames, &done)
	if err == nil && busy != 0 {
		err = errors.New("storage: the WAL is still in use")
	}
	return err
}
