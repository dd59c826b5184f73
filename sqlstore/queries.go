package sqlstore

import "strings"

// queries holds every statement the Store runs, with the table prefix and
// the dialect's placeholders filled in once, by New.
type queries struct {
	schemaCheck string

	insertUser   string
	userByHandle string
	userByName   string
	updateUser   string
	deleteUser   string

	// Issue 14: email and recovery codes (email.go).
	userByEmail       string
	setEmail          string
	userExists        string // SQLite's SetRecoveryCodes: no FOR UPDATE there
	deleteRecovery    string // all of a user's codes
	useRecoveryCode   string
	countRecovery     string
	insertRecoveryRow string // the INSERT without its VALUES tuples

	insertCredential    string
	credentialByID      string
	credentialWithUser  string
	credentialsByUser   string
	updateUse           string
	useState            string
	renameCredential    string
	ownedCredentialName string
	deleteCredential    string

	// Issue 16: CredentialAuditor (audit.go).
	scanCredentials  string
	setAudit         string
	credentialExists string

	// DeleteCredential with allowLast false; see Store.deleteGuarded. (MySQL's
	// UpdateUser also uses lockUser.)
	lockUser                string // PostgreSQL, MySQL: the user row, FOR (NO KEY) UPDATE
	deleteGuardedCredential string // PostgreSQL: delete and diagnose; SQLite: conditional delete
	lockUserCredentials     string // MySQL: the user's credential IDs, FOR UPDATE

	// EndSessions: UPDATE ... RETURNING; on MySQL an UPDATE that passes the
	// new value out through LAST_INSERT_ID(expr).
	endSessions string

	// PutCeremony: one upsert that replaces only an expired row.
	upsertCeremony string
	// TakeCeremony: takeCeremony (DELETE ... RETURNING) where supported;
	// lockCeremony then deleteCeremony in a transaction otherwise.
	takeCeremony   string
	lockCeremony   string
	deleteCeremony string
	deleteExpired  string

	// ListUserHandles (listusers.go): one page of handles in byte order.
	listUserHandles string
}

// userColumns is the column order of insertUser and Store.userDest.
const userColumns = "handle, name, display_name, created_at, session_epoch, email, email_verified_at"

// credentialColumns is the column order of insertCredential,
// Store.credentialArgs and Store.scanCredential.
const credentialColumns = "id, user_handle, public_key, sign_count, aaguid, " +
	"attestation_format, transports, " +
	"user_present, user_verified, backup_eligible, backup_state, " +
	"attachment, name, created_at, last_used_at, clone_suspected, second_factor_only, " +
	"attestation_object, attestation_client_data_hash, " +
	"attestation_trust, attestation_checked_at, quarantined_at, quarantine_reason"

// selectColumns is the SELECT list for columns: on MySQL the DATETIME
// columns are read as text, because with parseTime=true the driver builds a
// time in the DSN's loc, which shifts a UTC wall-clock time that falls in a
// daylight-saving gap of that zone. Writes are text already (timeArg).
// Columns may be qualified ("c.created_at").
func selectColumns(d Dialect, columns string) string {
	if d != MySQL {
		return columns
	}
	parts := strings.Split(columns, ", ")
	for i, c := range parts {
		if name := c[strings.LastIndexByte(c, '.')+1:]; name == "created_at" || name == "last_used_at" || name == "email_verified_at" ||
			name == "attestation_checked_at" || name == "quarantined_at" {
			parts[i] = "CAST(" + c + " AS CHAR)"
		}
	}
	return strings.Join(parts, ", ")
}

