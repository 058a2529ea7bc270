package feedback

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/hone-ai/hone/migrations"
)

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func assertAbsent(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s exists (err %v); the refused database must be left alone", p, err)
		}
	}
}

// TestUpgradeFromEachVersion (acceptance 3): a database made at migration
// N (data written with N's schema) opens under the newest binary with the
// data intact and the later migrations applied.
func TestUpgradeFromEachVersion(t *testing.T) {
	ctx := context.Background()
	newest, err := NewestVersion()
	if err != nil {
		t.Fatal(err)
	}
	for n := int64(1); n < newest; n++ {
		t.Run("from"+string(rune('0'+n)), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "old.db")
			db, err := sql.Open("sqlite", dsn(path, false))
			if err != nil {
				t.Fatal(err)
			}
			p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations.FS, goose.WithDisableGlobalRegistry(true))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.UpTo(ctx, n); err != nil {
				t.Fatalf("goose up to %d: %v", n, err)
			}
			// Data as an older hone wrote it (schema of migration 1).
			for _, q := range []string{
				`INSERT INTO conversations (id, title, system_prompt, model, created_at, updated_at) VALUES (7, 'old', '', 'm', 1000, 2000)`,
				`INSERT INTO messages (id, conversation_id, parent_id, role, content, created_at) VALUES (70, 7, NULL, 'user', 'ancient question about zebras', 1000)`,
				`INSERT INTO messages (id, conversation_id, parent_id, role, content, created_at) VALUES (71, 7, 70, 'assistant', 'zebras are striped', 1500)`,
				`UPDATE counters SET value = 1 WHERE name = 'seq'`,
				`INSERT INTO ratings (message_id, rater, value, reason, comment, seq, created_at, updated_at) VALUES (71, 'ann', 1, 'true', '', 1, 1600, 1600)`,
			} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}

			s, err := Open(ctx, path)
			if err != nil {
				t.Fatalf("open v%d database: %v", n, err)
			}
			defer s.Close()
			v, err := readVersion(ctx, path)
			if err != nil || v != newest {
				t.Fatalf("version after open = %d, %v; want %d", v, err, newest)
			}
			tree, err := s.Conversation(ctx, 7)
			if err != nil {
				t.Fatal(err)
			}
			if len(tree.Messages) != 2 || tree.Messages[1].Content != "zebras are striped" || len(tree.Ratings) != 1 || tree.Ratings[0].Rater != "ann" {
				t.Fatalf("data after upgrade: %+v", tree)
			}
			hits, err := s.Search(ctx, "zebras", 10)
			if err != nil || len(hits) != 2 {
				t.Fatalf("old messages not searchable after upgrade: %v, %v", hits, err)
			}
			xs, err := s.Examples(ctx, Window{})
			if err != nil || len(xs) != 1 || !xs[0].Label || xs[0].Prompt[0].Content != "ancient question about zebras" {
				t.Fatalf("examples after upgrade: %+v, %v", xs, err)
			}
			// The store keeps working: the sequence continues past old data.
			r := mustRate(t, s, 71, "bob", -1)
			if r.Seq != 2 {
				t.Fatalf("seq after upgrade = %d, want 2", r.Seq)
			}
		})
	}
}

// TestNewerDatabaseRefused (acceptance 3): a database from a newer hone is
// refused with a clear message and left byte-for-byte untouched, with no
// -wal or -shm file appearing.
func TestNewerDatabaseRefused(t *testing.T) {
	ctx := context.Background()
	s, path := openTest(t)
	makeFixture(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	newest, _ := NewestVersion()
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, newest+1); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wal, shm := path+"-wal", path+"-shm"
	assertAbsent(t, wal, shm)
	before := fileHash(t, path)
	st, _ := os.Stat(path)

	for range 2 {
		_, err = Open(ctx, path)
		var ne *NewerDatabaseError
		if !errors.As(err, &ne) || !errors.Is(err, ErrNewerDatabase) || ne.DBVersion != newest+1 || ne.Newest != newest {
			t.Fatalf("Open(newer) = %v; want *NewerDatabaseError{%d, %d}", err, newest+1, newest)
		}
		if !strings.Contains(err.Error(), "newer hone") || !strings.Contains(err.Error(), "not modified") {
			t.Errorf("message %q does not say what happened", err)
		}
	}
	if fileHash(t, path) != before {
		t.Fatal("refused database was modified")
	}
	st2, _ := os.Stat(path)
	if !st2.ModTime().Equal(st.ModTime()) || st2.Mode() != st.Mode() {
		t.Errorf("refused database metadata changed: %v %v -> %v %v", st.ModTime(), st.Mode(), st2.ModTime(), st2.Mode())
	}
	assertAbsent(t, wal, shm)
}

// TestOpenPermissionsAndSettings checks the folder/file modes and the
// connection settings every connection gets.
func TestOpenPermissionsAndSettings(t *testing.T) {
	s, path := openTest(t)
	for _, c := range []struct {
		path string
		want fs.FileMode
	}{{filepath.Dir(path), 0o700}, {path, 0o600}} {
		st, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != c.want {
			t.Errorf("%s mode %v, want %v", c.path, st.Mode().Perm(), c.want)
		}
	}
	ctx := context.Background()
	conn, err := s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, c := range []struct{ pragma, want string }{
		{"journal_mode", "wal"}, {"foreign_keys", "1"}, {"synchronous", "2"}, {"busy_timeout", "5000"},
	} {
		var got string
		if err := conn.QueryRowContext(ctx, "PRAGMA "+c.pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("PRAGMA %s = %s, want %s", c.pragma, got, c.want)
		}
	}
	// SQLite gives -wal and -shm the database file's mode.
	makeFixture(t, s)
	for _, p := range []string{path + "-wal", path + "-shm"} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want mode 0600", p, st, err)
		}
	}
	// Reopening an up-to-date database runs no migration and changes nothing.
	s.Close()
	s2, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
	if _, err := Open(ctx, filepath.Dir(path)); err == nil {
		t.Error("opening a directory succeeded")
	}
	bad := filepath.Join(t.TempDir(), "notdb")
	os.WriteFile(bad, []byte("this is not sqlite, just text that is long enough to fill a header......................................................"), 0o600)
	if _, err := Open(ctx, bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("opening a non-database: %v", err)
	}
}

// TestConcurrentFirstOpen: several openers racing on a fresh file all
// succeed, and the migrations are applied once.
func TestConcurrentFirstOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fresh", "hone.db")
	const n = 6
	errs := make(chan error, n)
	for range n {
		go func() {
			s, err := Open(ctx, path)
			if err == nil {
				_, err = s.CreateConversation(ctx, NewConversation{Title: "race"})
				s.Close()
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var applied, convs int
	s.DB().QueryRow(`SELECT count(*) FROM goose_db_version WHERE version_id > 0`).Scan(&applied)
	s.DB().QueryRow(`SELECT count(*) FROM conversations`).Scan(&convs)
	newest, _ := NewestVersion()
	if int64(applied) != newest || convs != n {
		t.Errorf("%d migrations recorded (want %d), %d conversations (want %d)", applied, newest, convs, n)
	}
}
