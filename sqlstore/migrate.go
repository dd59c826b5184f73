package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing/fstest"
	"text/template"
	"time"
)

//go:embed migrations
var migrationFiles embed.FS

// migrationFileName is NNN_name.up.sql or NNN_name.down.sql.
var migrationFileName = regexp.MustCompile(`^([0-9]+)_([a-z0-9_]+)\.(up|down)\.sql$`)

type migration struct {
	version  int64
	name     string
	up, down string // SQL with the prefix filled in
}

// loadMigrations reads and renders the dialect's migrations, sorted by
// version. Every version must have both an up and a down file.
func loadMigrations(d Dialect, prefix string) ([]migration, error) {
	dir := path.Join("migrations", d.String())
	entries, err := migrationFiles.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations for %s: %w", d, err)
	}
	byVersion := map[int64]*migration{}
	for _, e := range entries {
		m := migrationFileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("sqlstore: unexpected migration file %s/%s", dir, e.Name())
		}
		version, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: migration file %s/%s: %w", dir, e.Name(), err)
		}
		src, err := migrationFiles.ReadFile(path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		text, err := renderMigration(e.Name(), string(src), prefix)
		if err != nil {
			return nil, err
		}
		mig := byVersion[version]
		if mig == nil {
			mig = &migration{version: version, name: m[2]}
			byVersion[version] = mig
		} else if mig.name != m[2] {
			return nil, fmt.Errorf("sqlstore: migration %d has two names, %q and %q", version, mig.name, m[2])
		}
		if m[3] == "up" {
			mig.up = text
		} else {
			mig.down = text
		}
	}
	var out []migration
	for _, m := range byVersion {
		if m.up == "" || m.down == "" {
			return nil, fmt.Errorf("sqlstore: migration %03d_%s lacks its up or down file", m.version, m.name)
		}
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b migration) int { return cmp.Compare(a.version, b.version) })
	return out, nil
}

// renderMigration fills in {{.Prefix}}. The prefix has been validated
// (identifier characters only), which is what makes pasting it into SQL
// safe; the template adds no escaping of its own.
func renderMigration(name, src, prefix string) (string, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(src)
	if err != nil {
		return "", fmt.Errorf("sqlstore: migration %s: %w", name, err)
	}
	var b strings.Builder
	if err := t.Execute(&b, struct{ Prefix string }{prefix}); err != nil {
		return "", fmt.Errorf("sqlstore: migration %s: %w", name, err)
	}
	return b.String(), nil
}

// Migrations returns the dialect's migration files with the table prefix
// (WithTablePrefix, default "webauthnkit_") filled in, for applying the
// schema with another tool instead of Migrate. The files sit at the root:
// 001_init.up.sql, 001_init.down.sql, ... (the naming golang-migrate reads
// through its iofs source). A tool keeps its own version table; do not mix
// it with Migrate on one database.
func Migrations(dialect Dialect, opts ...Option) (fs.FS, error) {
	if err := dialect.valid(); err != nil {
		return nil, err
	}
	cfg, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	migs, err := loadMigrations(dialect, cfg.prefix)
	if err != nil {
		return nil, err
	}
	// fstest.MapFS is a complete read-only fs.FS (Open, ReadDir, ReadFile,
	// Stat, Glob); despite its package name it imports nothing from testing.
	files := fstest.MapFS{}
	for _, m := range migs {
		base := fmt.Sprintf("%03d_%s", m.version, m.name)
		files[base+".up.sql"] = &fstest.MapFile{Data: []byte(m.up), Mode: 0o444}
		files[base+".down.sql"] = &fstest.MapFile{Data: []byte(m.down), Mode: 0o444}
	}
	return files, nil
}

