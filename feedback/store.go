package feedback

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"

	"github.com/hone-ai/hone/migrations"
)

// Connection settings. Every connection gets them from the DSN, so they hold
// for every connection database/sql opens.
const (
	// busyTimeoutMS is how long SQLite itself waits for another writer
	// before giving up with SQLITE_BUSY; the store then retries (retryFor).
	busyTimeoutMS = 5000
	// retryFor bounds how long a write keeps retrying on SQLITE_BUSY before
	// the caller sees ErrBusy (never SQLite's "database is locked").
	retryFor = 2 * time.Minute

	// synchronous=FULL: in WAL mode NORMAL already survives a killed process
	// (the WAL is intact; only fsync is skipped), but a power cut or kernel
	// crash can lose the last commits. FULL fsyncs the WAL at every commit, so
	// a rating hone has acknowledged survives power loss as well. Writes here
	// happen at human speed (a rating, a finished reply), so the one fsync per
	// commit (~1 ms on an SSD, see BenchmarkRate) is cheap insurance for an
	// annotator's afternoon of work.
	synchronous = "FULL"
)

// Store is the SQLite-backed feedback store. It is safe for concurrent use
// by goroutines and by several processes on the same file.
type Store struct {
	db   *sql.DB
	path string
	now  func() time.Time
}

// NewestVersion is the newest schema version this binary knows.
func NewestVersion() (int64, error) {
	// Listing the embedded sources needs no database, but goose wants a
	// handle; sql.Open connects lazily, so this one never opens anything.
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return 0, fmt.Errorf("feedback: migrations: %w", err)
	}
	defer db.Close()
	p, err := newProvider(db)
	if err != nil {
		return 0, err
	}
	srcs := p.ListSources()
	if len(srcs) == 0 {
		return 0, errors.New("feedback: no embedded migrations")
	}
	return srcs[len(srcs)-1].Version, nil
}

func newProvider(db *sql.DB) (*goose.Provider, error) {
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("feedback: loading embedded migrations: %w", err)
	}
	return p, nil
}

// Open opens (creating if needed) the store at path: the folder is created
// 0700 and the file 0600 when missing, WAL is switched on, and pending
// migrations are applied, each in its own transaction. A database whose
// schema is newer than this binary is refused with *NewerDatabaseError and
// not modified in any way (the check runs on a read-only connection first).
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("feedback: open: %w: empty database path", ErrInvalid)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("feedback: open %s: %w", path, err)
	}
	newest, err := NewestVersion()
	if err != nil {
		return nil, err
	}

	current := int64(-1) // -1: a new file
	if st, err := os.Stat(abs); err == nil {
		if st.IsDir() {
			return nil, fmt.Errorf("feedback: open %s: is a directory", abs)
		}
		if current, err = readVersion(ctx, abs); err != nil {
			return nil, err
		}
		if current > newest {
			return nil, &NewerDatabaseError{Path: abs, DBVersion: current, Newest: newest}
		}
		if st.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(abs, 0o600); err != nil {
				return nil, fmt.Errorf("feedback: restricting %s to 0600: %w", abs, err)
			}
		}
	} else if errors.Is(err, fs.ErrNotExist) {
		if err := createFile(abs); err != nil {
			return nil, err
		}
	} else {
		return nil, fmt.Errorf("feedback: open %s: %w", abs, err)
	}

	db, err := sql.Open("sqlite", dsn(abs, false))
	if err != nil {
		return nil, fmt.Errorf("feedback: open %s: %w", abs, err)
	}
	s := &Store{db: db, path: abs, now: time.Now}
	if err := s.init(ctx, current, newest); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database. The last connection to close checkpoints the
// WAL and removes the -wal and -shm files.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("feedback: closing %s: %w", s.path, err)
	}
	return nil
}

// Path is the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// DB exposes the underlying handle for read-only diagnostics and tests.
func (s *Store) DB() *sql.DB { return s.db }

func createFile(abs string) error {
	dir := filepath.Dir(abs)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("feedback: creating folder %s: %w", dir, err)
		}
	}
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("feedback: creating %s: %w", abs, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("feedback: creating %s: %w", abs, err)
	}
	return nil
}

// dsn builds a file: URI (so SQLite honours mode=ro) with the connection
// settings. _txlock=immediate makes every read-write transaction take the
// write lock at BEGIN, where the busy timeout applies, instead of failing
// with SQLITE_BUSY_SNAPSHOT when a reader upgrades to a writer.
func dsn(abs string, readOnly bool) string {
	esc := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(filepath.ToSlash(abs))
	if readOnly {
		return fmt.Sprintf("file:%s?mode=ro&_busy_timeout=%d", esc, busyTimeoutMS)
	}
	return fmt.Sprintf("file:%s?_busy_timeout=%d&_foreign_keys=1&_synchronous=%s&_txlock=immediate",
		esc, busyTimeoutMS, synchronous)
}

