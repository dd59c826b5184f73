package sqlstore

// Hooks for the tests in package sqlstore_test.

// WithoutDeleteReturning makes TakeCeremony use the transactional take of
// MySQL proper, so that it can be tested against MariaDB.
func WithoutDeleteReturning() Option {
	return func(c *options) { c.noDeleteReturning = true }
}

// UsesDeleteReturning reports whether s takes ceremonies with DELETE ...
// RETURNING.
func UsesDeleteReturning(s *Store) bool { return s.deleteReturning }

// TablePrefix returns the table prefix s was created with.
func TablePrefix(s *Store) string { return s.prefix }

// WriteLockHeld reports whether the SQLite write lock of s's *sql.DB is
// held.
func WriteLockHeld(s *Store) bool { return s.writes != nil && len(s.writes.ch) == 1 }
