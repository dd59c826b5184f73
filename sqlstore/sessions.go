package sqlstore

import "context"

// EndSessions increments the user's session epoch in one statement and
// returns the new value; ErrNotFound for an unknown user.
func (s *Store) EndSessions(ctx context.Context, userHandle []byte) (uint64, error) {
	const op = "EndSessions"
	if s.dialect == MySQL {
		res, err := s.db.ExecContext(ctx, s.q.endSessions, userHandle)
		if err != nil {
			return 0, s.fail(ctx, op, err, nil)
		}
		// The UPDATE always changes the row it matches, so RowsAffected
		// counts matches whatever clientFoundRows says.
		if err := s.expectOneRow(ctx, op, res, nil); err != nil {
			return 0, err
		}
		epoch, err := res.LastInsertId()
		if err != nil {
			return 0, s.fail(ctx, op, err, nil)
		}
		return uint64(epoch), nil
	}
	if err := s.writes.lock(ctx); err != nil {
		return 0, s.fail(ctx, op, err, nil)
	}
	defer s.writes.unlock()
	var epoch uint64
	if err := s.db.QueryRowContext(ctx, s.q.endSessions, userHandle).Scan(&epoch); err != nil {
		return 0, s.fail(ctx, op, err, nil) // no row: ErrNotFound
	}
	return epoch, nil
}
