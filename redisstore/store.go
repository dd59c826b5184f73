package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
)

// MinRedisVersion is the oldest Redis server version the store works with
// (GETDEL appeared in Redis 6.2). New checks every server it can reach.
const MinRedisVersion = "6.2"

// DefaultKeyPrefix is the key prefix used unless WithKeyPrefix says otherwise.
const DefaultKeyPrefix = "webauthnkit:"

// defaultLease bounds how long a multi-key write (CreateUser, AddCredential)
// may take between its first and its commit step, and so how long the claims
// of a writer that crashed can block the same name or credential ID.
const defaultLease = 10 * time.Second

var (
	_ webauthnkit.CredentialStore = (*Store)(nil)
	_ webauthnkit.ChallengeStore  = (*Store)(nil)
)

// Store is a webauthnkit.CredentialStore and webauthnkit.ChallengeStore kept
// in Redis. It is safe for concurrent use by multiple goroutines and by
// multiple processes sharing the same Redis and key prefix. It does not own
// the client: close the client yourself when done.
type Store struct {
	c      redis.UniversalClient
	prefix string
	lease  time.Duration
	now    func() time.Time

	// ackReplicas and ackTimeout: WithReplicaAck (0: no WAIT).
	ackReplicas int
	ackTimeout  time.Duration

	// failpoint, when set (by tests only), is called between the steps of
	// multi-step writes; a non-nil error stops the write there, without any
	// clean-up, as a crash of the process would.
	failpoint func(step string) error
}

// Option configures New. The options of the three backends (memstore,
// sqlstore, redisstore) have the same shape: With* functions over an
// unexported options struct.
type Option func(*options)

type options struct {
	prefix string
	now    func() time.Time

	ackReplicas int
	ackTimeout  time.Duration
	ackSet      bool
}

// WithKeyPrefix sets the prefix of every key the store uses (default
// DefaultKeyPrefix, "webauthnkit:"). Use distinct prefixes to keep several
// applications, or environments, apart in one Redis. The prefix must not
// contain '{' or '}', which Redis Cluster reads as a hash tag: New refuses
// it.
func WithKeyPrefix(prefix string) Option {
	return func(o *options) { o.prefix = prefix }
}

// WithClock sets the clock used for ceremonies (default time.Now): it turns
// expiresAt into a TTL in PutCeremony and decides expiry in TakeCeremony. If
// you give webauthnkit.Config.Now a clock, give the store the same one. A
// nil function keeps the default.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// startupTimeout bounds the checks New makes against the servers (as in
// sqlstore).
const startupTimeout = 10 * time.Second

// New returns a Store using client, which may be a single-server client
// (redis.NewClient), a Sentinel failover client (redis.NewFailoverClient)
// or a Cluster client (redis.NewClusterClient), but not a redis.Ring.
//
// New checks that every server is Redis MinRedisVersion or newer (on a
// Cluster, every master), so the servers must be reachable: when they are
// not, the error wraps webauthnkit.ErrStoreUnavailable. Like sqlstore.New it
// takes no context: these are a few round trips made once at start-up,
// bounded by 10 seconds (and by the client's own dial and read
// timeouts), so the three backends are built the same way.
//
// client stays owned by the caller: Close does not close it.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: New: nil client")
	}
	if _, ok := client.(*redis.Ring); ok {
		// A Ring moves keys when its shards change: users and passkeys
		// would vanish. It is meant for caches.
		return nil, errors.New("redisstore: New: redis.Ring is not supported (it loses keys when shards change); use a single server, Sentinel or Cluster")
	}
	o := options{prefix: DefaultKeyPrefix, now: time.Now}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.now == nil {
		o.now = time.Now
	}
	if strings.ContainsAny(o.prefix, "{}") {
		return nil, fmt.Errorf("redisstore: New: key prefix %q must not contain '{' or '}' (Redis Cluster hash tags)", o.prefix)
	}
	if err := checkAckOptions(o); err != nil {
		return nil, err
	}
	if o.ackReplicas > 0 {
		switch client.(type) {
		case *redis.Client, *redis.ClusterClient:
		default:
			return nil, fmt.Errorf("redisstore: New: WithReplicaAck needs a *redis.Client (single server or Sentinel) or a *redis.ClusterClient, not %T", client)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), startupTimeout)
	defer cancel()
	if err := checkVersion(ctx, client); err != nil {
		return nil, err
	}
	return &Store{c: client, prefix: o.prefix, lease: defaultLease, now: o.now,
		ackReplicas: o.ackReplicas, ackTimeout: o.ackTimeout}, nil
}

// Features declares what the store offers beyond the required interfaces:
// it is shared by every process using the same Redis and prefix (not
// ProcessLocal), and it does not implement webauthnkit.CredentialUserGetter
// (a credential and its owner live in different slots: it would still take
// two round trips). It implements webauthnkit.CredentialAuditor (audit.go)
// and webauthnkit.UserHandleLister (listusers.go: a SCAN per page).
func (s *Store) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: false, CredentialWithUser: false, ListUserHandles: true, Audit: true}
}

// Close releases what the Store owns and returns nil. A redisstore Store
// owns no goroutine, connection or cache, so there is nothing to release;
// Close never closes the client, which the caller made and may share
// (close it yourself, after Close). Calling it is optional, the Store keeps
// working after it, and it may be called more than once: the same contract
// as memstore's and sqlstore's Close, so code that builds any of the three
// can defer Close.
func (s *Store) Close() error { return nil }

