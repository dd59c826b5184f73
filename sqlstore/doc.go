// Package sqlstore stores webauthnkit users, credentials and in-flight
// ceremonies in PostgreSQL, MySQL/MariaDB or SQLite through database/sql.
// A *Store is both a webauthnkit.CredentialStore and a
// webauthnkit.ChallengeStore.
//
// # Setup
//
// Open the database with the driver of your choice (this package imports
// none), create or update the schema with Migrate, then build the Store:
//
//	import _ "github.com/jackc/pgx/v5/stdlib"
//
//	db, err := sql.Open("pgx", "postgres://app@db.internal/app")
//	...
//	if err := sqlstore.Migrate(ctx, db, sqlstore.Postgres); err != nil { ... }
//	store, err := sqlstore.New(db, sqlstore.Postgres, sqlstore.WithJanitor(5*time.Minute))
//	...
//	defer store.Close()
//	rp, err := webauthnkit.New(webauthnkit.Config{
//		RPID: "example.com", Origins: []string{"https://example.com"},
//		Credentials: store, Ceremonies: store,
//		Secret: secret, // 32+ random bytes, the same in every process
//	})
//
// The database is shared by every process that opens it, so the Store
// declares Features{ProcessLocal: false} and webauthnkit.New requires
// Config.Secret (see its documentation).
//
// Supported drivers: github.com/jackc/pgx/v5/stdlib (Postgres),
// github.com/go-sql-driver/mysql (MySQL 8+, MariaDB 10.5+) and
// modernc.org/sqlite (SQLite). For MySQL, interpolateParams=true in the DSN
// saves a round trip per call; no other DSN setting is needed (parseTime,
// loc and clientFoundRows may be anything).
//
// # SQLite
//
// SQLite needs three settings on every connection, which only the DSN can
// give: foreign_keys=ON (DeleteUser relies on ON DELETE CASCADE),
// busy_timeout (otherwise a write that meets another process's write fails
// at once with "database is locked"), and preferably journal_mode=WAL
// (readers do not block the writer). New refuses a database without the
// first two. The recommended DSN for modernc.org/sqlite is
//
//	file:passkeys.db?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_txlock=immediate
//
// which package sqlitedb builds for you (sqlitedb.Open). An in-memory
// database exists once per connection, so it must be used through a single
// connection (db.SetMaxOpenConns(1); sqlitedb.Open(":memory:") does it).
//
// SQLite runs one write at a time. Rather than let concurrent writers race
// for its lock and sleep in its busy handler (1 to 100 ms at a time, which
// under load made the slowest sign-ins several times slower), the Store
// queues its writes in Go: on SQLite every write statement or transaction,
// Migrate's included, first takes a lock held per *sql.DB, shared by all
// Stores over it, and waits for it in turn for as long as the caller's
// context allows (a wait ended by cancellation returns an error wrapping
// context.Canceled, one ended by the deadline an error wrapping
// ErrStoreUnavailable and context.DeadlineExceeded). Reads do not take it and,
// with WAL, run during a write. Open a database file once per process and
// share the *sql.DB: writers in another *sql.DB or process are not queued,
// only held off by busy_timeout.
//
// # Schema and migrations
//
// Four tables, named with a prefix (default "webauthnkit_", see
// WithTablePrefix): users (handle primary key of 1 to 64 bytes, unique name
// of up to 1024 bytes, which holds the library's 254 characters in every
// dialect, session epoch, email and its verification time; the email is
// NULL for a user without one, so its unique index holds only among users
// that have an address), credentials (ID primary key, indexed user handle
// referencing users with ON DELETE CASCADE, second-factor-only flag),
// recovery_codes (primary key user handle and code hash, referencing users
// with ON DELETE CASCADE) and ceremonies (ID primary key, indexed expiry).
// Migrate applies the embedded, versioned migrations and records them in
// <prefix>schema_migrations; it is idempotent and safe to run from several
// processes at once. MigrateDown reverts them all (tests, tools).
// Migrations returns the SQL files, prefix filled in, for migration tools.
//
// Migrations: 001_init creates the tables; 002_session_epoch adds
// users.session_epoch (existing users start at 0); 003_second_factor_only
// adds credentials.second_factor_only (existing credentials get false);
// 004_email_recovery_codes adds users.email and users.email_verified_at
// (existing users get no address, unverified) and the recovery_codes table
// (existing users get no codes); 005_attestation_audit adds the
// credentials' attestation object, client data hash and audit state
// (attestation_trust, attestation_checked_at, quarantined_at,
// quarantine_reason; existing credentials get none: nothing to re-audit,
// not quarantined). ScanCredentials (webauthnkit.CredentialAuditor) pages by
// the primary key (WHERE id > cursor ORDER BY id LIMIT n); 006_sealed_values
// widens credentials.name to MEDIUMTEXT on MySQL, for package sealstore's
// sealed records (a no-op on PostgreSQL and SQLite, whose text has no
// limit). ListUserHandles (webauthnkit.UserHandleLister) pages by the
// users' primary key. New refuses tables that
// lack a migration, so run Migrate before deploying a release that adds
// one; the previous release keeps working on the migrated tables (its
// queries name their columns). On MySQL, whose DDL is not transactional, a
// migration interrupted after its ALTER TABLE but before its version was
// recorded is simply run again: an ALTER that finds its column already
// added (or, going down, already dropped) counts as done.
//
// # Ceremonies and expiry
//
// TakeCeremony deletes and returns a ceremony in one statement (DELETE ...
// RETURNING; a locking transaction on MySQL, which lacks it), so a ceremony
// can be used once. It never returns an expired ceremony. Expired rows stay
// until DeleteExpired removes them: call it periodically or pass
// WithJanitor to New, which runs it in the background until Close.
//
// # Concurrency
//
// UpdateCredentialUse is a compare-and-set on the sign count in one UPDATE
// statement; CreateUser writes the user and its first credential, if any,
// in one transaction. UpdateUser is one UPDATE: the unique index on the
// name makes exactly one of concurrent renames to a free name succeed (the
// others get ErrUserExists), and on MySQL, which counts changed rather than
// matched rows, an UPDATE that changed nothing is repeated under a lock on
// the user's row to tell "already so" from "no such user". A Store is safe for concurrent use, also by several
// processes sharing the database. On SQLite a process's writes queue in Go
// (see SQLite above).
//
// DeleteCredential with allowLast false (the last-passkey guard) deletes
// only if the user keeps another credential, as one atomic step: of
// concurrent deletes of a user's last two credentials exactly one succeeds
// and the other returns webauthnkit.ErrLastCredential. A DELETE whose WHERE
// checks for another credential is not enough under READ COMMITTED or
// REPEATABLE READ (each delete's snapshot still shows the other
// credential), so on PostgreSQL and MySQL the guarded deletes of one user
// queue on that user's row: a transaction locks it (SELECT ... FOR NO KEY
// UPDATE on PostgreSQL, in READ COMMITTED whatever the server's default;
// FOR UPDATE on MySQL, then a locking read of the user's credentials), and
// the check that follows sees the previous delete. On SQLite one
// conditional DELETE is atomic: a writing statement holds the database's
// write lock from its start. With allowLast true it is a plain DELETE.
//
// EndSessions increments the user's session epoch in one statement: UPDATE
// ... RETURNING on PostgreSQL and SQLite; on MySQL an UPDATE that sets the
// new value through LAST_INSERT_ID(expr), which the server returns with the
// result. The column is signed 64-bit: CreateUser refuses an epoch of 2^63
// or more, and EndSessions at 2^63-1 fails rather than wrap around.
//
// # Errors
//
// Errors are prefixed "sqlstore: <Method>:" and wrap the webauthnkit sentinels:
// ErrNotFound, ErrUserExists and ErrCredentialExists (from unique
// violations, recognised by driver error code), ErrDuplicate, ErrConflict,
// ErrLastCredential.
//
// Error texts never contain stored values, since they end up in logs. A
// server's message may quote them (MariaDB's "Duplicate entry 'alice' for
// key ...", with the raw bytes of a duplicate credential ID; PostgreSQL's
// encoding errors quote the bytes), so a server error is never wrapped:
// it is replaced by a *ServerError, which keeps the code (SQLSTATE, MySQL
// error number or SQLite result code), its name and the constraint or key
// involved, and drops the message. Client-side errors (network, timeouts,
// the context) are wrapped as they are: they name hosts, not stored
// values.
//
// A database that cannot be reached, drops the connection or times out
// gives an error wrapping webauthnkit.ErrStoreUnavailable and its cause (the
// network error, or the *ServerError), which the HTTP adapter answers with 503; the Store recovers by
// itself once the database is back (database/sql reconnects). A context
// cancelled by the caller is not reported as ErrStoreUnavailable.
package sqlstore
