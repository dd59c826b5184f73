package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// Store is a webauthnkit.CredentialStore and webauthnkit.ChallengeStore
// backed by a SQL database. It is safe for concurrent use by many goroutines
// and many processes sharing the database.
type Store struct {
	db      *sql.DB
	dialect Dialect
	prefix  string
	now     func() time.Time
	logger  *slog.Logger
	q       queries

	// deleteReturning is true when the server runs DELETE ... RETURNING
	// (PostgreSQL, SQLite, MariaDB 10.5+). MySQL proper does not: TakeCeremony
	// then uses a locking transaction.
	deleteReturning bool

	// writes serialises this process's writes to a SQLite database (see
	// writelock.go); nil, and a no-op, on the other dialects.
	writes *writeLock

	closeOnce   sync.Once
	stopJanitor context.CancelFunc
	janitorDone chan struct{}
}

var (
	_ webauthnkit.CredentialStore      = (*Store)(nil)
	_ webauthnkit.CredentialUserGetter = (*Store)(nil)
	_ webauthnkit.CredentialAuditor    = (*Store)(nil)
	_ webauthnkit.ChallengeStore       = (*Store)(nil)
)

// Limits checked before anything is sent to the database, so that every
// dialect rejects the same values (and MySQL without strict mode cannot
// silently truncate a key).
const (
	maxCredentialIDLen = 1023 // WebAuthn §5.8.3: at most 1023 bytes
	maxUserHandleLen   = 64   // WebAuthn §5.4.3: at most 64 bytes
	maxCeremonyIDLen   = 255
	maxUserNameLen     = 1024 // bytes; the library allows far fewer
)

// startupTimeout bounds the checks New makes against the database (as in
// redisstore).
const startupTimeout = 10 * time.Second

// New returns a Store over db, whose schema must have been created by
// Migrate (or by a migration tool from Migrations) with the same table
// prefix. db stays owned by the caller: Close does not close it.
//
// New talks to the database: it checks that the tables exist, reads the
// server flavour on MySQL (MariaDB 10.5+ takes ceremonies with DELETE ...
// RETURNING, MySQL with a transaction) and, on SQLite, checks the connection
// settings that correctness depends on (see the package documentation). An
// unreachable database gives an error wrapping webauthnkit.ErrStoreUnavailable.
// Like redisstore.New it takes no context: these are a few round trips made
// once at start-up, bounded by 10 seconds, so the three backends are built
// the same way.
func New(db *sql.DB, dialect Dialect, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: New: nil *sql.DB")
	}
	if err := dialect.valid(); err != nil {
		return nil, err
	}
	cfg, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	s := &Store{
		db:              db,
		dialect:         dialect,
		prefix:          cfg.prefix,
		now:             cfg.now,
		logger:          cfg.logger,
		q:               buildQueries(dialect, cfg.prefix),
		deleteReturning: dialect != MySQL,
	}

	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	if err := s.checkSchema(ctx); err != nil {
		if dialect.classify(err) == kindUnavailable {
			return nil, s.fail(ctx, "New", err, nil)
		}
		return nil, fmt.Errorf("sqlstore: New: the %s* tables are missing or out of date (run sqlstore.Migrate with the same table prefix): %w", s.prefix, dialect.scrub(err))
	}
	switch dialect {
	case MySQL:
		var version string
		if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
			return nil, s.fail(ctx, "New: read server version", err, nil)
		}
		s.deleteReturning = mariaDBHasDeleteReturning(version)
	case SQLite:
		if err := checkSQLiteSettings(ctx, db); err != nil {
			return nil, err
		}
		s.writes = sqliteWriteLock(db)
	}
	if cfg.noDeleteReturning {
		s.deleteReturning = false
	}

	if cfg.janitorInterval > 0 {
		s.startJanitor(cfg.janitorInterval)
	}
	return s, nil
}

// checkSchema selects every column the Store uses from its four tables,
// with a condition that matches nothing.
func (s *Store) checkSchema(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, s.q.schemaCheck)
	if err != nil {
		return err
	}
	return errors.Join(rows.Close(), rows.Err())
}

// mariaDBHasDeleteReturning reports whether a server VERSION() string names
// MariaDB 10.5 or later, the first with DELETE ... RETURNING. MySQL (any
// version, "8.4.2" say) has none.
func mariaDBHasDeleteReturning(version string) bool {
	if !strings.Contains(strings.ToLower(version), "mariadb") {
		return false
	}
	// MariaDB before 11 may report itself behind the "5.5.5-" prefix it
	// sends old clients.
	version = strings.TrimPrefix(version, "5.5.5-")
	var major, minor int
	if _, err := fmt.Sscanf(version, "%d.%d", &major, &minor); err != nil {
		return false
	}
	return major > 10 || major == 10 && minor >= 5
}