func buildQueries(d Dialect, prefix string) queries {
	users := prefix + "users"
	creds := prefix + "credentials"
	cers := prefix + "ceremonies"
	codes := prefix + "recovery_codes"
	q := queries{
		schemaCheck: "SELECT " + qualify("u", userColumns) + ", " + qualify("c", credentialColumns) +
			", e.id, e.data, e.expires_at, r.user_handle, r.hash FROM " + users + " u, " + creds + " c, " + cers + " e, " +
			codes + " r WHERE 1 = 0",

		insertUser:   "INSERT INTO " + users + " (" + userColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?)",
		userByHandle: "SELECT " + selectColumns(d, userColumns) + " FROM " + users + " WHERE handle = ?",
		userByName:   "SELECT " + selectColumns(d, userColumns) + " FROM " + users + " WHERE name = ?",
		// UpdateUser: the unique index on name decides between concurrent
		// renames to one name.
		updateUser: "UPDATE " + users + " SET name = ?, display_name = ? WHERE handle = ?",
		deleteUser: "DELETE FROM " + users + " WHERE handle = ?",

		userByEmail: "SELECT " + selectColumns(d, userColumns) + " FROM " + users + " WHERE email = ?",
		// SetEmail: the unique index on email decides between concurrent
		// claims of one address, as the one on name does for UpdateUser.
		setEmail:          "UPDATE " + users + " SET email = ?, email_verified_at = ? WHERE handle = ?",
		userExists:        "SELECT 1 FROM " + users + " WHERE handle = ?",
		deleteRecovery:    "DELETE FROM " + codes + " WHERE user_handle = ?",
		useRecoveryCode:   "DELETE FROM " + codes + " WHERE user_handle = ? AND hash = ?",
		countRecovery:     "SELECT COUNT(*) FROM " + codes + " WHERE user_handle = ?",
		insertRecoveryRow: "INSERT INTO " + codes + " (user_handle, hash) VALUES ",

		insertCredential: "INSERT INTO " + creds + " (" + credentialColumns + ") VALUES (" +
			strings.Repeat("?, ", strings.Count(credentialColumns, ",")) + "?)",
		credentialByID: "SELECT " + selectColumns(d, credentialColumns) + " FROM " + creds + " WHERE id = ?",
		// GetCredentialWithUser: credentialColumns, then userColumns.
		credentialWithUser: "SELECT " + selectColumns(d, qualify("c", credentialColumns)+", "+qualify("u", userColumns)) +
			" FROM " + creds + " c JOIN " + users + " u ON u.handle = c.user_handle WHERE c.id = ?",
		credentialsByUser: "SELECT " + selectColumns(d, credentialColumns) + " FROM " + creds + " WHERE user_handle = ? ORDER BY created_at, id",
		// The compare-and-set: one statement, so the check and the write
		// are one atomic step under every isolation level.
		updateUse: "UPDATE " + creds + " SET sign_count = ?, backup_state = ?, user_verified = ?, " +
			"last_used_at = ?, clone_suspected = ? WHERE id = ? AND sign_count = ?",
		useState:            "SELECT " + selectColumns(d, "sign_count, backup_state, user_verified, last_used_at, clone_suspected") + " FROM " + creds + " WHERE id = ?",
		renameCredential:    "UPDATE " + creds + " SET name = ? WHERE id = ? AND user_handle = ?",
		ownedCredentialName: "SELECT name FROM " + creds + " WHERE id = ? AND user_handle = ?",
		deleteCredential:    "DELETE FROM " + creds + " WHERE id = ? AND user_handle = ?",

		// Keyset paging on the primary key: each page is an index range
		// scan, whatever the table's size, and holds nothing between pages.
		scanCredentials: "SELECT " + selectColumns(d, credentialColumns) + " FROM " + creds + " WHERE id > ? ORDER BY id LIMIT ?",
		// One statement: the four fields change together.
		setAudit: "UPDATE " + creds + " SET attestation_trust = ?, attestation_checked_at = ?, " +
			"quarantined_at = ?, quarantine_reason = ? WHERE id = ?",
		credentialExists: "SELECT 1 FROM " + creds + " WHERE id = ?",

		lockUser:                lockUserQuery(d, users),
		deleteGuardedCredential: deleteGuardedQuery(d, creds),
		lockUserCredentials:     "SELECT id FROM " + creds + " WHERE user_handle = ? FOR UPDATE",

		endSessions: endSessionsQuery(d, users),

		upsertCeremony: upsertCeremonyQuery(d, cers),

		takeCeremony:   "DELETE FROM " + cers + " WHERE id = ? AND expires_at > ? RETURNING data",
		lockCeremony:   "SELECT data FROM " + cers + " WHERE id = ? AND expires_at > ? FOR UPDATE",
		deleteCeremony: "DELETE FROM " + cers + " WHERE id = ?",
		deleteExpired:  "DELETE FROM " + cers + " WHERE expires_at <= ?",

		listUserHandles: "SELECT handle FROM " + users + " WHERE handle > ? ORDER BY handle LIMIT ?",
	}
	for _, p := range []*string{
		&q.schemaCheck, &q.insertUser, &q.userByHandle, &q.userByName, &q.updateUser, &q.deleteUser,
		&q.userByEmail, &q.setEmail, &q.userExists, &q.deleteRecovery, &q.useRecoveryCode, &q.countRecovery,
		&q.insertCredential, &q.credentialByID, &q.credentialWithUser, &q.credentialsByUser, &q.updateUse,
		&q.useState, &q.renameCredential, &q.ownedCredentialName, &q.deleteCredential,
		&q.scanCredentials, &q.setAudit, &q.credentialExists,
		&q.lockUser, &q.deleteGuardedCredential, &q.lockUserCredentials, &q.endSessions,
		&q.upsertCeremony,
		&q.takeCeremony, &q.lockCeremony, &q.deleteCeremony, &q.deleteExpired,
		&q.listUserHandles,
	} {
		*p = d.rebind(*p)
	}
	return q
}

