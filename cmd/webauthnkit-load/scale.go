package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// parseSizes reads the -scale list of registered-credential counts.
func parseSizes(list string) ([]int64, error) {
	if strings.TrimSpace(list) == "" {
		return nil, nil
	}
	var sizes []int64
	for _, s := range strings.Split(list, ",") {
		s = strings.ReplaceAll(strings.TrimSpace(s), "_", "")
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 || n > 100_000_000 {
			return nil, fmt.Errorf("-scale: %q is not a count from 1 to 100000000", s)
		}
		sizes = append(sizes, n)
	}
	slices.Sort(sizes)
	return slices.Compact(sizes), nil
}

// seedChunk is the number of users (one credential each) inserted per
// statement.
const seedChunk = 100_000

// seedPostgres inserts users first..last (one credential each) straight into
// sqlstore's tables, with generate_series: the same rows CreateUser writes
// (32-byte handle, 16-byte credential ID, a 77-byte COSE key), without the
// ceremonies. Seeded users never sign in; they only make the tables and
// indexes as large as a real deployment's.
func seedPostgres(ctx context.Context, db *sql.DB, prefix string, first, last int64, publicKey []byte, log io.Writer) error {
	users := "INSERT INTO " + prefix + "users (handle, name, display_name, created_at) " +
		"SELECT decode(md5('u' || i) || md5('h' || i), 'hex'), 'seed-' || i, 'Seed user ' || i, now() " +
		"FROM generate_series($1::bigint, $2::bigint) AS i"
	creds := "INSERT INTO " + prefix + "credentials (id, user_handle, public_key, sign_count, aaguid, " +
		"attestation_format, transports, user_present, user_verified, backup_eligible, backup_state, " +
		"attachment, name, created_at, last_used_at, clone_suspected) " +
		"SELECT decode(md5('c' || i), 'hex'), decode(md5('u' || i) || md5('h' || i), 'hex'), $3::bytea, 0, " +
		"'\\x00000000000000000000000000000000'::bytea, 'none', '[\"hybrid\",\"internal\"]', true, true, true, true, " +
		"'platform', 'Synced passkey', now(), NULL, false " +
		"FROM generate_series($1::bigint, $2::bigint) AS i"
	start := time.Now()
	for lo := first; lo <= last; lo += seedChunk {
		hi := min(lo+seedChunk-1, last)
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, users, lo, hi); err != nil {
			tx.Rollback()
			return fmt.Errorf("seeding users: %w", err)
		}
		if _, err := tx.ExecContext(ctx, creds, lo, hi, publicKey); err != nil {
			tx.Rollback()
			return fmt.Errorf("seeding credentials: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		if log != nil {
			fmt.Fprintf(log, "[%6.1fs] seeded %d of %d users\n", time.Since(start).Seconds(), hi, last)
		}
	}
	_, err := db.ExecContext(ctx, "ANALYZE "+prefix+"users; ANALYZE "+prefix+"credentials")
	if err != nil {
		// pgx runs a multi-statement string only in the simple protocol.
		_, err = db.ExecContext(ctx, "ANALYZE "+prefix+"users")
		if err == nil {
			_, err = db.ExecContext(ctx, "ANALYZE "+prefix+"credentials")
		}
	}
	return err
}

