package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// RateLimiter keeps rate-limit buckets in Redis, so that several
// application instances behind a load balancer give each client one
// budget instead of one per instance. It implements
// httpadapter.SharedLimiter (set it as httpadapter.RateLimit.Shared); the
// adapter falls back to its in-process buckets when Redis fails.
//
// The buckets are GCRA (generic cell rate algorithm) buckets of
// github.com/go-redis/redis_rate, one key each, which expires once the
// bucket is full again. Keys are "rate:" + the store's key prefix + "rl:" +
// a hash of the client key, so client addresses are not stored in clear.
// Works on a single server, Sentinel and Cluster.
type RateLimiter struct {
	l      *redis_rate.Limiter
	prefix string
}

// NewRateLimiter returns a RateLimiter on client. Of the Options only
// WithKeyPrefix applies (default DefaultKeyPrefix). client stays owned by
// the caller.
func NewRateLimiter(client redis.UniversalClient, opts ...Option) (*RateLimiter, error) {
	if client == nil {
		return nil, errors.New("redisstore: NewRateLimiter: nil client")
	}
	if _, ok := client.(*redis.Ring); ok {
		return nil, errors.New("redisstore: NewRateLimiter: redis.Ring is not supported")
	}
	o := options{prefix: DefaultKeyPrefix}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if strings.ContainsAny(o.prefix, "{}") {
		return nil, fmt.Errorf("redisstore: NewRateLimiter: key prefix %q must not contain '{' or '}' (Redis Cluster hash tags)", o.prefix)
	}
	return &RateLimiter{l: redis_rate.NewLimiter(client), prefix: o.prefix + "rl:"}, nil
}

// rateScale turns a fractional rate into redis_rate's integer one: Rate
// requests per Period, with Period rateScale seconds.
const rateScale = 1000

// AllowN takes n tokens from the bucket of key (refilled at perSecond, at
// most burst tokens) if it holds them. Otherwise it takes none and returns
// how long until it would. Errors wrap webauthnkit.ErrStoreUnavailable when
// Redis cannot be reached.
func (r *RateLimiter) AllowN(ctx context.Context, key string, perSecond float64, burst, n int) (time.Duration, bool, error) {
	const op = "RateLimiter.AllowN"
	if perSecond <= 0 || math.IsNaN(perSecond) || math.IsInf(perSecond, 0) || burst <= 0 || n <= 0 {
		return 0, false, fmt.Errorf("redisstore: %s: rate %v, burst %d and n %d must be positive", op, perSecond, burst, n)
	}
	rate := int(math.Max(1, math.Round(perSecond*rateScale)))
	sum := sha256.Sum256([]byte(key))
	limit := redis_rate.Limit{Rate: rate, Burst: burst, Period: rateScale * time.Second}
	res, err := r.l.AllowN(ctx, r.prefix+base64.RawURLEncoding.EncodeToString(sum[:18]), limit, n)
	if err != nil {
		return 0, false, wrapErr(ctx, op, err)
	}
	if res.Allowed < n {
		return max(res.RetryAfter, 0), false, nil
	}
	return 0, true, nil
}
