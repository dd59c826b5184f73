package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
)

// EndSessions increments the user's session epoch and returns the new
// value: one script on the user record, which checks that the user exists
// (an unknown handle gives an error wrapping webauthnkit.ErrNotFound and
// creates no key). Concurrent calls each get a distinct value.
//
// A call whose reply is lost and that go-redis resends increments twice:
// the epoch then skips a value, which ends the same sessions.
func (s *Store) EndSessions(ctx context.Context, userHandle []byte) (uint64, error) {
	const op = "EndSessions"
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(userHandle) == 0 {
		return 0, errorf(op, webauthnkit.ErrNotFound)
	}
	v, err := s.runAcked(ctx, scriptEndSessions, []string{s.userKey(tag(userHandle))}).Text()
	if errors.Is(err, redis.Nil) {
		return 0, errorf(op, webauthnkit.ErrNotFound)
	}
	if err != nil {
		return 0, wrapErr(ctx, op, err)
	}
	epoch, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("redisstore: %s: malformed reply: %w", op, errMalformedNumber)
	}
	return epoch, nil
}
