package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// WithReplicaAck makes every write that the library acknowledges (a
// registration, a login's counter update, a rename, a deletion, a used
// ceremony or recovery code, a sign-out everywhere) wait until at least
// replicas replicas of the primary that took it have it, with Redis WAIT on
// the same connection, for at most timeout. A write the replicas do not
// confirm in time fails with an error wrapping
// webauthnkit.ErrStoreUnavailable (the HTTP adapter answers 503): it was
// applied on the primary and may or may not survive a failover, as with
// any write whose reply is lost, and the library's callers already treat it
// so (the user retries; nothing is acknowledged that a failover can undo).
//
// Default: 0 replicas, no WAIT. Redis replication is asynchronous, so
// without this option a failover (Sentinel promoting a replica, or a
// Cluster replica taking over a master) can lose the last writes the old
// primary acknowledged: a passkey registered just before, or a used
// recovery code or ceremony that then works again. With one replica and a
// timeout of a few hundred milliseconds a registration costs one more round
// trip to the replica. See docs/redisstore.md, "Failover".
//
// WAIT confirms that replicas received the write, not that they wrote it to
// disk; with Sentinel, also set min-replicas-to-write on the primary if a
// partitioned primary must stop accepting writes. New refuses replicas < 0,
// and a positive replicas with a timeout that is not positive.
func WithReplicaAck(replicas int, timeout time.Duration) Option {
	return func(o *options) {
		o.ackReplicas = replicas
		o.ackTimeout = timeout
		o.ackSet = true
	}
}

// errNotReplicated marks a write that fewer replicas than WithReplicaAck
// asked for confirmed in time. isUnavailable counts it as an outage.
var errNotReplicated = errors.New("write not confirmed by enough replicas in time (WAIT)")

func checkAckOptions(o options) error {
	if !o.ackSet {
		return nil
	}
	if o.ackReplicas < 0 {
		return fmt.Errorf("redisstore: New: WithReplicaAck: replicas %d is negative", o.ackReplicas)
	}
	if o.ackReplicas > 0 && o.ackTimeout <= 0 {
		return fmt.Errorf("redisstore: New: WithReplicaAck: timeout %v must be positive", o.ackTimeout)
	}
	return nil
}

// runAcked runs script like script.Run, and with WithReplicaAck waits for
// the replicas afterwards on the same connection (WAIT counts the writes
// of its own connection). keys[0] picks the node on a Cluster: every key of
// one script is in one slot.
func (s *Store) runAcked(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	if s.ackReplicas == 0 {
		return script.Run(ctx, s.c, keys, args...)
	}
	var cmd *redis.Cmd
	err := s.acked(ctx, keys[0], func(c redis.Cmdable) error {
		cmd = script.Run(ctx, c.(redis.Scripter), keys, args...)
		return cmd.Err()
	})
	if cmd == nil {
		cmd = redis.NewCmd(ctx)
	}
	if err != nil && cmd.Err() == nil {
		cmd.SetErr(err)
	}
	return cmd
}

// acked runs write on one connection to the primary that serves key, then,
// if write succeeded (a reply that is an error changed nothing), WAIT on
// that connection. Without WithReplicaAck it runs write on the client.
func (s *Store) acked(ctx context.Context, key string, write func(redis.Cmdable) error) error {
	if s.ackReplicas == 0 {
		return write(s.c)
	}
	var node *redis.Client
	switch c := s.c.(type) {
	case *redis.ClusterClient:
		n, err := c.MasterForKey(ctx, key)
		if err != nil {
			return err
		}
		node = n
	case *redis.Client:
		node = c
	default:
		// New accepts only these two (and refuses a Ring); a wrapper type
		// would lose the connection affinity WAIT needs.
		return fmt.Errorf("replica acknowledgement needs a *redis.Client or *redis.ClusterClient, not %T", s.c)
	}
	conn := node.Conn()
	defer conn.Close()
	if err := write(conn); err != nil {
		return err
	}
	n, err := conn.Wait(ctx, s.ackReplicas, s.ackTimeout).Result()
	if err != nil {
		return err
	}
	if n < int64(s.ackReplicas) {
		return fmt.Errorf("%w: %d of %d replicas within %v", errNotReplicated, n, s.ackReplicas, s.ackTimeout)
	}
	return nil
}
