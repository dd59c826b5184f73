package redisstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
)

// A ceremony is stored as one string key, prefix+"ceremony:"+id, whose value
// is the expiry time (8 bytes, big-endian Unix microseconds) followed by the
// data, with a native TTL (PX) rounded up to the next millisecond. Redis
// removes expired keys itself; TakeCeremony additionally compares the stored
// expiry with the store's clock, so a ceremony is never returned after
// expiresAt even though the server-side TTL can outlive it by the network
// latency and the rounding.

const ceremonyHeaderLen = 8

// PutCeremony stores data under id until expiresAt with SET ... PX ... NX
// (in a script that also recognises its own earlier write when go-redis
// retries it after a lost reply). It
// returns an error wrapping webauthnkit.ErrDuplicate if id is already stored
// and live. A ceremony whose expiresAt has already passed is not stored
// (TakeCeremony returns ErrNotFound for it).
func (s *Store) PutCeremony(ctx context.Context, id string, data []byte, expiresAt time.Time) error {
	const op = "PutCeremony"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	key := s.ceremonyKey(id)
	ttl := expiresAt.Sub(s.now())
	if ttl <= 0 {
		// Already expired: nothing to store, but a live ceremony with the
		// same ID is still a duplicate.
		n, err := s.c.Exists(ctx, key).Result()
		if err != nil {
			return wrapErr(ctx, op, err)
		}
		if n > 0 {
			return errorf(op, webauthnkit.ErrDuplicate)
		}
		return nil
	}
	ttl = (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
	val := make([]byte, ceremonyHeaderLen+len(data))
	binary.BigEndian.PutUint64(val, uint64(expiresAt.UnixMicro()))
	copy(val[ceremonyHeaderLen:], data)
	ok, err := s.runAcked(ctx, scriptPutCeremony, []string{key}, val, ttl.Milliseconds()).Int()
	if err != nil {
		return wrapErr(ctx, op, err)
	}
	if ok != 1 {
		return errorf(op, webauthnkit.ErrDuplicate)
	}
	return nil
}

// TakeCeremony returns the data stored under id and deletes it, in one
// atomic GETDEL: of concurrent takes of one id exactly one gets the data. It
// returns an error wrapping webauthnkit.ErrNotFound if id is unknown, already
// taken or expired.
func (s *Store) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	const op = "TakeCeremony"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	key := s.ceremonyKey(id)
	var val []byte
	err := s.acked(ctx, key, func(c redis.Cmdable) error {
		var err error
		val, err = c.GetDel(ctx, key).Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, errorf(op, webauthnkit.ErrNotFound)
	}
	if err != nil {
		return nil, wrapErr(ctx, op, err)
	}
	if len(val) < ceremonyHeaderLen {
		return nil, errors.New("redisstore: TakeCeremony: malformed ceremony value (not written by redisstore?)")
	}
	expiresAt := time.UnixMicro(int64(binary.BigEndian.Uint64(val)))
	if !s.now().Before(expiresAt) {
		return nil, errorf(op, webauthnkit.ErrNotFound)
	}
	return val[ceremonyHeaderLen:], nil
}