// runScale measures logins of -users real users while the store holds each
// of the -scale credential counts, seeding in between.
func runScale(ctx context.Context, f *flags, rep *Report, stdout io.Writer) (failed bool, err error) {
	stderr := os.Stderr
	sizes, err := parseSizes(f.scale)
	if err != nil {
		return false, err
	}
	name := f.scaleStore
	fmt.Fprintf(stderr, "== scale on %s: %v registered credentials, %d users, %v warm-up + %v each\n", name, sizes, f.users, f.warmup, f.duration)
	st, err := openStores(ctx, name, f.backends)
	if err != nil {
		return false, err
	}
	defer func() {
		fmt.Fprintln(stderr, "dropping the seeded tables…")
		if cerr := st.close(context.WithoutCancel(ctx)); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean-up: %w", cerr))
		}
	}()
	if st.pg == nil {
		return false, fmt.Errorf("-scale needs a PostgreSQL store, not %s", name)
	}
	srv, err := startServer(st, "127.0.0.1:0", f.countCalls)
	if err != nil {
		return false, err
	}
	defer func() { err = errors.Join(err, srv.close()) }()
	t := &target{url: srv.url, origin: srv.origin, server: srv, stores: st}
	r, err := newRunner(t, f.loadOptions(name, stderr))
	if err != nil {
		return false, err
	}
	signupLat, signups := r.signup(ctx)
	if signups == 0 {
		return true, fmt.Errorf("no user could sign up: %s", strings.Join(r.samples, "; "))
	}
	publicKey := make([]byte, 77)
	_, _ = rand.Read(publicKey)
	var seeded int64
	for _, size := range sizes {
		if want := size - int64(signups); want > seeded {
			fmt.Fprintf(stderr, "seeding %d more users with one credential each…\n", want-seeded)
			if err := seedPostgres(ctx, st.pg, st.prefix, seeded+1, want, publicKey, stderr); err != nil {
				return failed, err
			}
			seeded = want
		}
		var count int64
		if err := st.pg.QueryRowContext(ctx, "SELECT count(*) FROM "+st.prefix+"credentials").Scan(&count); err != nil {
			return failed, err
		}
		var bytes int64
		_ = st.pg.QueryRowContext(ctx, "SELECT pg_total_relation_size('"+st.prefix+"credentials') + pg_total_relation_size('"+st.prefix+"users')").Scan(&bytes)
		var best *RunResult
		for attempt := 1; attempt <= f.repeat; attempt++ {
			res := &RunResult{
				Store: name, Target: t.url, InProcess: true, LoginMode: f.loginMode, Users: f.users,
				GOMAXPROCS: rep.Machine.GOMAXPROCS, RegisteredCredentials: count, TableBytes: bytes,
				Signups: signups, Signup: signupLat, Servers: st.versions,
			}
			res.LoadAverage = loadAverage()
			res.BackgroundBusyCores = waitQuiet(ctx, r.opts, fmt.Sprintf("%s @ %d credentials", name, count))
			res.OfferedRate = f.rate
			r.errors.Store(0)
			r.samples = nil
			r.opts.Label = fmt.Sprintf("%s @ %d credentials", name, count)
			r.opts.OnMeasure = profileHook(profilePath(f.cpuProfile, strconv.FormatInt(size, 10), true), stderr)
			r.loginPhase(ctx, res)
			r.finish(res)
			if f.repeat > 1 {
				fmt.Fprintf(stderr, "%s: attempt %d: %.1f logins/s, p99 %.2f ms, %.2f cores of other work, %d errors\n",
					r.opts.Label, attempt, res.LoginsPerSec, res.Login.P99, res.OtherBusyCores, res.Errors)
			}
			if res.Errors > 0 || best == nil || disturbance(res) < disturbance(best) {
				best = res
			}
			if res.Errors > 0 || disturbance(best) < cleanRun || ctx.Err() != nil {
				break
			}
		}
		res := *best
		rep.Scale = append(rep.Scale, res)
		printResult(stdout, &res)
		failed = failed || res.Errors > 0
		if ctx.Err() != nil {
			return failed, ctx.Err()
		}
	}
	fmt.Fprintf(stdout, "\n%14s %10s %9s %9s %9s %9s %10s\n", "credentials", "logins/s", "p50 ms", "p95 ms", "p99 ms", "fin p99", "tables MB")
	for _, s := range rep.Scale {
		fmt.Fprintf(stdout, "%14d %10.1f %9.2f %9.2f %9.2f %9.2f %10.0f\n", s.RegisteredCredentials, s.LoginsPerSec,
			s.Login.P50, s.Login.P95, s.Login.P99, s.Finish.P99, float64(s.TableBytes)/(1<<20))
	}
	return failed, nil
}
