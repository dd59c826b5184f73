package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
)

// ListUserHandles returns up to limit user handles greater than after, in
// byte order (webauthnkit.UserHandleLister).
//
// Redis keeps no ordered index of users (one would be a key outside every
// user's slot, which Redis Cluster cannot update atomically with the
// user), so each call SCANs the user keys of every master (SCAN MATCH
// <prefix>user:{*, COUNT 1000), keeps the handles above after, sorts them
// and confirms the first ones exist (a pipelined HGET of the record's
// transaction field). A call costs O(n) for n users: a walk over all users
// in pages of 1000 costs n²/1000 key visits. Meant for maintenance (key
// rotation), not for request paths.
func (s *Store) ListUserHandles(ctx context.Context, after []byte, limit int) ([][]byte, error) {
	const op = "ListUserHandles"
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if limit < 1 || limit > webauthnkit.MaxUserHandlePage {
		return nil, fmt.Errorf("redisstore: %s: %w", op, errLimit)
	}
	pattern := globEscape(s.prefix+"user:{") + "*}"
	start := len(s.prefix + "user:{")
	var (
		mu    sync.Mutex
		found [][]byte
	)
	scan := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.ScanType(ctx, cursor, pattern, 1000, "hash").Result()
			if err != nil {
				return err
			}
			mu.Lock()
			for _, k := range keys {
				if len(k) < start+1 || k[len(k)-1] != '}' {
					continue
				}
				h, err := b64.DecodeString(k[start : len(k)-1])
				if err != nil || len(h) == 0 || bytes.Compare(h, after) <= 0 {
					continue
				}
				found = append(found, h)
			}
			mu.Unlock()
			if next == 0 {
				return nil
			}
			cursor = next
		}
	}
	var err error
	if cc, ok := s.c.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return scan(ctx, n) })
	} else {
		err = scan(ctx, s.c)
	}
	if err != nil {
		return nil, wrapErr(ctx, op, err)
	}
	slices.SortFunc(found, bytes.Compare)
	found = slices.CompactFunc(found, bytes.Equal)
	out := make([][]byte, 0, min(limit, len(found)))
	for len(found) > 0 && len(out) < limit {
		batch := found[:min(limit-len(out), len(found))]
		found = found[len(batch):]
		pipe := s.c.Pipeline()
		cmds := make([]*redis.StringCmd, len(batch))
		for i, h := range batch {
			cmds[i] = pipe.HGet(ctx, s.userKey(tag(h)), fTx)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, wrapErr(ctx, op, err)
		}
		for i, cmd := range cmds {
			if v, err := cmd.Result(); err == nil && v != "" {
				out = append(out, batch[i])
			}
		}
	}
	return out, nil
}

var errLimit = errors.New("limit must be 1 to webauthnkit.MaxUserHandlePage")

// globEscape escapes the characters SCAN MATCH reads as a pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
