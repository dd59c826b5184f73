package sqlstore

import (
	"fmt"
	"log/slog"
	"time"
)

// DefaultTablePrefix is the prefix of every table name unless
// WithTablePrefix says otherwise.
const DefaultTablePrefix = "webauthnkit_"

// maxTablePrefixLen keeps the longest name the schema derives from the
// prefix ("<prefix>credentials_user_idx", 20 characters after the prefix)
// within PostgreSQL's 63-byte and MySQL's 64-character identifier limits.
const maxTablePrefixLen = 40

// Option configures New, Migrate, MigrateDown and Migrations. Options that
// do not apply to a function (WithJanitor for Migrate, say) are ignored by
// it. The options of the three backends (memstore, sqlstore, redisstore)
// have the same shape: With* functions over an unexported options struct.
type Option func(*options)

type options struct {
	prefix          string
	janitorInterval time.Duration
	now             func() time.Time
	logger          *slog.Logger
	// noDeleteReturning forces the transactional take used on MySQL, for
	// tests that run it against MariaDB.
	noDeleteReturning bool
}

// WithTablePrefix sets the prefix of every table and index name (default
// "webauthnkit_"). It may be empty; otherwise it must start with a
// lower-case letter or underscore, contain only lower-case ASCII letters,
// digits and underscores, and be at most 40 characters long. (Lower case
// because PostgreSQL folds unquoted names to lower case while MySQL on Linux
// does not: one spelling keeps the names identical everywhere.) Pass the
// same prefix to Migrate and New.
func WithTablePrefix(prefix string) Option {
	return func(c *options) { c.prefix = prefix }
}

// WithJanitor makes New start a goroutine that calls DeleteExpired every
// interval, until Close. Without it, call DeleteExpired yourself (from a
// cron job, say) or expired ceremonies accumulate; they are never returned
// either way. An interval of zero or less disables the janitor.
func WithJanitor(interval time.Duration) Option {
	return func(c *options) { c.janitorInterval = interval }
}

// WithClock sets the clock used to decide whether a ceremony has expired
// (default time.Now). Use the clock given to webauthnkit.Config.Now, if any,
// since the library computes the expiry times with it. A nil function keeps
// the default.
func WithClock(now func() time.Time) Option {
	return func(c *options) { c.now = now }
}

// WithLogger sets where the janitor reports failed clean-ups (default:
// discarded). No other method logs: they return their errors.
func WithLogger(logger *slog.Logger) Option {
	return func(c *options) { c.logger = logger }
}

func newOptions(opts []Option) (options, error) {
	c := options{prefix: DefaultTablePrefix}
	for _, opt := range opts {
		if opt != nil {
			opt(&c)
		}
	}
	if err := validatePrefix(c.prefix); err != nil {
		return c, err
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// validatePrefix accepts identifier characters only: the prefix is pasted
// into SQL text (table names cannot be bound as parameters), so this check
// is what keeps it from being an injection vector.
func validatePrefix(prefix string) error {
	if len(prefix) > maxTablePrefixLen {
		return fmt.Errorf("sqlstore: table prefix %q is longer than %d characters", prefix, maxTablePrefixLen)
	}
	for i, r := range prefix {
		switch {
		case r == '_', 'a' <= r && r <= 'z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return fmt.Errorf("sqlstore: invalid table prefix %q: use lower-case ASCII letters, digits and underscores, not starting with a digit", prefix)
		}
	}
	return nil
}
