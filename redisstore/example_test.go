package redisstore_test

import (
	"context"
	"errors"
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/redisstore"
)

// The examples need a running Redis, so they are compiled but not run by
// go test (they have no Output comment).

func Example() {
	ctx := context.Background()
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "127.0.0.1:6379",
		DialerRetries:         1,    // fail fast while Redis is down
		ContextTimeoutEnabled: true, // honour request deadlines
	})
	defer rdb.Close()

	store, err := redisstore.New(rdb, redisstore.WithKeyPrefix("myapp:passkeys:"))
	if err != nil {
		// Redis unreachable (errors.Is(err, webauthnkit.ErrStoreUnavailable)) or
		// older than 6.2.
		log.Fatal(err)
	}
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID:        "example.com",
		Origins:     []string{"https://example.com"},
		Credentials: store,
		Ceremonies:  store,
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = rp

	// Store errors wrap the webauthnkit sentinels.
	_, err = store.GetUserByName(ctx, "alice")
	switch {
	case errors.Is(err, webauthnkit.ErrNotFound):
		log.Print("no such user")
	case errors.Is(err, webauthnkit.ErrStoreUnavailable):
		log.Print("Redis is down: answer ", http.StatusServiceUnavailable)
	}
}

func Example_cluster() {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()
	// New checks the version of every master.
	store, err := redisstore.New(rdb)
	if err != nil {
		log.Fatal(err)
	}
	_ = store
}

func Example_sentinel() {
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            "mymaster",
		SentinelAddrs:         []string{"10.0.0.1:26379", "10.0.0.2:26379", "10.0.0.3:26379"},
		DialerRetries:         1,
		ContextTimeoutEnabled: true,
	})
	defer rdb.Close()
	store, err := redisstore.New(rdb)
	if err != nil {
		log.Fatal(err)
	}
	_ = store
}
