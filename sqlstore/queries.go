package sqlstore

import "strings"

// queries holds every statement the Store runs, with the table prefix and
// the dialect's placeholders filled in once, by New.
type queries struct {
	schemaCheck string

	insertUser   string
	userByHandle string
	userByName   string
	deleteUser   string

	insertCredential    string
	credentialByID      string
	credentialWithUser  string
	credentialsByUser   string
	updateUse           string
	useState            string
	renameCredential    string
	ownedCredentialName string
	deleteCredential    string

	// PutCeremony: upsertCeremony on PostgreSQL and SQLite;
	// deleteExpiredCeremonyByID then insertCeremony on MySQL.
	upsertCeremony            string
	deleteExpiredCeremonyByID string
	insertCeremony            string
	// TakeCeremony: takeCeremony (DELETE ... RETURNING) where supported;
	// lockCeremony then deleteCeremony in a transaction otherwise.
	takeCeremony   string
	lockCeremony   string
	deleteCeremony string
	deleteExpired  string
}

const userColumns = "handle, name, display_name, created_at"

// credentialColumns is the column order of insertCredential,
// Store.credentialArgs and Store.scanCredential.
const credentialColumns = "id, user_handle, public_key, sign_count, aaguid, " +
	"attestation_format, transports, " +
	"user_present, user_verified, backup_eligible, backup_state, " +
	"attachment, name, created_at, last_used_at, clone_suspected"

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
		if name := c[strings.LastIndexByte(c, '.')+1:]; name == "created_at" || name == "last_used_at" {
			parts[i] = "CAST(" + c + " AS CHAR)"
		}
	}
	return strings.Join(parts, ", ")
}

func buildQueries(d Dialect, prefix string) queries {
	users := prefix + "users"
	creds := prefix + "credentials"
	cers := prefix + "ceremonies"
	q := queries{
		schemaCheck: "SELECT " + qualify("u", userColumns) + ", " + qualify("c", credentialColumns) +
			", e.id, e.data, e.expires_at FROM " + users + " u, " + creds + " c, " + cers + " e WHERE 1 = 0",

		insertUser:   "INSERT INTO " + users + " (" + userColumns + ") VALUES (?, ?, ?, ?)",
		userByHandle: "SELECT " + selectColumns(d, userColumns) + " FROM " + users + " WHERE handle = ?",
		userByName:   "SELECT " + selectColumns(d, userColumns) + " FROM " + users + " WHERE name = ?",
		deleteUser:   "DELETE FROM " + users + " WHERE handle = ?",

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

		// A live ceremony is kept (no row changes: ErrDuplicate); an expired
		// one is replaced.
		upsertCeremony: "INSERT INTO " + cers + " (id, data, expires_at) VALUES (?, ?, ?) " +
			"ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at " +
			"WHERE " + cers + ".expires_at <= ?",
		deleteExpiredCeremonyByID: "DELETE FROM " + cers + " WHERE id = ? AND expires_at <= ?",
		insertCeremony:            "INSERT INTO " + cers + " (id, data, expires_at) VALUES (?, ?, ?)",

		takeCeremony:   "DELETE FROM " + cers + " WHERE id = ? AND expires_at > ? RETURNING data",
		lockCeremony:   "SELECT data FROM " + cers + " WHERE id = ? AND expires_at > ? FOR UPDATE",
		deleteCeremony: "DELETE FROM " + cers + " WHERE id = ?",
		deleteExpired:  "DELETE FROM " + cers + " WHERE expires_at <= ?",
	}
	for _, p := range []*string{
		&q.schemaCheck, &q.insertUser, &q.userByHandle, &q.userByName, &q.deleteUser,
		&q.insertCredential, &q.credentialByID, &q.credentialWithUser, &q.credentialsByUser, &q.updateUse,
		&q.useState, &q.renameCredential, &q.ownedCredentialName, &q.deleteCredential,
		&q.upsertCeremony, &q.deleteExpiredCeremonyByID, &q.insertCeremony,
		&q.takeCeremony, &q.lockCeremony, &q.deleteCeremony, &q.deleteExpired,
	} {
		*p = d.rebind(*p)
	}
	return q
}

// qualify prefixes each column of a comma-separated list with alias.
func qualify(alias, columns string) string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		cols[i] = alias + "." + c
	}
	return strings.Join(cols, ", ")
}
