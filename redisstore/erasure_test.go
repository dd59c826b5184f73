package redisstore

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit/storetest"
)

// TestDeleteUserLeavesNoKey: after DeleteUser no key of the store names the
// user (handle, name or email, as they appear in key names) or a credential
// of theirs, and no value holds them: the name and email claims are
// released, the user record, index, recovery codes and credential records
// deleted (issue 17, erasure).
func TestDeleteUserLeavesNoKey(t *testing.T) {
	c := testClient(t)
	prefix := runPrefix + "erase-" + randomHex(4) + ":"
	s := testStore(t, c, WithKeyPrefix(prefix))
	ctx := t.Context()
	u := storetest.RandomUser()
	u.Email = storetest.RandomEmail()
	c1 := storetest.RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(ctx, u, &c1))
	c2 := storetest.RandomCredential(u.Handle)
	require.NoError(t, s.AddCredential(ctx, c2))
	require.NoError(t, s.SetRecoveryCodes(ctx, u.Handle, [][]byte{storetest.RandomBytes(32)}))
	require.NoError(t, s.UpdateUser(ctx, u.Handle, u.Name+"-renamed", "x"))
	require.NoError(t, s.SetEmail(ctx, u.Handle, "changed-"+u.Email, u.CreatedAt))
	before := keysUnder(ctx, t, c, prefix)
	require.NotEmpty(t, before)

	require.NoError(t, s.DeleteUser(ctx, u.Handle))
	traces := []string{tag(u.Handle), tag([]byte(u.Name)), tag([]byte(u.Email)), tag(c1.ID), tag(c2.ID),
		tag([]byte(u.Name + "-renamed")), tag([]byte("changed-" + u.Email))}
	for _, k := range keysUnder(ctx, t, c, prefix) {
		for _, tr := range traces {
			require.NotContains(t, k, tr, "key %q names the deleted user", k)
		}
		v, err := c.Dump(ctx, k).Result()
		require.NoError(t, err)
		require.NotContains(t, v, string(u.Handle), "key %q holds the deleted user's handle", k)
	}
}

func keysUnder(ctx context.Context, t *testing.T, c *redis.Client, prefix string) []string {
	t.Helper()
	keys, err := c.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	for i, k := range keys {
		keys[i] = strings.TrimPrefix(k, prefix)
	}
	return keys
}
