package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/webauthnkit/webauthnkit"
)

// PutCeremony stores data under id until expiresAt. An id that is stored
// and not expired gives ErrDuplicate; an expired one is replaced. One
// statement checks and writes, so of concurrent puts of one id exactly one
// succeeds and the others get ErrDuplicate.
func (s *Store) PutCeremony(ctx context.Context, id string, data []byte, expiresAt time.Time) error {
	const op = "PutCeremony"
	if len(id) == 0 || len(id) > maxCeremonyIDLen {
		return fmt.Errorf("sqlstore: %s: ceremony ID is %d bytes, want 1 to %d", op, len(id), maxCeremonyIDLen)
	}
	if err := s.writes.lock(ctx); err != nil {
		return s.fail(ctx, op, err, nil)
	}
	defer s.writes.unlock()
	// The time is read after the wait for the write lock: a row that
	// expired during the wait is expired (replaced here, not returned by
	// TakeCeremony).
	now := s.dialect.timeArg(s.now())
	expires := s.dialect.timeArg(expiresAt)

	if s.dialect == MySQL {
		res, err := s.db.ExecContext(ctx, s.q.upsertCeremony, id, nonNil(data), expires, now, now)
		if err != nil {
			return s.fail(ctx, op, err, webauthnkit.ErrDuplicate)
		}
		live, err := res.LastInsertId() // 1 marks a live row (see upsertCeremonyQuery)
		if err != nil {
			return s.fail(ctx, op, err, nil)
		}
		if live != 0 {
			return fmt.Errorf("sqlstore: %s: %w", op, webauthnkit.ErrDuplicate)
		}
		return nil
	}

	res, err := s.db.ExecContext(ctx, s.q.upsertCeremony, id, nonNil(data), expires, now)
	if err != nil {
		return s.fail(ctx, op, err, webauthnkit.ErrDuplicate)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.fail(ctx, op, err, nil)
	}
	if n == 0 { // the conflicting row is live: the upsert's WHERE kept it
		return fmt.Errorf("sqlstore: %s: %w", op, webauthnkit.ErrDuplicate)
	}
	return nil
}

// TakeCeremony returns the data stored under id and deletes it, in one
// atomic step: of concurrent takes of one id exactly one succeeds. An
// unknown, already taken or expired id gives ErrNotFound.
func (s *Store) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	const op = "TakeCeremony"
	if err := s.writes.lock(ctx); err != nil {
		return nil, s.fail(ctx, op, err, nil)
	}
	defer s.writes.unlock()
	now := s.dialect.timeArg(s.now()) // after the wait (see PutCeremony)
	var data []byte
	if s.deleteReturning {
		// One statement: the row lock taken by DELETE serialises concurrent
		// takes, and the losers find no row.
		err := s.db.QueryRowContext(ctx, s.q.takeCeremony, id, now).Scan(&data)
		if err != nil {
			return nil, s.fail(ctx, op, err, nil)
		}
		return data, nil
	}

	// MySQL has no DELETE ... RETURNING. SELECT ... FOR UPDATE locks the row
	// until commit; a concurrent take waits on the lock and then reads the
	// latest committed state (locking reads do not use the snapshot), in
	// which the row is gone.
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.fail(ctx, op, err, nil)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if err := tx.QueryRowContext(ctx, s.q.lockCeremony, id, now).Scan(&data); err != nil {
		return nil, s.fail(ctx, op, err, nil)
	}
	if _, err := tx.ExecContext(ctx, s.q.deleteCeremony, id); err != nil {
		return nil, s.fail(ctx, op, err, nil)
	}
	if err := tx.Commit(); err != nil {
		return nil, s.fail(ctx, op, err, nil)
	}
	return data, nil
}

// DeleteExpired deletes every ceremony whose expiry time has passed and
// returns how many it deleted. TakeCeremony never returns an expired
// ceremony, so this only reclaims space; run it every few minutes, or let
// WithJanitor do it.
func (s *Store) DeleteExpired(ctx context.Context) (int64, error) {
	const op = "DeleteExpired"
	if err := s.writes.lock(ctx); err != nil {
		return 0, s.fail(ctx, op, err, nil)
	}
	defer s.writes.unlock()
	// The time is read after the wait for the lock, like in PutCeremony.
	res, err := s.db.ExecContext(ctx, s.q.deleteExpired, s.dialect.timeArg(s.now()))
	if err != nil {
		return 0, s.fail(ctx, op, err, nil)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, s.fail(ctx, op, err, nil)
	}
	return n, nil
}

func (s *Store) startJanitor(interval time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	s.stopJanitor = cancel
	s.janitorDone = make(chan struct{})
	go func() {
		defer close(s.janitorDone)
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-ticker.C:
			}
			// Bound each run so that a hung database cannot pile up runs.
			runCtx, cancelRun := context.WithTimeout(ctx, max(interval, time.Minute))
			n, err := s.DeleteExpired(runCtx)
			cancelRun()
			switch {
			case err != nil && !errors.Is(err, context.Canceled):
				s.logger.WarnContext(ctx, "sqlstore: janitor: deleting expired ceremonies failed", "error", err)
			case n > 0:
				s.logger.DebugContext(ctx, "sqlstore: janitor: deleted expired ceremonies", "count", n)
			}
		}
	}()
}
