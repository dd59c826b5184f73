package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/webauthnkit/webauthnkit"
)

// ListUserHandles returns up to limit user handles greater than after, in
// byte order (webauthnkit.UserHandleLister): one indexed range scan of the
// users' primary key (bytea, VARBINARY and BLOB all compare byte for byte).
func (s *Store) ListUserHandles(ctx context.Context, after []byte, limit int) ([][]byte, error) {
	const op = "ListUserHandles"
	if limit < 1 || limit > webauthnkit.MaxUserHandlePage {
		return nil, fmt.Errorf("sqlstore: %s: %w", op, errLimit)
	}
	rows, err := s.db.QueryContext(ctx, s.q.listUserHandles, nonNil(after), limit)
	if err != nil {
		return nil, s.fail(ctx, op, err, nil)
	}
	defer rows.Close()
	out := make([][]byte, 0, min(limit, 64))
	for rows.Next() {
		var h []byte
		if err := rows.Scan(&h); err != nil {
			return nil, s.fail(ctx, op, err, nil)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail(ctx, op, err, nil)
	}
	return out, nil
}

var errLimit = errors.New("limit must be 1 to webauthnkit.MaxUserHandlePage")
