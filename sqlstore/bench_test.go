package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/loginbench"
	"github.com/webauthnkit/webauthnkit/internal/testenv"
	"github.com/webauthnkit/webauthnkit/sqlstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// The per-call benchmarks run against every backend:
//
//	go test -run '^$' -bench . -benchmem -benchtime=2000x ./sqlstore
//
// Each iteration is one call (TakeCeremony: a PutCeremony and a
// TakeCeremony, since a ceremony can only be taken once), so ns/op is the
// latency of the call from a single goroutine, round trip to the local
// server included.

func BenchmarkGetCredential(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		// A few hundred credentials, so the lookup is not of the only row.
		ids := make([][]byte, 0, 256)
		for range 128 {
			u := storetest.RandomUser()
			c := storetest.RandomCredential(u.Handle)
			require.NoError(b, s.CreateUser(ctx, u, &c))
			c2 := storetest.RandomCredential(u.Handle)
			require.NoError(b, s.AddCredential(ctx, c2))
			ids = append(ids, c.ID, c2.ID)
		}
		i := 0
		for b.Loop() {
			if _, err := s.GetCredential(ctx, ids[i%len(ids)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

func BenchmarkTakeCeremony(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		data := storetest.RandomBytes(512) // about the size of the library's ceremony state
		prefix := storetest.RandomCeremonyID() + "-"
		i := 0
		for b.Loop() {
			id := prefix + strconv.Itoa(i)
			i++
			if err := s.PutCeremony(ctx, id, data, time.Now().Add(5*time.Minute)); err != nil {
				b.Fatal(err)
			}
			if _, err := s.TakeCeremony(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkUpdateCredentialUse(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		u := storetest.RandomUser()
		c := storetest.RandomCredential(u.Handle)
		c.SignCount = 0
		require.NoError(b, s.CreateUser(ctx, u, &c))
		count := uint32(0)
		for b.Loop() {
			use := webauthnkit.CredentialUse{SignCount: count + 1, UserVerified: true, BackupState: true, LastUsedAt: time.Now()}
			if err := s.UpdateCredentialUse(ctx, c.ID, count, use); err != nil {
				b.Fatal(err)
			}
			count++
		}
	})
}

func forEachBackendB(b *testing.B, f func(b *testing.B, s *sqlstore.Store)) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			f(b, newStore(b, be.open(b), be.dialect))
		})
	}
}

// ---- scale (PostgreSQL, opt-in) ----

var scale = flag.Bool("sqlstore.scale", false,
	"run BenchmarkGetCredentialScale: fills PostgreSQL with up to 1,000,000 credentials (minutes; never in CI)")

var scaleSizes = flag.String("sqlstore.scale.sizes", "1000,100000,1000000",
	"comma-separated table sizes for BenchmarkGetCredentialScale")

// BenchmarkGetCredentialScale measures a credential lookup with 1k, 100k
// and 1M credentials stored (one user each). It is a primary key lookup, a
// B-tree descent whose depth grows with log(n); what changes the cost in
// practice is whether the pages are in PostgreSQL's buffer cache. The table
// is filled with COPY, outside the timed loops, one size after the other;
// each size is measured on uniformly random stored IDs and on a hot set of
// 1,000.
//
//	go test -run '^$' -bench GetCredentialScale -benchtime=20000x -sqlstore.scale ./sqlstore
func BenchmarkGetCredentialScale(b *testing.B) {
	if !*scale || testenv.InCI() {
		b.Skip("opt-in, never under CI: pass -sqlstore.scale (fills PostgreSQL with up to 1M credentials)")
	}
	db := openPostgres(b, postgresDSN)
	s := newStore(b, db, sqlstore.Postgres)
	prefix := sqlstore.TablePrefix(s)
	var ids [][]byte
	for _, field := range strings.Split(*scaleSizes, ",") {
		size, err := strconv.Atoi(field)
		require.NoError(b, err, "-sqlstore.scale.sizes")
		if size <= len(ids) {
			continue
		}
		start := time.Now()
		ids = append(ids, copyCredentials(b, db, prefix, size-len(ids))...)
		_, err = db.Exec("ANALYZE " + prefix + "users, " + prefix + "credentials")
		require.NoError(b, err)
		b.Logf("filled to %d credentials in %v", len(ids), time.Since(start).Round(time.Millisecond))

		logServerSideCost(b, db, prefix, ids)

		// uniform: any stored credential, so most of the table is touched
		// (once it outgrows shared_buffers, pages come from the OS cache).
		// hot: 1,000 credentials, as when the same users log in again,
		// within the same large table.
		hot := ids[:min(1000, len(ids))]
		for _, set := range []struct {
			name string
			ids  [][]byte
		}{{"uniform", ids}, {"hot1000", hot}} {
			b.Run(fmt.Sprintf("credentials=%d/%s", len(ids), set.name), func(b *testing.B) {
				ctx := context.Background()
				for b.Loop() {
					if _, err := s.GetCredential(ctx, set.ids[mrand.IntN(len(set.ids))]); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// logServerSideCost logs the plan of the lookup and, over 500 random stored
// IDs, the mean execution time inside PostgreSQL and the mean number of
// buffer pages the lookup touched (EXPLAIN ANALYZE): figures that the load
// of a shared machine disturbs far less than round-trip latency.
func logServerSideCost(b *testing.B, db *sql.DB, prefix string, ids [][]byte) {
	const samples = 500
	var (
		execMS       float64
		hits, reads  int
		nodeType     string
		explainQuery = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM " + prefix + "credentials WHERE id = $1"
	)
	for range samples {
		var out []byte
		require.NoError(b, db.QueryRow(explainQuery, ids[mrand.IntN(len(ids))]).Scan(&out))
		var plans []struct {
			Plan struct {
				NodeType   string `json:"Node Type"`
				IndexName  string `json:"Index Name"`
				SharedHit  int    `json:"Shared Hit Blocks"`
				SharedRead int    `json:"Shared Read Blocks"`
			}
			ExecutionTime float64 `json:"Execution Time"`
		}
		require.NoError(b, json.Unmarshal(out, &plans))
		p := plans[0]
		nodeType = p.Plan.NodeType + " using " + p.Plan.IndexName
		hits += p.Plan.SharedHit
		reads += p.Plan.SharedRead
		execMS += p.ExecutionTime
	}
	var credSize, pkeySize, usersSize string
	require.NoError(b, db.QueryRow(`SELECT pg_size_pretty(pg_total_relation_size($1::regclass)),
		pg_size_pretty(pg_relation_size($2::regclass)), pg_size_pretty(pg_total_relation_size($3::regclass))`,
		prefix+"credentials", prefix+"credentials_pkey", prefix+"users").Scan(&credSize, &pkeySize, &usersSize))
	b.Logf("%d credentials: %s; in the server: %.1f µs, %.2f pages from shared_buffers + %.2f read, per lookup (mean of %d); "+
		"credentials %s (primary key %s), users %s",
		len(ids), nodeType, 1000*execMS/samples, float64(hits)/samples, float64(reads)/samples, samples,
		credSize, pkeySize, usersSize)
}

// copyCredentials inserts n users with one credential each through pgx's
// COPY and returns the credential IDs.
func copyCredentials(b *testing.B, db *sql.DB, prefix string, n int) [][]byte {
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	require.NoError(b, err)
	defer conn.Close()
	ids := make([][]byte, n)
	err = conn.Raw(func(driverConn any) error {
		pg := driverConn.(*stdlib.Conn).Conn()
		now := time.Now().UTC()
		transports, _ := json.Marshal([]string{"internal", "hybrid"})
		const batch = 50_000
		for done := 0; done < n; done += batch {
			m := min(batch, n-done)
			users := make([][]any, m)
			creds := make([][]any, m)
			for i := range m {
				handle := storetest.RandomHandle()
				id := storetest.RandomBytes(32)
				ids[done+i] = id
				users[i] = []any{handle, "scale-" + strconv.Itoa(done+i) + "-" + storetest.RandomName(), "Scale user", now}
				creds[i] = []any{id, handle, storetest.RandomBytes(77), int64(i), storetest.RandomBytes(16),
					"none", string(transports), true, true, true, true, "platform", "key", now, nil, false}
			}
			if _, err := pg.CopyFrom(ctx, pgx.Identifier{prefix + "users"},
				[]string{"handle", "name", "display_name", "created_at"}, pgx.CopyFromRows(users)); err != nil {
				return err
			}
			if _, err := pg.CopyFrom(ctx, pgx.Identifier{prefix + "credentials"},
				[]string{"id", "user_handle", "public_key", "sign_count", "aaguid", "attestation_format", "transports",
					"user_present", "user_verified", "backup_eligible", "backup_state", "attachment", "name",
					"created_at", "last_used_at", "clone_suspected"}, pgx.CopyFromRows(creds)); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(b, err)
	return ids
}

// BenchmarkFinishLogin is the library's whole login check on each backend:
// take the ceremony, parse, look up the credential and user, verify the
// ES256 signature, compare-and-set the counter. It mirrors the core's
// BenchmarkFinishLogin on memstore (a fixed challenge and a synced passkey,
// whose counter stays 0, make one assertion valid for every ceremony), so
// the difference is the cost of the store. The ceremonies are begun before
// the timer starts.
func BenchmarkFinishLogin(b *testing.B) {
	forEachBackendB(b, func(b *testing.B, s *sqlstore.Store) {
		ctx := context.Background()
		f := loginbench.New(b, s, s)
		ids := f.Begin(b, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			if _, err := f.RP.FinishLogin(ctx, ids[i], f.Body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