// upsertCeremonyQuery stores a ceremony unless a live one holds its ID, in
// one statement: a live row is kept, an expired one is replaced.
//
// PostgreSQL and SQLite (arguments ID, data, expiry, now): a live row fails
// the DO UPDATE's WHERE, so no row changes (ErrDuplicate).
//
// MySQL (ID, data, expiry, now, now): ON DUPLICATE KEY UPDATE, because
// InnoDB takes an exclusive lock on the conflicting row for it. A plain
// INSERT that meets a conflicting row takes a shared lock to report the
// duplicate; when that row is a deleted one not yet purged (a ceremony just
// taken or expired), several concurrent INSERTs hold the shared lock, each
// then waits for the others to write it, and all but one fail with
// ER_LOCK_DEADLOCK (1213). Affected rows cannot tell a live duplicate from
// an insert (with clientFoundRows an unchanged row counts 1, like an
// insert), so the live branch marks itself with LAST_INSERT_ID(1), which
// the server returns as the statement's insert ID; otherwise it is 0, since
// the table has no AUTO_INCREMENT column. MySQL applies the assignments
// left to right, each seeing the ones before, so data is set before
// expires_at changes.
func upsertCeremonyQuery(d Dialect, cers string) string {
	if d == MySQL {
		return "INSERT INTO " + cers + " (id, data, expires_at) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE " +
			"data = IF(expires_at > ?, IF(LAST_INSERT_ID(1), data, data), VALUES(data)), " +
			"expires_at = IF(expires_at > ?, expires_at, VALUES(expires_at))"
	}
	return "INSERT INTO " + cers + " (id, data, expires_at) VALUES (?, ?, ?) " +
		"ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at " +
		"WHERE " + cers + ".expires_at <= ?"
}

// qualify prefixes each column of a comma-separated list with alias.
func qualify(alias, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}

// lockUserQuery locks a user's row for the rest of the transaction, so that
// guarded deletes of one user's credentials run one after the other. On
// PostgreSQL FOR NO KEY UPDATE is enough (it conflicts with itself) and,
// unlike FOR UPDATE, does not hold up the foreign key check of an
// AddCredential for that user.
func lockUserQuery(d Dialect, users string) string {
	if d == Postgres {
		return "SELECT 1 FROM " + users + " WHERE handle = ? FOR NO KEY UPDATE"
	}
	return "SELECT 1 FROM " + users + " WHERE handle = ? FOR UPDATE"
}

// deleteGuardedQuery is the delete "only if the user keeps another
// credential".
//
// PostgreSQL (run after lockUser, in a READ COMMITTED transaction): one
// statement deletes and says why it did not. Its arguments are user handle,
// ID, user handle, ID; it returns the number of rows deleted and whether
// the credential exists. Every part of a statement reads the snapshot taken
// when it starts, which is after the user lock was granted, so it sees
// every delete committed by the previous holder.
//
// SQLite: one conditional DELETE (ID, user handle, user handle, ID). A
// writing statement holds the database's write lock from its start, so the
// check and the delete are one step, also against other processes.
//
// MySQL uses lockUserCredentials and deleteCredential instead: it cannot
// delete from a table that a subquery of the statement reads (error 1093).
func deleteGuardedQuery(d Dialect, creds string) string {
	switch d {
	case Postgres:
		return "WITH owned AS (SELECT id FROM " + creds + " WHERE user_handle = ?), " +
			"deleted AS (DELETE FROM " + creds + " WHERE id = ? AND user_handle = ? " +
			"AND (SELECT COUNT(*) FROM owned) > 1 RETURNING 1) " +
			"SELECT (SELECT COUNT(*) FROM deleted), EXISTS (SELECT 1 FROM owned WHERE id = ?)"
	case SQLite:
		return "DELETE FROM " + creds + " WHERE id = ? AND user_handle = ? " +
			"AND EXISTS (SELECT 1 FROM " + creds + " other WHERE other.user_handle = ? AND other.id <> ?)"
	}
	return ""
}

// endSessionsQuery increments a user's session epoch in one statement. On
// MySQL, which has no UPDATE ... RETURNING, LAST_INSERT_ID(expr) sets the
// connection's last insert ID to the new value, and the server returns it
// with the UPDATE's result (the documented way to build a sequence).
func endSessionsQuery(d Dialect, users string) string {
	if d == MySQL {
		return "UPDATE " + users + " SET session_epoch = LAST_INSERT_ID(session_epoch + 1) WHERE handle = ?"
	}
	return "UPDATE " + users + " SET session_epoch = session_epoch + 1 WHERE handle = ? RETURNING session_epoch"
}
