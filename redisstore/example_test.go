package redisstore_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/redisstore"
)

// Example runs against the Redis at 127.0.0.1:6379 (go test skips it when
// that server is absent, except under CI=true). It uses random handles,
// names and IDs, so that runs never collide, prints only what does not
// depend on them, and deletes what it stored (the lease of the refused
// second CreateUser expires by itself within 10 seconds).
func Example() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "127.0.0.1:6379",
		DialerRetries:         1,    // fail fast while Redis is down
		ContextTimeoutEnabled: true, // honour request deadlines
	})
	defer rdb.Close() // the store never closes the client
	store, err := redisstore.New(rdb, redisstore.WithKeyPrefix("webauthnkit-example:"))
	if err != nil {
		// Redis unreachable (errors.Is(err, webauthnkit.ErrStoreUnavailable))
		// or older than 6.2.
		fmt.Println(err)
		return
	}
	defer store.Close()
	ctx := context.Background()

	// The library does this when a user registers a first passkey...
	alice := webauthnkit.User{
		Handle:      []byte(rand.Text()),
		Name:        "alice-" + rand.Text(),
		DisplayName: "Alice",
		CreatedAt:   time.Now(),
	}
	laptop := webauthnkit.Credential{
		ID:         []byte(rand.Text()),
		UserHandle: alice.Handle,
		PublicKey:  []byte{0xa5, 0x01, 0x02},
		Name:       "Work laptop",
		CreatedAt:  alice.CreatedAt,
	}
	fmt.Println("create:", store.CreateUser(ctx, alice, &laptop))
	err = store.CreateUser(ctx, alice, &laptop)
	fmt.Println("create again:", errors.Is(err, webauthnkit.ErrUserExists))

	// ...this on each login (a compare-and-set on the signature counter)...
	err = store.UpdateCredentialUse(ctx, laptop.ID, 0, webauthnkit.CredentialUse{SignCount: 1, LastUsedAt: time.Now()})
	fmt.Println("update:", err)
	err = store.UpdateCredentialUse(ctx, laptop.ID, 0, webauthnkit.CredentialUse{SignCount: 1, LastUsedAt: time.Now()})
	fmt.Println("stale update:", errors.Is(err, webauthnkit.ErrConflict))
	got, err := store.GetCredential(ctx, laptop.ID)
	fmt.Println(got.Name, got.SignCount, err)

	// ...and this to hold a ceremony between its begin and finish requests:
	// it can be taken once.
	ceremonyID := rand.Text()
	_ = store.PutCeremony(ctx, ceremonyID, []byte("state"), time.Now().Add(5*time.Minute))
	data, err := store.TakeCeremony(ctx, ceremonyID)
	fmt.Println(string(data), err)
	_, err = store.TakeCeremony(ctx, ceremonyID)
	fmt.Println("taken twice:", errors.Is(err, webauthnkit.ErrNotFound))

	// The last passkey is kept unless the caller allows removing it.
	err = store.DeleteCredential(ctx, alice.Handle, laptop.ID, false)
	fmt.Println("delete last passkey:", errors.Is(err, webauthnkit.ErrLastCredential))
	fmt.Println("delete user:", store.DeleteUser(ctx, alice.Handle))
	_, err = store.GetCredential(ctx, laptop.ID)
	fmt.Println("passkey gone:", errors.Is(err, webauthnkit.ErrNotFound))

	// Output:
	// create: <nil>
	// create again: true
	// update: <nil>
	// stale update: true
	// Work laptop 1 <nil>
	// state <nil>
	// taken twice: true
	// delete last passkey: true
	// delete user: <nil>
	// passkey gone: true
}

// One Store serves as both stores of a RelyingParty. Errors wrap the
// webauthnkit sentinels; a Redis that is down is ErrStoreUnavailable, which
// the HTTP adapter answers with 503.
func Example_relyingParty() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379", DialerRetries: 1, ContextTimeoutEnabled: true})
	defer rdb.Close()
	store, err := redisstore.New(rdb, redisstore.WithKeyPrefix("myapp:passkeys:"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	rp, err := webauthnkit.New(webauthnkit.Config{
		RPID:        "example.com",
		Origins:     []string{"https://example.com"},
		Credentials: store,
		Ceremonies:  store,
		Secret:      secret, // 32+ random bytes, the same in every process
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = rp

	_, err = store.GetUserByName(context.Background(), "alice")
	switch {
	case errors.Is(err, webauthnkit.ErrNotFound):
		log.Print("no such user")
	case errors.Is(err, webauthnkit.ErrStoreUnavailable):
		log.Print("Redis is down: answer ", http.StatusServiceUnavailable)
	}
}

// secret stands for the application's stable secret.
var secret = make([]byte, 32)

// The Cluster and Sentinel examples need those servers, so they are
// compiled but not run (they have no Output comment).

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
