package redisstore

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit/internal/testenv"
)

// exampleRedisAddr is the server the runnable Examples use. It is written
// out in them (an Example shows a reader real code, not a test variable),
// so it is not WEBAUTHNKIT_REDIS_ADDR.
const exampleRedisAddr = "127.0.0.1:6379"

// skipExamplesWithoutRedis is called by TestMain. An Example cannot skip
// itself, and its output must be the same on every run, so without a Redis
// at exampleRedisAddr the Examples are left out of the run with -test.skip,
// and a note says so. Under CI=true they run anyway and fail, as a missing
// server fails every other test there.
func skipExamplesWithoutRedis() {
	if testenv.InCI() {
		return
	}
	flag.Parse()
	c := redis.NewClient(&redis.Options{Addr: exampleRedisAddr, MaxRetries: -1, DialerRetries: 1})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := c.Ping(ctx).Err()
	if err == nil {
		return
	}
	skip := "^Example"
	if f := flag.Lookup("test.skip"); f != nil {
		if cur := f.Value.String(); cur != "" {
			skip = cur + "|" + skip
		}
		_ = f.Value.Set(skip)
	}
	fmt.Fprintf(os.Stderr, "redisstore: no Redis at %s (%v): the runnable Examples are skipped\n", exampleRedisAddr, err)
}