// checkSQLiteSettings fails New when the connection settings would make the
// store incorrect rather than merely slow: without foreign_keys DeleteUser
// would leave orphan credentials and AddCredential would accept unknown
// users; without busy_timeout concurrent writers fail at once with
// "database is locked"; an in-memory database is a different empty database
// on every connection of a pool.
func checkSQLiteSettings(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return wrapError(ctx, SQLite, "New", err, nil)
	}
	defer conn.Close()
	var foreignKeys, busyTimeout int
	if err := conn.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&foreignKeys); err != nil {
		return wrapError(ctx, SQLite, "New: PRAGMA foreign_keys", err, nil)
	}
	if err := conn.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busyTimeout); err != nil {
		return wrapError(ctx, SQLite, "New: PRAGMA busy_timeout", err, nil)
	}
	var file string
	if err := conn.QueryRowContext(ctx, "SELECT file FROM pragma_database_list WHERE name = 'main'").Scan(&file); err != nil {
		return wrapError(ctx, SQLite, "New: PRAGMA database_list", err, nil)
	}
	singleConn := db.Stats().MaxOpenConnections == 1
	switch {
	case foreignKeys != 1:
		return errors.New("sqlstore: New: SQLite foreign keys are off; add _pragma=foreign_keys(1) to the DSN (or open the database with sqlitedb.Open)")
	case file == "" && !singleConn:
		return errors.New("sqlstore: New: an in-memory SQLite database must be used through one connection: call db.SetMaxOpenConns(1) (or open it with sqlitedb.Open(\":memory:\"))")
	case busyTimeout <= 0 && !singleConn:
		return errors.New("sqlstore: New: SQLite busy_timeout is 0, so concurrent writes would fail with \"database is locked\"; add _pragma=busy_timeout(10000) to the DSN (or open the database with sqlitedb.Open)")
	}
	return nil
}

// Close stops the janitor, if any, waits for it to finish and returns nil.
// It never closes the *sql.DB, which the caller opened and may share (close
// it yourself, after Close). The Store's methods keep working after Close,
// and Close may be called more than once: the same contract as memstore's
// and redisstore's Close.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stopJanitor != nil {
			s.stopJanitor()
			<-s.janitorDone
		}
	})
	return nil
}

// Dialect returns the dialect the Store was created with.
func (s *Store) Dialect() Dialect { return s.dialect }

// CreateUser stores user and, if first is not nil, its first credential, in
// one transaction. Without a credential it is a single INSERT.
func (s *Store) CreateUser(ctx context.Context, user webauthnkit.User, first *webauthnkit.Credential) error {
	const op = "CreateUser"
	if err := checkUser(user); err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	userArgs := []any{user.Handle, user.Name, user.DisplayName, s.dialect.timeArg(user.CreatedAt), int64(user.SessionEpoch),
		emailArg(user.Email), s.dialect.nullTimeArg(user.EmailVerifiedAt)}
	if first == nil {
		_, err := s.execWrite(ctx, s.q.insertUser, userArgs...)
		return s.fail(ctx, op, err, webauthnkit.ErrUserExists)
	}
	if !bytes.Equal(first.UserHandle, user.Handle) {
		return fmt.Errorf("sqlstore: %s: first.UserHandle differs from user.Handle", op)
	}
	credArgs, err := s.credentialArgs(*first)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}

	if err := s.writes.lock(ctx); err != nil {
		return s.fail(ctx, op, err, nil)
	}
	defer s.writes.unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.fail(ctx, op, err, nil)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, s.q.insertUser, userArgs...); err != nil {
		return s.fail(ctx, op, err, webauthnkit.ErrUserExists)
	}
	if _, err := tx.ExecContext(ctx, s.q.insertCredential, credArgs...); err != nil {
		return s.fail(ctx, op, err, webauthnkit.ErrCredentialExists)
	}
	return s.fail(ctx, op, tx.Commit(), nil)
}

// GetUserByHandle returns the user with this handle, or ErrNotFound.
func (s *Store) GetUserByHandle(ctx context.Context, handle []byte) (webauthnkit.User, error) {
	return s.getUser(ctx, "GetUserByHandle", s.q.userByHandle, handle)
}

