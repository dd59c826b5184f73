package sqlstore_test

import (
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

func init() {
	// The driver logs every dropped connection to stderr; the fault tests
	// drop many on purpose.
	mysql.SetLogger(&mysql.NopLogger{})
}

// TestMySQLDSNSettings: the store must not depend on DSN settings that
// change how MySQL results look: parseTime (times as time.Time or as text),
// loc (the zone the driver reads and writes DATETIME in), clientFoundRows
// (rows matched or rows changed) and interpolateParams (client-side
// placeholders).
func TestMySQLDSNSettings(t *testing.T) {
	base, err := mysql.ParseDSN(mysqlDSN)
	require.NoError(t, err)
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	require.NoError(t, err)
	newYork, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	for _, tc := range []struct {
		name  string
		apply func(*mysql.Config)
	}{
		{"parseTime=false", func(c *mysql.Config) { c.ParseTime = false }},
		{"parseTime=true,loc=Asia/Kolkata", func(c *mysql.Config) { c.ParseTime, c.Loc = true, kolkata }},
		{"parseTime=false,loc=Asia/Kolkata", func(c *mysql.Config) { c.ParseTime, c.Loc = false, kolkata }},
		// A zone with daylight saving: UTC times in its spring-forward gap
		// must not move (see TestMySQLDaylightSavingGap).
		{"parseTime=true,loc=America/New_York", func(c *mysql.Config) { c.ParseTime, c.Loc = true, newYork }},
		{"clientFoundRows=true", func(c *mysql.Config) { c.ClientFoundRows = true }},
		{"interpolateParams=false", func(c *mysql.Config) { c.InterpolateParams = false }}, // the default DSN has it on
		{"interpolateParams=true", func(c *mysql.Config) { c.InterpolateParams = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base.Clone()
			tc.apply(cfg)
			direct := openMySQL(t, mysqlDSN)
			db := openMySQL(t, cfg.FormatDSN())
			s := newStoreWithMigrationDB(t, direct, db, sqlstore.MySQL)
			storetest.TestCredentialStore(t, func(t *testing.T) webauthnkit.CredentialStore { return s })
			storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore { return s })

			// A row written under these settings reads back the same
			// through a connection with the defaults: one on-disk format.
			plain, err := sqlstore.New(direct, sqlstore.MySQL, sqlstore.WithTablePrefix(sqlstore.TablePrefix(s)))
			require.NoError(t, err)
			u := storetest.RandomUser()
			c := storetest.RandomCredential(u.Handle)
			require.NoError(t, s.CreateUser(t.Context(), u, &c))
			got, err := plain.GetCredential(t.Context(), c.ID)
			require.NoError(t, err)
			storetest.AssertCredentialEqual(t, c, got)
		})
	}
}

// TestMySQLUpdatesThatChangeNothing: without clientFoundRows, MySQL counts
// changed rows, so an UPDATE that writes the values already stored reports 0
// rows. A compare-and-set or rename that matched must still succeed.
func TestMySQLUpdatesThatChangeNothing(t *testing.T) {
	db := openMySQL(t, mysqlDSN) // no clientFoundRows
	s := newStore(t, db, sqlstore.MySQL)
	ctx := t.Context()
	u := storetest.RandomUser()
	c := storetest.RandomCredential(u.Handle)
	c.SignCount = 0
	require.NoError(t, s.CreateUser(ctx, u, &c))

	use := webauthnkit.CredentialUse{SignCount: 0, BackupState: true, UserVerified: true, LastUsedAt: time.Now()}
	require.NoError(t, s.UpdateCredentialUse(ctx, c.ID, 0, use))
	require.NoError(t, s.UpdateCredentialUse(ctx, c.ID, 0, use), "the same use again (same clock reading)")
	err := s.UpdateCredentialUse(ctx, c.ID, 1, use)
	require.ErrorIs(t, err, webauthnkit.ErrConflict, "stored state equals use, but the expected count is wrong")

	require.NoError(t, s.RenameCredential(ctx, u.Handle, c.ID, "same"))
	require.NoError(t, s.RenameCredential(ctx, u.Handle, c.ID, "same"), "renaming to the current name")
	require.ErrorIs(t, s.RenameCredential(ctx, storetest.RandomHandle(), c.ID, "same"), webauthnkit.ErrNotFound)

	// UpdateUser to the values already stored matches the row but changes
	// nothing: success, not ErrNotFound.
	require.NoError(t, s.UpdateUser(ctx, u.Handle, u.Name, u.DisplayName), "the same name and display name")
	require.NoError(t, s.UpdateUser(ctx, u.Handle, u.Name, u.DisplayName), "again")
	require.ErrorIs(t, s.UpdateUser(ctx, storetest.RandomHandle(), u.Name+"-x", "x"), webauthnkit.ErrNotFound)
	got, err := s.GetUserByHandle(ctx, u.Handle)
	require.NoError(t, err)
	storetest.AssertUserEqual(t, u, got)
}

func TestMariaDBUsesDeleteReturning(t *testing.T) {
	db := openMySQL(t, mysqlDSN)
	var version string
	require.NoError(t, db.QueryRow("SELECT VERSION()").Scan(&version))
	s := newStore(t, db, sqlstore.MySQL)
	t.Logf("server %s", version)
	require.True(t, sqlstore.UsesDeleteReturning(s), "MariaDB %s has DELETE ... RETURNING", version)
}

// TestMySQLDaylightSavingGap: 02:30 UTC on 2024-03-10 does not exist as a
// New York wall-clock time; read through a DSN with that loc it must still
// come back unchanged.
func TestMySQLDaylightSavingGap(t *testing.T) {
	base, err := mysql.ParseDSN(mysqlDSN)
	require.NoError(t, err)
	newYork, err := time.LoadLocation("America/New_York")
	require.NoError(t, err)
	cfg := base.Clone()
	cfg.ParseTime, cfg.Loc = true, newYork
	direct := openMySQL(t, mysqlDSN)
	db := openMySQL(t, cfg.FormatDSN())
	s := newStoreWithMigrationDB(t, direct, db, sqlstore.MySQL)
	gap := time.Date(2024, 3, 10, 2, 30, 0, 0, time.UTC)
	u := storetest.RandomUser()
	u.CreatedAt = gap
	u.Email, u.EmailVerifiedAt = "gap@example.com", gap.Add(5*time.Minute)
	c := storetest.RandomCredential(u.Handle)
	c.CreatedAt, c.LastUsedAt = gap, gap.Add(15*time.Minute)
	require.NoError(t, s.CreateUser(t.Context(), u, &c))
	gotUser, err := s.GetUserByHandle(t.Context(), u.Handle)
	require.NoError(t, err)
	assert.True(t, gap.Equal(gotUser.CreatedAt), "user created at %v, want %v", gotUser.CreatedAt, gap)
	assert.True(t, u.EmailVerifiedAt.Equal(gotUser.EmailVerifiedAt), "email verified at %v, want %v", gotUser.EmailVerifiedAt, u.EmailVerifiedAt)
	got, err := s.GetCredential(t.Context(), c.ID)
	require.NoError(t, err)
	storetest.AssertCredentialEqual(t, c, got)
}