// Migrate brings the schema up to date: it applies, in order, every
// migration not yet recorded in the <prefix>schema_migrations table, and
// records it. Running it again is a no-op, and several processes may run it
// at once (at start-up, say): they take turns on a lock (pg_advisory_xact_lock
// on PostgreSQL, GET_LOCK on MySQL, BEGIN IMMEDIATE on SQLite) and the later
// ones find nothing left to do.
//
// On PostgreSQL and SQLite all pending migrations apply in one transaction:
// all or nothing. MySQL commits each DDL statement on its own, so the
// MySQL migrations are written to be re-run safely after a failure.
//
// Options used: WithTablePrefix.
func Migrate(ctx context.Context, db *sql.DB, dialect Dialect, opts ...Option) error {
	migs, cfg, err := prepareMigrate(db, dialect, opts)
	if err != nil {
		return err
	}
	return withMigrationLock(ctx, db, dialect, cfg.prefix, func(ex execer) error {
		if err := createVersionTable(ctx, ex, dialect, cfg.prefix); err != nil {
			return err
		}
		applied, err := appliedVersions(ctx, ex, dialect, cfg.prefix)
		if err != nil {
			return err
		}
		for _, m := range migs {
			if applied[m.version] {
				continue
			}
			if err := execScript(ctx, ex, dialect, m.up); err != nil {
				return fmt.Errorf("sqlstore: migrate: %03d_%s up: %w", m.version, m.name, err)
			}
			if _, err := ex.ExecContext(ctx, dialect.rebind("INSERT INTO "+cfg.prefix+
				"schema_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
				m.version, m.name, dialect.timeArg(time.Now())); err != nil {
				return wrapError(ctx, dialect, "migrate: record version", err, nil)
			}
		}
		return nil
	})
}

// MigrateDown reverts every applied migration, newest first, then drops the
// <prefix>schema_migrations table: the database is left as it was before
// Migrate, and all stored users, credentials and ceremonies are gone. It is
// meant for tests and tools. It refuses to run if the database has a
// migration this version of the package does not know.
//
// Options used: WithTablePrefix.
func MigrateDown(ctx context.Context, db *sql.DB, dialect Dialect, opts ...Option) error {
	migs, cfg, err := prepareMigrate(db, dialect, opts)
	if err != nil {
		return err
	}
	return withMigrationLock(ctx, db, dialect, cfg.prefix, func(ex execer) error {
		if err := createVersionTable(ctx, ex, dialect, cfg.prefix); err != nil {
			return err
		}
		applied, err := appliedVersions(ctx, ex, dialect, cfg.prefix)
		if err != nil {
			return err
		}
		for v := range applied {
			if !slices.ContainsFunc(migs, func(m migration) bool { return m.version == v }) {
				return fmt.Errorf("sqlstore: migrate down: the database has migration %d, which this version of sqlstore does not know", v)
			}
		}
		for _, m := range slices.Backward(migs) {
			if !applied[m.version] {
				continue
			}
			if err := execScript(ctx, ex, dialect, m.down); err != nil {
				return fmt.Errorf("sqlstore: migrate down: %03d_%s down: %w", m.version, m.name, err)
			}
			if _, err := ex.ExecContext(ctx, dialect.rebind("DELETE FROM "+cfg.prefix+
				"schema_migrations WHERE version = ?"), m.version); err != nil {
				return wrapError(ctx, dialect, "migrate down: remove version", err, nil)
			}
		}
		if _, err := ex.ExecContext(ctx, "DROP TABLE "+cfg.prefix+"schema_migrations"); err != nil {
			return wrapError(ctx, dialect, "migrate down: drop version table", err, nil)
		}
		return nil
	})
}

func prepareMigrate(db *sql.DB, dialect Dialect, opts []Option) ([]migration, options, error) {
	if db == nil {
		return nil, options{}, errors.New("sqlstore: migrate: nil *sql.DB")
	}
	if err := dialect.valid(); err != nil {
		return nil, options{}, err
	}
	cfg, err := newOptions(opts)
	if err != nil {
		return nil, cfg, err
	}
	migs, err := loadMigrations(dialect, cfg.prefix)
	return migs, cfg, err
}

// execer is what migrations run on: a *sql.Tx or a *sql.Conn.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func createVersionTable(ctx context.Context, ex execer, d Dialect, prefix string) error {
	var ddl string
	switch d {
	case Postgres:
		ddl = "CREATE TABLE IF NOT EXISTS " + prefix + "schema_migrations (" +
			"version bigint PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)"
	case SQLite:
		ddl = "CREATE TABLE IF NOT EXISTS " + prefix + "schema_migrations (" +
			"version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT"
	case MySQL:
		ddl = "CREATE TABLE IF NOT EXISTS " + prefix + "schema_migrations (" +
			"version BIGINT NOT NULL PRIMARY KEY, name VARCHAR(255) NOT NULL, applied_at DATETIME(6) NOT NULL" +
			") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"
	}
	if _, err := ex.ExecContext(ctx, ddl); err != nil {
		return wrapError(ctx, d, "migrate: create version table", err, nil)
	}
	return nil
}