// GetUserByName returns the user with this name (compared byte for byte), or
// ErrNotFound.
func (s *Store) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	return s.getUser(ctx, "GetUserByName", s.q.userByName, name)
}

func (s *Store) getUser(ctx context.Context, op, query string, key any) (webauthnkit.User, error) {
	var u webauthnkit.User
	err := s.db.QueryRowContext(ctx, query, key).Scan(s.userDest(&u)...)
	if err != nil {
		return webauthnkit.User{}, s.fail(ctx, op, err, nil)
	}
	return u, nil
}

// DeleteUser removes the user and, through ON DELETE CASCADE, its
// credentials and recovery codes.
func (s *Store) DeleteUser(ctx context.Context, handle []byte) error {
	const op = "DeleteUser"
	res, err := s.execWrite(ctx, s.q.deleteUser, handle)
	return s.expectOneRow(ctx, op, res, err)
}

// AddCredential stores one more credential for an existing user.
func (s *Store) AddCredential(ctx context.Context, cred webauthnkit.Credential) error {
	const op = "AddCredential"
	args, err := s.credentialArgs(cred)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	// An unknown user handle is a foreign key violation, which fail maps to
	// ErrNotFound.
	_, err = s.execWrite(ctx, s.q.insertCredential, args...)
	return s.fail(ctx, op, err, webauthnkit.ErrCredentialExists)
}

// GetCredential returns the credential with this ID, or ErrNotFound.
func (s *Store) GetCredential(ctx context.Context, id []byte) (webauthnkit.Credential, error) {
	const op = "GetCredential"
	c, err := s.scanCredential(s.db.QueryRowContext(ctx, s.q.credentialByID, id))
	if err != nil {
		return webauthnkit.Credential{}, s.fail(ctx, op, err, nil)
	}
	return c, nil
}

// GetCredentialWithUser returns the credential with this ID and its owner
// in one query (a JOIN), or ErrNotFound (webauthnkit.CredentialUserGetter).
func (s *Store) GetCredentialWithUser(ctx context.Context, id []byte) (webauthnkit.Credential, webauthnkit.User, error) {
	const op = "GetCredentialWithUser"
	var (
		c webauthnkit.Credential
		u webauthnkit.User
	)
	dest, finish := s.credentialDest(&c)
	err := s.db.QueryRowContext(ctx, s.q.credentialWithUser, id).Scan(append(dest, s.userDest(&u)...)...)
	if err == nil {
		err = finish()
	}
	if err != nil {
		return webauthnkit.Credential{}, webauthnkit.User{}, s.fail(ctx, op, err, nil)
	}
	return c, u, nil
}

// ListCredentials returns the user's credentials ordered by CreatedAt, then
// ID; none (and no error) for an unknown user.
func (s *Store) ListCredentials(ctx context.Context, userHandle []byte) ([]webauthnkit.Credential, error) {
	const op = "ListCredentials"
	rows, err := s.db.QueryContext(ctx, s.q.credentialsByUser, userHandle)
	if err != nil {
		return nil, s.fail(ctx, op, err, nil)
	}
	defer rows.Close()
	var creds []webauthnkit.Credential
	for rows.Next() {
		c, err := s.scanCredential(rows)
		if err != nil {
			return nil, s.fail(ctx, op, err, nil)
		}
		creds = append(creds, c)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, op, err, nil)
	}
	return creds, nil
}