// checkVersion runs INFO server on every server behind client.
func checkVersion(ctx context.Context, client redis.UniversalClient) error {
	check := func(ctx context.Context, c redis.Cmdable, addr string) error {
		info, err := c.Info(ctx, "server").Result()
		if err != nil {
			return wrapErr(ctx, "New: INFO server", err)
		}
		return checkInfo(info, addr)
	}
	perNode := func(ctx context.Context, n *redis.Client) error {
		if err := check(ctx, n, n.Options().Addr); err != nil {
			return checked{err: err}
		}
		return nil
	}
	c, ok := client.(*redis.ClusterClient)
	if !ok {
		return check(ctx, client, "")
	}
	err := c.ForEachMaster(ctx, perNode)
	var ce checked
	if errors.As(err, &ce) {
		return ce.err
	}
	if err != nil { // finding the nodes failed
		return wrapErr(ctx, "New: finding the servers", err)
	}
	return nil
}

// checked marks an error already prefixed and classified by checkVersion.
type checked struct{ err error }

func (e checked) Error() string { return e.err.Error() }

// checkInfo checks the redis_version line of an INFO server reply.
func checkInfo(info, addr string) error {
	where := ""
	if addr != "" {
		where = " (" + addr + ")"
	}
	var version string
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(line, "redis_version:"); ok {
			version = strings.TrimSpace(v)
			break
		}
	}
	if version == "" {
		return fmt.Errorf("redisstore: Redis %s or newer required, server%s did not report redis_version in INFO server", MinRedisVersion, where)
	}
	if !versionAtLeast(version, 6, 2) {
		return fmt.Errorf("redisstore: Redis %s or newer required, server is %s%s", MinRedisVersion, version, where)
	}
	return nil
}

// versionAtLeast reports whether a "major.minor.patch" version is at least
// major.minor. An unparsable version is not.
func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// Keys. Every identifier inside braces is base64url (no padding), so it never
// contains a brace and is the key's Cluster hash tag: the user, its
// credential index, recovery codes and leases share the slot of the user
// handle; a credential, a name and an email each have their own slot (the
// claim keys are in claims.go).

var b64 = base64.RawURLEncoding

func tag(b []byte) string { return b64.EncodeToString(b) }

func (s *Store) userKey(htag string) string      { return s.prefix + "user:{" + htag + "}" }
func (s *Store) userCredsKey(htag string) string { return s.prefix + "usercreds:{" + htag + "}" }
func (s *Store) leaseKey(htag, tx string) string { return s.prefix + "lease:{" + htag + "}:" + tx }
func (s *Store) recoveryKey(htag string) string  { return s.prefix + "recovery:{" + htag + "}" }
func (s *Store) recoveryUseKey(htag string) string {
	return s.prefix + "recoveryused:{" + htag + "}"
}
func (s *Store) credKey(id []byte) string     { return s.prefix + "cred:{" + tag(id) + "}" }
func (s *Store) ceremonyKey(id string) string { return s.prefix + "ceremony:" + id }

// txLen is the length of a transaction ID: 16 random bytes in base64url.
const txLen = 22

func newTx() string {
	var b [16]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		panic("redisstore: crypto/rand failed: " + err.Error())
	}
	return b64.EncodeToString(b[:])
}

// Errors.

// wrapErr prefixes err with "redisstore: op" and, when it means that Redis
// could not be reached or cannot serve the request now, wraps
// webauthnkit.ErrStoreUnavailable too. The cause stays in the chain.
func wrapErr(ctx context.Context, op string, err error) error {
	if isUnavailable(ctx, err) {
		return fmt.Errorf("redisstore: %s: %w: %w", op, webauthnkit.ErrStoreUnavailable, err)
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// isUnavailable reports whether err means the store is unreachable or
// temporarily unable to serve: connection refused, reset or closed, timeouts
// (including the caller's context deadline, which expires when Redis is too
// slow to answer), an exhausted pool, and the Redis replies of a server that
// is loading, failing over or whose cluster is down. A caller's cancellation
// (context.Canceled) is not: the caller gave up, the store did not fail.
func isUnavailable(ctx context.Context, err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, context.Canceled) || (ctx != nil && errors.Is(ctx.Err(), context.Canceled)) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, errNotReplicated) ||
		errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrPoolExhausted) ||
		errors.Is(err, redis.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.ETIMEDOUT) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	if redis.IsClusterDownError(err) || redis.IsLoadingError(err) || redis.IsReadOnlyError(err) ||
		redis.IsMasterDownError(err) || redis.IsTryAgainError(err) || redis.IsMaxClientsError(err) ||
		redis.IsNoReplicasError(err) || redis.IsOOMError(err) ||
		redis.HasErrorPrefix(err, "BUSY") {
		return true
	}
	// go-redis reports a cluster whose nodes all failed this way.
	return strings.Contains(err.Error(), "redis: cluster has no nodes")
}

// errorf returns a "redisstore: op: ..." error wrapping a sentinel.
func errorf(op string, sentinel error) error {
	return fmt.Errorf("redisstore: %s: %w", op, sentinel)
}

// cleanupCtx returns a context for the best-effort steps that follow a
// decision (releasing claims, finishing a commit): they run even if the
// caller has just canceled, but within the caller's deadline (plus a few
// milliseconds, for one round trip) and never longer than a second. When
// they do not run, readers and writers repair what they would have done.
func cleanupCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	now := time.Now()
	d := now.Add(time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(d) {
		d = dl
	}
	if floor := now.Add(50 * time.Millisecond); d.Before(floor) {
		d = floor
	}
	return context.WithDeadline(context.WithoutCancel(ctx), d)
}

// step calls the test failpoint, if any.
func (s *Store) step(name string) error {
	if s.failpoint != nil {
		if err := s.failpoint(name); err != nil {
			return errFailpoint{err: err}
		}
	}
	return nil
}