func appliedVersions(ctx context.Context, ex execer, d Dialect, prefix string) (map[int64]bool, error) {
	rows, err := ex.QueryContext(ctx, "SELECT version FROM "+prefix+"schema_migrations")
	if err != nil {
		return nil, wrapError(ctx, d, "migrate: read versions", err, nil)
	}
	defer rows.Close()
	applied := map[int64]bool{}
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, wrapError(ctx, d, "migrate: read versions", err, nil)
		}
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, wrapError(ctx, d, "migrate: read versions", err, nil)
	}
	return applied, nil
}

// execScript runs a migration file one statement at a time (the MySQL
// driver runs one statement per call unless the DSN allows more).
func execScript(ctx context.Context, ex execer, d Dialect, script string) error {
	for _, stmt := range splitStatements(script) {
		if _, err := ex.ExecContext(ctx, stmt); err != nil && !alreadyDone(d, err) {
			return wrapError(ctx, d, "exec", err, nil)
		}
	}
	return nil
}

// alreadyDone reports a MySQL error that means the statement's change is
// already there: a migration is re-run after its DDL committed (MySQL DDL
// is not transactional) but its version was not recorded. MySQL has no
// ADD COLUMN IF NOT EXISTS or DROP COLUMN IF EXISTS (MariaDB has), so the
// migrations use plain ALTER TABLE and rely on this.
func alreadyDone(d Dialect, err error) bool {
	if d != MySQL {
		return false
	}
	number, ok := mysqlErrorNumber(err)
	return ok && (number == 1060 || // ER_DUP_FIELDNAME: ADD COLUMN of a column that exists
		number == 1091) // ER_CANT_DROP_FIELD_OR_KEY: DROP COLUMN of a column that is gone
}