// UpdateCredentialUse applies use if the stored sign count still equals
// expectedSignCount, in one UPDATE ... WHERE id = ? AND sign_count = ?.
// ErrConflict if the count differs, ErrNotFound if there is no such
// credential.
func (s *Store) UpdateCredentialUse(ctx context.Context, id []byte, expectedSignCount uint32, use webauthnkit.CredentialUse) error {
	const op = "UpdateCredentialUse"
	res, err := s.execWrite(ctx, s.q.updateUse,
		int64(use.SignCount), use.BackupState, use.UserVerified,
		s.dialect.nullTimeArg(use.LastUsedAt), use.CloneSuspected,
		id, int64(expectedSignCount))
	if err != nil {
		return s.fail(ctx, op, err, nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(ctx, op, err, nil)
	}
	if n > 0 {
		return nil
	}

	// Slow path: nothing was updated. Tell a missing credential from a lost
	// race by reading the row.
	var (
		stored         webauthnkit.CredentialUse
		storedCount    int64
		storedLastUsed time.Time
	)
	err = s.db.QueryRowContext(ctx, s.q.useState, id).Scan(
		&storedCount, &stored.BackupState, &stored.UserVerified,
		s.dialect.scanTime(&storedLastUsed), &stored.CloneSuspected)
	if err != nil {
		return s.fail(ctx, op, err, nil) // sql.ErrNoRows: ErrNotFound
	}
	stored.SignCount = uint32(storedCount)
	stored.LastUsedAt = storedLastUsed
	// MySQL reports rows changed, not rows matched (unless the DSN sets
	// clientFoundRows=true), so an UPDATE that matched but wrote the values
	// already stored also reports 0. If the stored row is exactly the
	// requested state with the expected count, that is what happened (or an
	// equivalent outcome): success. PostgreSQL and SQLite count matched rows,
	// so for them 0 always means the count differed.
	if s.dialect == MySQL && uint32(storedCount) == expectedSignCount && sameUse(stored, use) {
		return nil
	}
	// The stored count stays out of the text, like every stored value.
	return fmt.Errorf("sqlstore: %s: %w (the stored sign count is not the expected one)", op, webauthnkit.ErrConflict)
}

// sameUse compares a stored CredentialUse with a requested one at the
// stored precision.
func sameUse(stored, use webauthnkit.CredentialUse) bool {
	return stored.SignCount == use.SignCount &&
		stored.BackupState == use.BackupState &&
		stored.UserVerified == use.UserVerified &&
		stored.CloneSuspected == use.CloneSuspected &&
		stored.LastUsedAt.Equal(use.LastUsedAt.UTC().Truncate(time.Microsecond))
}

// RenameCredential sets the name of a credential owned by userHandle.
func (s *Store) RenameCredential(ctx context.Context, userHandle, id []byte, name string) error {
	const op = "RenameCredential"
	res, err := s.execWrite(ctx, s.q.renameCredential, name, id, userHandle)
	if err != nil {
		return s.fail(ctx, op, err, nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(ctx, op, err, nil)
	}
	if n == 0 && s.dialect == MySQL {
		// Renaming to the current name changes no row on MySQL (see
		// UpdateCredentialUse): check that the credential is there.
		var current string
		err := s.db.QueryRowContext(ctx, s.q.ownedCredentialName, id, userHandle).Scan(&current)
		if err == nil && current == name {
			return nil
		}
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return s.fail(ctx, op, err, nil)
		}
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: %w", op, webauthnkit.ErrNotFound)
	}
	return nil
}

// Features declares what the Store offers: it is shared by every process
// using the database (so the library requires Config.Secret), and it reads
// a credential with its owner in one query, and it implements
// webauthnkit.CredentialAuditor (audit.go) and
// webauthnkit.UserHandleLister (listusers.go).
func (s *Store) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: false, CredentialWithUser: true, ListUserHandles: true, Audit: true}
}

// execWrite runs one statement that writes, holding the SQLite write lock
// (see writelock.go) while it runs. An error from waiting for the lock wraps
// ctx.Err(); pass it to fail like a driver error.
func (s *Store) execWrite(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if err := s.writes.lock(ctx); err != nil {
		return nil, err
	}
	defer s.writes.unlock()
	return s.db.ExecContext(ctx, query, args...)
}

