package storewrap_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/internal/storewrap"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

func newMem(t *testing.T) *memstore.Store {
	t.Helper()
	m, err := memstore.New()
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// The wrapper forwards every method faithfully: it passes the conformance
// suite, the GetCredentialWithUser clauses included, over memstore.
func TestConformance(t *testing.T) {
	for _, hide := range []bool{false, true} {
		var opts []storewrap.Option
		if hide {
			opts = append(opts, storewrap.WithoutCredentialWithUser())
		}
		t.Run(map[bool]string{false: "forwarding", true: "hiding"}[hide]+"_CredentialWithUser", func(t *testing.T) {
			storetest.TestCredentialStore(t, func(t *testing.T) webauthnkit.CredentialStore {
				m := newMem(t)
				return storewrap.New(m, m, opts...)
			})
			storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore {
				m := newMem(t)
				return storewrap.New(m, m, opts...)
			})
		})
	}
}

// storeWithoutJoin is a credential store that declares nothing optional
// and has no GetCredentialWithUser (as redisstore).
type storeWithoutJoin struct{ webauthnkit.CredentialStore }

func (storeWithoutJoin) Features() webauthnkit.Features { return webauthnkit.Features{} }

// Features is declared from what is forwarded, never copied blindly.
func TestFeatures(t *testing.T) {
	m := newMem(t)
	assert.Equal(t, webauthnkit.Features{ProcessLocal: true, CredentialWithUser: true, Audit: true}, storewrap.New(m, m).Features())
	assert.Equal(t, webauthnkit.Features{ProcessLocal: true, Audit: true}, storewrap.New(m, m, storewrap.WithoutCredentialWithUser()).Features())
	assert.Equal(t, webauthnkit.Features{ProcessLocal: true, CredentialWithUser: true}, storewrap.New(m, m, storewrap.WithoutAudit()).Features())
	// The method exists on the wrapper either way; undeclared, it does not
	// reach the store, and the call is still counted.
	s := storewrap.New(storeWithoutJoin{m}, m)
	assert.Equal(t, webauthnkit.Features{}, s.Features(), "not process-local: one of the two stores is not")
	_, _, err := s.GetCredentialWithUser(context.Background(), []byte{1})
	require.ErrorIs(t, err, storewrap.ErrNotForwarded)
	assert.EqualValues(t, 1, s.Count(storewrap.GetCredentialWithUser))
	_, _, err = s.ScanCredentials(context.Background(), "", 10)
	require.ErrorIs(t, err, storewrap.ErrNotForwarded)
	require.ErrorIs(t, s.SetCredentialAudit(context.Background(), []byte{1}, webauthnkit.CredentialAudit{}), storewrap.ErrNotForwarded)
	assert.EqualValues(t, 1, s.Count(storewrap.ScanCredentials))
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	m := newMem(t)
	s := storewrap.New(m, m)
	u := storetest.RandomUser()
	c := storetest.RandomCredential(u.Handle)
	require.NoError(t, s.CreateUser(ctx, u, &c))

	s.Fail(storewrap.ErrDown)
	_, err := s.GetCredential(ctx, c.ID)
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable)
	_, _, err = s.GetCredentialWithUser(ctx, c.ID)
	require.ErrorIs(t, err, webauthnkit.ErrStoreUnavailable, "the optional method is faulted too")
	require.ErrorIs(t, s.PutCeremony(ctx, "x", []byte{1}, time.Now().Add(time.Minute)), webauthnkit.ErrStoreUnavailable)

	s.Fail(nil)
	errOne := errors.New("one method")
	s.Fail(errOne, storewrap.UpdateCredentialUse)
	_, err = s.GetCredential(ctx, c.ID)
	require.NoError(t, err)
	require.ErrorIs(t, s.UpdateCredentialUse(ctx, c.ID, c.SignCount, webauthnkit.CredentialUse{SignCount: c.SignCount + 1}), errOne)
	got, err := m.GetCredential(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, c.SignCount, got.SignCount, "a faulted call does not reach the store")

	s.Fail(nil, storewrap.UpdateCredentialUse)
	require.NoError(t, s.UpdateCredentialUse(ctx, c.ID, c.SignCount, webauthnkit.CredentialUse{SignCount: c.SignCount + 1}))
}

func TestCountsAndCallLog(t *testing.T) {
	ctx := context.Background()
	m := newMem(t)
	s := storewrap.New(m, m, storewrap.WithCallLog())
	_, _ = s.GetUserByName(ctx, "nobody")
	_, _ = s.ListCredentials(ctx, []byte{1})
	_, _ = s.GetUserByName(ctx, "nobody")
	assert.Equal(t, []string{"GetUserByName", "ListCredentials", "GetUserByName"}, s.TakeCalls())
	assert.Empty(t, s.TakeCalls(), "TakeCalls forgets what it returned")
	assert.Equal(t, map[string]int64{"GetUserByName": 2, "ListCredentials": 1}, s.Counts(), "counts are not reset by TakeCalls")

	quiet := storewrap.New(m, m)
	_, _ = quiet.GetUserByName(ctx, "nobody")
	assert.Empty(t, quiet.TakeCalls(), "no call log unless asked for")
	assert.EqualValues(t, 1, quiet.Count(storewrap.GetUserByName))
}

func TestDelay(t *testing.T) {
	m := newMem(t)
	s := storewrap.New(m, m)
	s.SetDelay(50 * time.Millisecond)
	start := time.Now()
	_, err := s.TakeCeremony(context.Background(), "x")
	require.ErrorIs(t, err, webauthnkit.ErrNotFound)
	assert.GreaterOrEqual(t, time.Since(start), 50*time.Millisecond)

	s.SetDelay(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = s.TakeCeremony(ctx, "x")
	require.ErrorIs(t, err, context.DeadlineExceeded, "a delayed call ends with its context")
}

func TestMethodNames(t *testing.T) {
	assert.Equal(t, "CreateUser", storewrap.CreateUser.String())
	assert.Equal(t, "TakeCeremony", storewrap.TakeCeremony.String())
	assert.Equal(t, "Method(?)", storewrap.Method(99).String())
}