// splitStatements splits a migration file into statements. The files follow
// two rules that make this simple splitter exact: whole-line "--" comments
// only, and every statement ends with ";" at the end of a line (no ";" at a
// line end inside a statement).
func splitStatements(script string) []string {
	var stmts []string
	var cur strings.Builder
	for line := range strings.Lines(script) {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "--") {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(trimmed, ";") {
			stmts = append(stmts, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		stmts = append(stmts, rest)
	}
	return stmts
}

// withMigrationLock runs fn while holding the dialect's migration lock, on
// one connection; on PostgreSQL and SQLite fn runs in a transaction that
// commits if fn succeeds.
func withMigrationLock(ctx context.Context, db *sql.DB, d Dialect, prefix string, fn func(execer) error) error {
	switch d {
	case Postgres:
		return withPostgresMigrationLock(ctx, db, prefix, fn)
	case SQLite:
		return withSQLiteMigrationLock(ctx, db, fn)
	default:
		return withMySQLMigrationLock(ctx, db, prefix, fn)
	}
}

// withPostgresMigrationLock takes a transaction-scoped advisory lock, so a
// crashed migrator can never leave it held, and runs fn in that transaction
// (PostgreSQL DDL is transactional).
func withPostgresMigrationLock(ctx context.Context, db *sql.DB, prefix string, fn func(execer) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return wrapError(ctx, Postgres, "migrate: begin", err, nil)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLockKey(prefix)); err != nil {
		return wrapError(ctx, Postgres, "migrate: lock", err, nil)
	}
	if err := fn(tx); err != nil {
		return err
	}
	return wrapError(ctx, Postgres, "migrate: commit", tx.Commit(), nil)
}

// migrationLockKey is the advisory lock key of one table prefix: migrations
// of different prefixes do not wait for each other.
func migrationLockKey(prefix string) int64 {
	h := fnv.New64a()
	h.Write([]byte("webauthnkit/sqlstore migrate " + prefix))
	return int64(h.Sum64())
}

// withSQLiteMigrationLock runs fn in a BEGIN IMMEDIATE transaction, which
// takes the database's write lock before fn reads the version table, so two
// migrators cannot both decide to apply a migration. database/sql's BeginTx
// cannot ask for IMMEDIATE, hence the statements on a dedicated connection.
// It first takes db's write lock in Go, like every write of a Store on db
// (see writelock.go), so that a Store's writes wait in Go, not in SQLite's
// busy handler, while the migration runs.
func withSQLiteMigrationLock(ctx context.Context, db *sql.DB, fn func(execer) error) (err error) {
	writes := sqliteWriteLock(db)
	if err := writes.lock(ctx); err != nil {
		return wrapError(ctx, SQLite, "migrate", err, nil)
	}
	defer writes.unlock()
	conn, err := db.Conn(ctx)
	if err != nil {
		return wrapError(ctx, SQLite, "migrate: connect", err, nil)
	}
	defer conn.Close()
	// busy_timeout makes BEGIN IMMEDIATE wait for another writer; retry on
	// top of it so that a connection without one still waits its turn.
	for {
		_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		if err == nil || SQLite.classify(err) != kindUnavailable || ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	if err != nil {
		return wrapError(ctx, SQLite, "migrate: begin immediate", err, nil)
	}
	if err := fn(conn); err != nil {
		// A failed ROLLBACK leaves the transaction open on this connection:
		// discard the connection rather than return it to the pool.
		if _, rbErr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rbErr != nil {
			discardConn(conn)
		}
		return err
	}
	if _, err := conn.ExecContext(ctx, "COMMIT"); err != nil {
		if _, rbErr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rbErr != nil {
			discardConn(conn)
		}
		return wrapError(ctx, SQLite, "migrate: commit", err, nil)
	}
	return nil
}

// withMySQLMigrationLock holds a named lock (GET_LOCK) on a dedicated
// connection; the server releases it if the connection dies. The name is
// derived from the database and the prefix, since GET_LOCK names are
// server-wide, and hashed to stay within the 64-character limit.
func withMySQLMigrationLock(ctx context.Context, db *sql.DB, prefix string, fn func(execer) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return wrapError(ctx, MySQL, "migrate: connect", err, nil)
	}
	defer conn.Close()
	var lockName string
	if err := conn.QueryRowContext(ctx,
		"SELECT CONCAT('webauthnkit_migrate_', SHA1(CONCAT(IFNULL(DATABASE(), ''), '/', ?)))",
		prefix).Scan(&lockName); err != nil {
		return wrapError(ctx, MySQL, "migrate: lock name", err, nil)
	}
	// Wait in one-second slices so that ctx can end the wait.
	for {
		var got sql.NullInt64
		if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 1)", lockName).Scan(&got); err != nil {
			return wrapError(ctx, MySQL, "migrate: lock", err, nil)
		}
		if got.Valid && got.Int64 == 1 {
			break
		}
		if !got.Valid {
			return errors.New("sqlstore: migrate: GET_LOCK failed")
		}
		if err := ctx.Err(); err != nil {
			return wrapError(ctx, MySQL, "migrate: lock", err, nil)
		}
	}
	defer func() {
		var released sql.NullInt64
		err := conn.QueryRowContext(context.WithoutCancel(ctx), "SELECT RELEASE_LOCK(?)", lockName).Scan(&released)
		if err != nil || released.Int64 != 1 {
			// Closing the session is the other way to release the lock.
			discardConn(conn)
		}
	}()
	return fn(conn)
}

// discardConn makes database/sql close conn instead of returning it to the
// pool.
func discardConn(conn *sql.Conn) {
	_ = conn.Raw(func(any) error { return driver.ErrBadConn })
}