// readVersion reads the goose schema version without writing anything,
// so that refusing a newer database leaves it exactly as it was (goose
// itself would create its version table). 0: no migrations yet.
//
// A read-only connection to a WAL database still creates the -wal and -shm
// files. When there is no -wal file the database file holds everything, so
// it is read with immutable=1, which creates nothing; if the file changed
// meanwhile (another process opened and wrote it), it is read again the
// ordinary read-only way, whose -wal/-shm then belong to that process.
func readVersion(ctx context.Context, abs string) (int64, error) {
	before, err := os.Stat(abs)
	if err != nil {
		return 0, fmt.Errorf("feedback: reading schema version of %s: %w", abs, err)
	}
	if _, err := os.Stat(abs + "-wal"); errors.Is(err, fs.ErrNotExist) {
		v, err := queryVersion(ctx, abs, true)
		after, serr := os.Stat(abs)
		_, werr := os.Stat(abs + "-wal")
		if err == nil && serr == nil && errors.Is(werr, fs.ErrNotExist) &&
			after.Size() == before.Size() && after.ModTime().Equal(before.ModTime()) {
			return v, nil
		}
	}
	return queryVersion(ctx, abs, false)
}

func queryVersion(ctx context.Context, abs string, immutable bool) (int64, error) {
	d := dsn(abs, true)
	if immutable {
		d += "&immutable=1"
	}
	db, err := sql.Open("sqlite", d)
	if err != nil {
		return 0, fmt.Errorf("feedback: reading schema version of %s: %w", abs, err)
	}
	defer db.Close()
	var v int64
	err = retry(ctx, func() error {
		var n int
		if err := db.QueryRowContext(ctx,
			`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version'`).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			v = 0
			return nil
		}
		return db.QueryRowContext(ctx,
			`SELECT coalesce(max(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&v)
	})
	if err != nil {
		return 0, fmt.Errorf("feedback: reading schema version of %s (is it a hone database?): %w", abs, err)
	}
	return v, nil
}

func (s *Store) init(ctx context.Context, current, newest int64) error {
	// journal_mode is persistent in the file; setting it needs a moment of
	// exclusive access, so retry while other processes hold it.
	err := retry(ctx, func() error {
		var mode string
		if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode); err != nil {
			return err
		}
		if !strings.EqualFold(mode, "wal") {
			return fmt.Errorf("journal_mode is %q, want wal", mode)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("feedback: enabling WAL on %s: %w", s.path, err)
	}
	if current == newest {
		return nil
	}
	return s.migrate(ctx, newest)
}

// migrate applies pending migrations. Several processes may open a fresh
// or old database at once; an advisory lock on the database file makes them
// take turns (the second finds nothing pending).
func (s *Store) migrate(ctx context.Context, newest int64) error {
	unlock, err := lockFile(ctx, s.path)
	if err != nil {
		return fmt.Errorf("feedback: locking %s for migration: %w", s.path, err)
	}
	defer unlock()
	p, err := newProvider(s.db)
	if err != nil {
		return err
	}
	err = retry(ctx, func() error {
		cur, err := p.GetDBVersion(ctx)
		if err == nil && cur > newest {
			return &NewerDatabaseError{Path: s.path, DBVersion: cur, Newest: newest}
		}
		_, err = p.Up(ctx)
		return err
	})
	if err != nil {
		var ne *NewerDatabaseError
		if errors.As(err, &ne) {
			return err
		}
		return fmt.Errorf("feedback: migrating %s: %w", s.path, err)
	}
	return nil
}

// isBusy reports SQLITE_BUSY / SQLITE_LOCKED (any extended code).
func isBusy(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code() & 0xff
		return c == 5 || c == 6
	}
	return false
}

// retry runs fn until it succeeds, fails with something other than
// SQLITE_BUSY, ctx ends, or retryFor passes (then ErrBusy, never SQLite's
// "database is locked"). fn must be safe to run again.
func retry(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(retryFor)
	wait := 2 * time.Millisecond
	for {
		err := fn()
		if err == nil || !isBusy(err) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: another process kept the database locked for over %v", ErrBusy, retryFor)
		}
		t := time.NewTimer(wait/2 + rand.N(wait))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
}

// write runs fn in an IMMEDIATE transaction, retrying the whole
// transaction on SQLITE_BUSY. fn may run more than once.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return retry(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

// read runs fn in a read-only (deferred) transaction: one consistent
// snapshot across several queries.
func (s *Store) read(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return retry(ctx, func() error {
		tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return err
		}
		defer tx.Rollback()
		return fn(tx)
	})
}

// nextSeq takes the next value of the store-wide change sequence.
func nextSeq(ctx context.Context, tx *sql.Tx) (int64, error) {
	var v int64
	err := tx.QueryRowContext(ctx, `UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value`).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("taking the next sequence number: %w", err)
	}
	return v, nil
}

// Watermark is the current high-water mark of the change sequence: data
// written later has a larger seq.
func (s *Store) Watermark(ctx context.Context) (int64, error) {
	var v int64
	err := retry(ctx, func() error {
		return s.db.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = 'seq'`).Scan(&v)
	})
	if err != nil {
		return 0, fmt.Errorf("feedback: reading watermark: %w", err)
	}
	return v, nil
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromNullMS(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMS(v.Int64)
}

func nullID(v int64) sql.NullInt64 {
	if v == 0 {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: v, Valid: true}
}

func (s *Store) stamp(t time.Time) time.Time {
	if t.IsZero() {
		return s.now().UTC()
	}
	return t.UTC()
}

// execOne runs a statement that must change at least one row, returning
// ErrNotFound when it changed none.
func execOne(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}