// expectOneRow maps the outcome of a DELETE by key: an error, or
// ErrNotFound if no row was deleted. (DELETE counts deleted rows on every
// dialect.)
func (s *Store) expectOneRow(ctx context.Context, op string, res sql.Result, err error) error {
	if err != nil {
		return s.fail(ctx, op, err, nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(ctx, op, err, nil)
	}
	if n == 0 {
		return fmt.Errorf("sqlstore: %s: %w", op, webauthnkit.ErrNotFound)
	}
	return nil
}

func checkUser(u webauthnkit.User) error {
	if len(u.Handle) == 0 || len(u.Handle) > maxUserHandleLen {
		return fmt.Errorf("user handle is %d bytes, want 1 to %d", len(u.Handle), maxUserHandleLen)
	}
	if err := checkUserName(u.Name); err != nil {
		return err
	}
	if u.SessionEpoch > math.MaxInt64 { // the columns are signed 64-bit
		return errors.New("user session epoch is above 2^63-1")
	}
	return checkEmail(u.Email)
}

// checkUserName refuses a name longer than the column holds (MySQL's
// VARBINARY(1024); the library allows 254 characters, at most 1016 bytes of
// UTF-8), so that no dialect truncates or refuses it differently.
func checkUserName(name string) error {
	if len(name) > maxUserNameLen {
		return fmt.Errorf("user name is %d bytes, want at most %d", len(name), maxUserNameLen)
	}
	return nil
}

// credentialArgs returns the arguments of insertCredential, in column order.
func (s *Store) credentialArgs(c webauthnkit.Credential) ([]any, error) {
	if len(c.ID) == 0 || len(c.ID) > maxCredentialIDLen {
		return nil, fmt.Errorf("credential ID is %d bytes, want 1 to %d", len(c.ID), maxCredentialIDLen)
	}
	if len(c.UserHandle) == 0 || len(c.UserHandle) > maxUserHandleLen {
		return nil, fmt.Errorf("credential user handle is %d bytes, want 1 to %d", len(c.UserHandle), maxUserHandleLen)
	}
	if len(c.AttestationObject) > webauthnkit.MaxAttestationObjectSize {
		return nil, fmt.Errorf("attestation object is %d bytes, want at most %d", len(c.AttestationObject), webauthnkit.MaxAttestationObjectSize)
	}
	if len(c.AttestationClientDataHash) > 64 {
		return nil, fmt.Errorf("attestation client data hash is %d bytes, want at most 64", len(c.AttestationClientDataHash))
	}
	if err := checkAuditTexts(c.AttestationTrust, c.QuarantineReason); err != nil {
		return nil, err
	}
	// JSON keeps a nil slice ("null") apart from an empty one ("[]") and
	// survives any transport string, commas included.
	transports, err := json.Marshal(c.Transports)
	if err != nil {
		return nil, err
	}
	return []any{
		c.ID, c.UserHandle, nonNil(c.PublicKey), int64(c.SignCount), nonNil(c.AAGUID),
		c.AttestationFormat, string(transports),
		c.UserPresent, c.UserVerified, c.BackupEligible, c.BackupState,
		c.Attachment, c.Name,
		s.dialect.timeArg(c.CreatedAt), s.dialect.nullTimeArg(c.LastUsedAt),
		c.CloneSuspected, c.SecondFactorOnly,
		nilBytes(c.AttestationObject), nilBytes(c.AttestationClientDataHash),
		c.AttestationTrust, s.dialect.nullTimeArg(c.AttestationCheckedAt),
		s.dialect.nullTimeArg(c.QuarantinedAt), c.QuarantineReason,
	}, nil
}

// nonNil binds a nil byte slice as an empty value, not NULL: the columns are
// NOT NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// scanCredential reads one row of credentialColumns.
func (s *Store) scanCredential(row interface{ Scan(...any) error }) (webauthnkit.Credential, error) {
	var c webauthnkit.Credential
	dest, finish := s.credentialDest(&c)
	if err := row.Scan(dest...); err != nil {
		return webauthnkit.Credential{}, err
	}
	if err := finish(); err != nil {
		return webauthnkit.Credential{}, err
	}
	return c, nil
}

// credentialDest returns the Scan destinations for credentialColumns, into
// c, and finish, which completes c once the row is scanned.
func (s *Store) credentialDest(c *webauthnkit.Credential) (dest []any, finish func() error) {
	var (
		signCount  int64
		transports string
	)
	dest = []any{
		&c.ID, &c.UserHandle, &c.PublicKey, &signCount, &c.AAGUID,
		&c.AttestationFormat, &transports,
		&c.UserPresent, &c.UserVerified, &c.BackupEligible, &c.BackupState,
		&c.Attachment, &c.Name,
		s.dialect.scanTime(&c.CreatedAt), s.dialect.scanTime(&c.LastUsedAt),
		&c.CloneSuspected, &c.SecondFactorOnly,
		&c.AttestationObject, &c.AttestationClientDataHash,
		&c.AttestationTrust, s.dialect.scanTime(&c.AttestationCheckedAt),
		s.dialect.scanTime(&c.QuarantinedAt), &c.QuarantineReason,
	}
	return dest, func() error {
		c.SignCount = uint32(signCount)
		if err := json.Unmarshal([]byte(transports), &c.Transports); err != nil {
			// The error names the column, not the stored text.
			return fmt.Errorf("credential transports: stored JSON of %d bytes does not parse", len(transports))
		}
		return nil
	}
}

// userDest returns the Scan destinations for userColumns, into u.
func (s *Store) userDest(u *webauthnkit.User) []any {
	return []any{&u.Handle, &u.Name, &u.DisplayName, s.dialect.scanTime(&u.CreatedAt), &u.SessionEpoch,
		emailScanner{&u.Email}, s.dialect.scanTime(&u.EmailVerifiedAt)}
}
