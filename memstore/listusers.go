package memstore

import (
	"bytes"
	"context"
	"errors"
	"slices"

	"github.com/webauthnkit/webauthnkit"
)

// ListUserHandles returns up to limit user handles greater than after, in
// byte order (webauthnkit.UserHandleLister). Each call sorts the handles
// above after: O(n log n) for n users.
func (s *Store) ListUserHandles(ctx context.Context, after []byte, limit int) ([][]byte, error) {
	const op = "ListUserHandles"
	if err := ctx.Err(); err != nil {
		return nil, fail(op, err)
	}
	if limit < 1 || limit > webauthnkit.MaxUserHandlePage {
		return nil, fail(op, errLimit)
	}
	st := s.st
	st.mu.RLock()
	var out [][]byte
	for _, u := range st.users {
		if bytes.Compare(u.u.Handle, after) > 0 {
			out = append(out, u.u.Handle)
		}
	}
	st.mu.RUnlock()
	slices.SortFunc(out, bytes.Compare)
	out = out[:min(limit, len(out))]
	for i, h := range out {
		out[i] = bytes.Clone(h)
	}
	return out, nil
}

var errLimit = errors.New("limit must be 1 to webauthnkit.MaxUserHandlePage")
