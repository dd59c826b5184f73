package sqlstore

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Dialect selects the SQL flavour: the schema, the placeholders, how times
// are stored and how driver errors are recognised.
type Dialect int

const (
	// Postgres is PostgreSQL 12 or later, through github.com/jackc/pgx/v5/stdlib
	// (driver name "pgx"). github.com/lib/pq also works: its errors carry
	// SQLSTATE codes the same way.
	Postgres Dialect = iota + 1
	// SQLite is SQLite 3.37 or later, through modernc.org/sqlite (driver name
	// "sqlite", pure Go). Connections need foreign_keys=ON and, unless the
	// pool has a single connection, a busy_timeout; see package sqlitedb for
	// a ready-made DSN.
	SQLite
	// MySQL is MySQL 8.0 or later, or MariaDB 10.5 or later, through
	// github.com/go-sql-driver/mysql (driver name "mysql").
	MySQL
)

// String returns the dialect's name, which is also the name of its directory
// of migrations: "postgres", "sqlite" or "mysql".
func (d Dialect) String() string {
	switch d {
	case Postgres:
		return "postgres"
	case SQLite:
		return "sqlite"
	case MySQL:
		return "mysql"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

func (d Dialect) valid() error {
	switch d {
	case Postgres, SQLite, MySQL:
		return nil
	}
	return fmt.Errorf("sqlstore: unknown dialect %d (use sqlstore.Postgres, sqlstore.SQLite or sqlstore.MySQL)", int(d))
}

// rebind turns the ? placeholders every query is written with into the
// dialect's own ($1, $2, ... on PostgreSQL). The queries of this package
// contain no literal question marks.
func (d Dialect) rebind(query string) string {
	if d != Postgres {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mysqlTimeLayout is how times are written to DATETIME(6) columns.
const mysqlTimeLayout = "2006-01-02 15:04:05.000000"

// timeArg converts t to the value bound for a time column: microsecond
// precision, UTC. Every dialect gets the time from Go, never from the
// database clock (NOW()), so expiry decisions use one clock, the Store's.
//
//   - PostgreSQL: time.Time (timestamptz).
//   - SQLite: int64 Unix microseconds, which order like the times they encode.
//   - MySQL: a "YYYY-MM-DD hh:mm:ss.ffffff" string in UTC. Passing a
//     time.Time would let the driver convert it to the DSN's loc, so a DSN
//     with loc=Local would store local wall-clock time.
func (d Dialect) timeArg(t time.Time) any {
	t = t.UTC().Truncate(time.Microsecond)
	switch d {
	case SQLite:
		return t.UnixMicro()
	case MySQL:
		return t.Format(mysqlTimeLayout)
	}
	return t
}

// nullTimeArg is timeArg for a nullable column: the zero time is NULL.
func (d Dialect) nullTimeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return d.timeArg(t)
}

// timeScanner reads a time column written by timeArg into *dst, in UTC. A
// NULL becomes the zero time.
type timeScanner struct {
	dialect Dialect
	dst     *time.Time
}

func (d Dialect) scanTime(dst *time.Time) timeScanner {
	return timeScanner{dialect: d, dst: dst}
}

func (s timeScanner) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*s.dst = time.Time{}
	case time.Time:
		if s.dialect == MySQL {
			// DATETIME has no zone: with parseTime=true the driver reads the
			// stored UTC wall-clock time in the DSN's loc. Take the wall
			// clock as UTC whatever that loc is.
			y, mo, d := v.Date()
			h, mi, sec := v.Clock()
			*s.dst = time.Date(y, mo, d, h, mi, sec, v.Nanosecond(), time.UTC)
		} else {
			*s.dst = v.UTC()
		}
	case int64:
		*s.dst = time.UnixMicro(v).UTC()
	case []byte:
		return s.parse(string(v))
	case string:
		return s.parse(v)
	default:
		return fmt.Errorf("sqlstore: cannot read a time from %T", src)
	}
	return nil
}

// parse reads DATETIME text, which the MySQL driver returns when the DSN
// lacks parseTime=true.
func (s timeScanner) parse(text string) error {
	t, err := time.ParseInLocation("2006-01-02 15:04:05.999999", text, time.UTC)
	if err != nil {
		return fmt.Errorf("sqlstore: cannot read a time from a %d-byte text (want YYYY-MM-DD hh:mm:ss.ffffff)", len(text))
	}
	*s.dst = t
	return nil
}

var _ interface{ Scan(any) error } = timeScanner{}
