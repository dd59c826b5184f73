package storetest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
	"github.com/webauthnkit/webauthnkit/memstore"
	"github.com/webauthnkit/webauthnkit/storetest"
)

// ---- the suite detects broken stores ----

// A mutation is a store with one deliberate bug, and the subtests that must
// catch it.
type mutation struct {
	creds func(*memstore.Store) webauthnkit.CredentialStore
	cers  func(*memstore.Store) webauthnkit.ChallengeStore
	// mustFail are subtest paths below TestBrokenStore that must fail.
	mustFail []string
}

var mutations = map[string]mutation{
	"cas_ignores_expected": {
		creds: func(s *memstore.Store) webauthnkit.CredentialStore { return casIgnoresExpected{s} },
		mustFail: []string{
			"UpdateCredentialUse/conflict_on_wrong_expected_count",
			"UpdateCredentialUse/concurrent_no_lost_update",
		},
	},
	"create_user_not_atomic": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return createNotAtomic{s} },
		mustFail: []string{"CreateUser/credential_id_owned_by_another_user"},
	},
	"rename_ignores_owner": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return ignoresOwner{s} },
		mustFail: []string{"RenameCredential/other_users_credential", "DeleteCredential/other_users_credential"},
	},
	"list_reversed": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return listReversed{s} },
		mustFail: []string{"ListCredentials/order"},
	},
	"list_unknown_user_not_found": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return listNotFound{s} },
		mustFail: []string{"ListCredentials/empty_for_unknown_user"},
	},
	"credential_with_user_stale_owner": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return staleOwner{s} },
		mustFail: []string{"GetCredentialWithUser/matches_GetCredential_and_GetUserByHandle"},
	},
	"credential_with_user_found_after_delete": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return &cachesWithUser{Store: s} },
		mustFail: []string{"GetCredentialWithUser/not_found"},
	},
	"times_not_utc": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return localTimes{s} },
		mustFail: []string{"GetCredential/roundtrip_all_fields"},
	},
	"times_truncated_to_ms": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return truncatesTimes{s} },
		mustFail: []string{"GetCredential/roundtrip_all_fields", "ListCredentials/order"},
	},
	"names_case_insensitive": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return &foldsNames{Store: s} },
		mustFail: []string{"CreateUser/names_compared_byte_for_byte"},
	},
	"update_drops_last_used": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return dropsLastUsed{s} },
		mustFail: []string{"UpdateCredentialUse/applies"},
	},
	"ignores_canceled_context": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return ignoresContext{s} },
		cers:     func(s *memstore.Store) webauthnkit.ChallengeStore { return ignoresContext{s} },
		mustFail: []string{"ContextCanceled"},
	},
	"take_not_atomic": {
		cers:     func(*memstore.Store) webauthnkit.ChallengeStore { return &racyTake{m: map[string][]byte{}} },
		mustFail: []string{"concurrent_take_exactly_one_winner"},
	},
	"put_overwrites": {
		cers:     func(s *memstore.Store) webauthnkit.ChallengeStore { return putOverwrites{s} },
		mustFail: []string{"put_duplicate_id"},
	},
	"put_not_atomic": {
		cers:     func(*memstore.Store) webauthnkit.ChallengeStore { return &racyPut{m: map[string]racyCeremony{}} },
		mustFail: []string{"concurrent_put_same_id_one_winner"},
	},
	"put_race_fails_with_store_error": {
		cers:     func(s *memstore.Store) webauthnkit.ChallengeStore { return &putRaceFails{Store: s} },
		mustFail: []string{"concurrent_put_same_id_one_winner"},
	},
	"no_expiry": {
		cers:     func(s *memstore.Store) webauthnkit.ChallengeStore { return noExpiry{s} },
		mustFail: []string{"expired_not_returned"},
	},
	"last_credential_check_not_atomic": {
		creds: func(s *memstore.Store) webauthnkit.CredentialStore { return racyLastCheck{s} },
		mustFail: []string{
			"DeleteCredential/concurrent_last_two_one_winner",
			"DeleteCredential/concurrent_n_deletes_n_minus_1",
		},
	},
	"last_credential_allowed": {
		creds: func(s *memstore.Store) webauthnkit.CredentialStore { return ignoresAllowLast{s} },
		mustFail: []string{
			"DeleteCredential/refuses_last_credential",
			"DeleteCredential/deletes_when_another_remains",
		},
	},
	"last_credential_counts_every_user": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return &countsEveryUser{Store: s} },
		mustFail: []string{"DeleteCredential/refuses_last_credential"},
	},
	"end_sessions_lost_increment": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return &racyEpoch{Store: s} },
		mustFail: []string{"EndSessions/concurrent_no_lost_increment"},
	},
	"end_sessions_epoch_not_stored_on_create": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return dropsCreatedEpoch{s} },
		mustFail: []string{"EndSessions/starts_at_created_value", "EndSessions/increments_by_one"},
	},
	"end_sessions_epoch_stale_in_credential_with_user": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return staleEpochWithUser{s} },
		mustFail: []string{"EndSessions/increments_by_one"},
	},
	"error_text_echoes_name": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return echoesName{s} },
		mustFail: []string{"ErrorTexts/duplicate_CreateUser"},
	},
	"error_text_echoes_credential_id": {
		creds: func(s *memstore.Store) webauthnkit.CredentialStore { return echoesCredentialID{s} },
		mustFail: []string{
			"ErrorTexts/duplicate_AddCredential/printable_id",
			"ErrorTexts/duplicate_AddCredential/binary_id",
		},
	},
	"declares_credential_with_user_without_it": {
		creds: func(s *memstore.Store) webauthnkit.CredentialStore { return declaresWithoutGetter{s} },
		mustFail: []string{
			"Features/CredentialWithUser_implemented",
			"GetCredentialWithUser/matches_GetCredential_and_GetUserByHandle",
		},
	},
	"create_user_requires_credential": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return requiresFirstCredential{s} },
		mustFail: []string{"CreateUser/without_credential"},
	},
	"handles_of_32_bytes_only": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return fixedHandleLength{s} },
		mustFail: []string{"CreateUser/app_chosen_handles_1_and_64_bytes"},
	},
	"names_truncated_to_64_characters": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return truncatesNames{s} },
		mustFail: []string{"CreateUser/name_254_characters"},
	},
	"update_user_recreates_user": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return recreatesOnUpdate{s} },
		mustFail: []string{"UpdateUser/renames"},
	},
	"update_user_keeps_old_name_reserved": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return &reservesOldNames{Store: s} },
		mustFail: []string{"UpdateUser/old_name_free"},
	},
	"update_user_changes_display_name_on_refusal": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return partialUpdate{s} },
		mustFail: []string{"UpdateUser/name_of_another_user"},
	},
	"update_user_refuses_own_name": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return refusesOwnName{s} },
		mustFail: []string{"UpdateUser/own_name"},
	},
	"update_user_unknown_handle_ok": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return updateUnknownOK{s} },
		mustFail: []string{"UpdateUser/not_found"},
	},
	"update_user_check_not_atomic": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return &racyRename{Store: s} },
		mustFail: []string{"UpdateUser/concurrent_same_free_name_one_winner"},
	},
	"second_factor_only_dropped": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return dropsSecondFactorOnly{s} },
		mustFail: []string{"GetCredential/second_factor_only_roundtrip"},
	},
	"error_text_echoes_name_on_update": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return echoesNameOnUpdate{s} },
		mustFail: []string{"ErrorTexts/UpdateUser"},
	},
	"scan_drops_last_of_each_full_page": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return scanDropsLast{s} },
		mustFail: []string{"Audit/scan_returns_every_credential", "Audit/scan_during_writes"},
	},
	"use_clears_quarantine": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return useClearsQuarantine{s} },
		mustFail: []string{"Audit/use_and_rename_keep_audit"},
	},
	"attestation_object_dropped": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return dropsAttestation{s} },
		mustFail: []string{"GetCredential/roundtrip_all_fields", "Audit/attestation_object_of_max_size_roundtrip"},
	},
	"features_change_between_calls": {
		creds:    func(s *memstore.Store) webauthnkit.CredentialStore { return &flipsFeatures{Store: s} },
		cers:     func(s *memstore.Store) webauthnkit.ChallengeStore { return &flipsFeatures{Store: s} },
		mustFail: []string{"Features/stable", "features_stable"},
	},
}

const mutationEnv = "STORETEST_MUTATION"

// TestBrokenStore runs the suite on a broken store. It only runs in the
// child processes started by TestSuiteDetectsBugs.
func TestBrokenStore(t *testing.T) {
	name := os.Getenv(mutationEnv)
	if name == "" {
		t.Skip("run by TestSuiteDetectsBugs")
	}
	m := mutations[name]
	newMem := func(t *testing.T) *memstore.Store {
		s, err := memstore.New()
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	if m.creds != nil {
		storetest.TestCredentialStore(t, func(t *testing.T) webauthnkit.CredentialStore { return m.creds(newMem(t)) })
	}
	if m.cers != nil {
		storetest.TestChallengeStore(t, func(t *testing.T) webauthnkit.ChallengeStore { return m.cers(newMem(t)) })
	}
}

// TestSuiteDetectsBugs checks that each deliberately broken store fails the
// subtests meant to catch its bug. Each runs in a child process, since a
// failing subtest cannot be undone in this one.
func TestSuiteDetectsBugs(t *testing.T) {
	if os.Getenv(mutationEnv) != "" {
		t.Skip("in a child process")
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	names := make([]string, 0, len(mutations))
	for name := range mutations {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		m := mutations[name]
		t.Run(name, func(t *testing.T) {
			for _, sub := range m.mustFail {
				pattern := "^TestBrokenStore$"
				for part := range strings.SplitSeq(sub, "/") {
					pattern += "/^" + part + "$"
				}
				cmd := exec.Command(os.Args[0], "-test.run="+pattern, "-test.count=1")
				cmd.Env = append(os.Environ(), mutationEnv+"="+name)
				out, err := cmd.CombinedOutput()
				var exit *exec.ExitError
				require.True(t, errors.As(err, &exit), "the suite passed a store with the bug %q (subtest %s); err=%v\n%s", name, sub, err, out)
				require.Contains(t, string(out), "--- FAIL: TestBrokenStore/"+sub, "output:\n%s", out)
			}
		})
	}
}

// Broken stores. Each embeds a working memstore and breaks one clause.

type casIgnoresExpected struct{ *memstore.Store }

func (s casIgnoresExpected) UpdateCredentialUse(ctx context.Context, id []byte, _ uint32, use webauthnkit.CredentialUse) error {
	c, err := s.GetCredential(ctx, id)
	if err != nil {
		return err
	}
	return s.Store.UpdateCredentialUse(ctx, id, c.SignCount, use)
}

type createNotAtomic struct{ *memstore.Store }

func (s createNotAtomic) CreateUser(ctx context.Context, u webauthnkit.User, first *webauthnkit.Credential) error {
	err := s.Store.CreateUser(ctx, u, first)
	if errors.Is(err, webauthnkit.ErrCredentialExists) {
		// Stores the user, then fails on the credential.
		tmp := storetest.RandomCredential(u.Handle)
		if s.Store.CreateUser(ctx, u, &tmp) == nil {
			_ = s.DeleteCredential(ctx, u.Handle, tmp.ID, true)
		}
	}
	return err
}

type ignoresOwner struct{ *memstore.Store }

func (s ignoresOwner) RenameCredential(ctx context.Context, _, id []byte, name string) error {
	c, err := s.GetCredential(ctx, id)
	if err != nil {
		return err
	}
	return s.Store.RenameCredential(ctx, c.UserHandle, id, name)
}

func (s ignoresOwner) DeleteCredential(ctx context.Context, _, id []byte, allowLast bool) error {
	c, err := s.GetCredential(ctx, id)
	if err != nil {
		return err
	}
	return s.Store.DeleteCredential(ctx, c.UserHandle, id, allowLast)
}

type listReversed struct{ *memstore.Store }

func (s listReversed) ListCredentials(ctx context.Context, h []byte) ([]webauthnkit.Credential, error) {
	cs, err := s.Store.ListCredentials(ctx, h)
	slices.Reverse(cs)
	return cs, err
}

type listNotFound struct{ *memstore.Store }

func (s listNotFound) ListCredentials(ctx context.Context, h []byte) ([]webauthnkit.Credential, error) {
	if _, err := s.GetUserByHandle(ctx, h); err != nil {
		return nil, err
	}
	return s.Store.ListCredentials(ctx, h)
}

// staleOwner's GetCredentialWithUser drops the owner's display name.
type staleOwner struct{ *memstore.Store }

func (s staleOwner) GetCredentialWithUser(ctx context.Context, id []byte) (webauthnkit.Credential, webauthnkit.User, error) {
	c, u, err := s.Store.GetCredentialWithUser(ctx, id)
	u.DisplayName = ""
	return c, u, err
}

// cachesWithUser's GetCredentialWithUser serves from a cache that deletes
// do not invalidate.
type cachesWithUser struct {
	*memstore.Store
	mu    sync.Mutex
	cache map[string][2]any
}

func (s *cachesWithUser) GetCredentialWithUser(ctx context.Context, id []byte) (webauthnkit.Credential, webauthnkit.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v, ok := s.cache[string(id)]; ok {
		return v[0].(webauthnkit.Credential), v[1].(webauthnkit.User), nil
	}
	c, u, err := s.Store.GetCredentialWithUser(ctx, id)
	if err == nil {
		if s.cache == nil {
			s.cache = map[string][2]any{}
		}
		s.cache[string(id)] = [2]any{c, u}
	}
	return c, u, err
}

type localTimes struct{ *memstore.Store }

func (s localTimes) GetCredential(ctx context.Context, id []byte) (webauthnkit.Credential, error) {
	c, err := s.Store.GetCredential(ctx, id)
	c.CreatedAt = c.CreatedAt.In(time.FixedZone("CET", 3600))
	return c, err
}

type truncatesTimes struct{ *memstore.Store }

func (s truncatesTimes) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	if c != nil {
		truncated := *c
		truncated.CreatedAt = truncated.CreatedAt.Truncate(time.Millisecond)
		c = &truncated
	}
	return s.Store.CreateUser(ctx, u, c)
}

func (s truncatesTimes) AddCredential(ctx context.Context, c webauthnkit.Credential) error {
	c.CreatedAt = c.CreatedAt.Truncate(time.Millisecond)
	return s.Store.AddCredential(ctx, c)
}

type foldsNames struct {
	*memstore.Store
	mu    sync.Mutex
	names map[string]bool
}

func (s *foldsNames) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := strings.ToLower(strings.TrimSpace(u.Name))
	if s.names[key] {
		return webauthnkit.ErrUserExists
	}
	if err := s.Store.CreateUser(ctx, u, c); err != nil {
		return err
	}
	if s.names == nil {
		s.names = map[string]bool{}
	}
	s.names[key] = true
	return nil
}

type dropsLastUsed struct{ *memstore.Store }

func (s dropsLastUsed) UpdateCredentialUse(ctx context.Context, id []byte, n uint32, use webauthnkit.CredentialUse) error {
	use.LastUsedAt = time.Time{}
	return s.Store.UpdateCredentialUse(ctx, id, n, use)
}

type ignoresContext struct{ *memstore.Store }

func (s ignoresContext) GetCredential(_ context.Context, id []byte) (webauthnkit.Credential, error) {
	return s.Store.GetCredential(context.Background(), id)
}

func (s ignoresContext) TakeCeremony(_ context.Context, id string) ([]byte, error) {
	return s.Store.TakeCeremony(context.Background(), id)
}

type putOverwrites struct{ *memstore.Store }

func (s putOverwrites) PutCeremony(ctx context.Context, id string, data []byte, exp time.Time) error {
	_, _ = s.TakeCeremony(ctx, id)
	return s.Store.PutCeremony(ctx, id, data, exp)
}

type noExpiry struct{ *memstore.Store }

func (s noExpiry) PutCeremony(ctx context.Context, id string, data []byte, _ time.Time) error {
	return s.Store.PutCeremony(ctx, id, data, time.Now().Add(time.Hour))
}

// racyPut checks for a live ceremony, then writes: concurrent puts of one id
// all find it free and all succeed, each overwriting the last. The pause
// stands for the round trip between the two statements.
type racyPut struct {
	mu sync.Mutex
	m  map[string]racyCeremony
}

type racyCeremony struct {
	data      []byte
	expiresAt time.Time
}

func (s *racyPut) live(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	return ok && time.Now().Before(c.expiresAt)
}

func (s *racyPut) PutCeremony(ctx context.Context, id string, data []byte, exp time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.live(id) {
		return webauthnkit.ErrDuplicate
	}
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[id] = racyCeremony{bytes.Clone(data), exp}
	return nil
}

func (s *racyPut) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	delete(s.m, id)
	if !ok || !time.Now().Before(c.expiresAt) {
		return nil, webauthnkit.ErrNotFound
	}
	return c.data, nil
}

func (s *racyPut) Features() webauthnkit.Features { return webauthnkit.Features{ProcessLocal: true} }

// putRaceFails fails a put that runs while another put of the same id is in
// flight with a store error, as MariaDB did with a deadlock (1213) when
// concurrent INSERTs met a deleted row: atomic, but the losers do not get
// ErrDuplicate. The pause stands for the time the statement holds its lock.
type putRaceFails struct {
	*memstore.Store
	inFlight sync.Map // id -> struct{}
}

func (s *putRaceFails) PutCeremony(ctx context.Context, id string, data []byte, exp time.Time) error {
	if _, busy := s.inFlight.LoadOrStore(id, struct{}{}); busy {
		return fmt.Errorf("%w: deadlock found when trying to get lock", webauthnkit.ErrStoreUnavailable)
	}
	defer s.inFlight.Delete(id)
	time.Sleep(time.Millisecond)
	return s.Store.PutCeremony(ctx, id, data, exp)
}

// racyLastCheck counts, then deletes: two concurrent deletes of the last
// two credentials both see two and both delete. The pause stands for the
// round trip between the two statements of a networked store.
type racyLastCheck struct{ *memstore.Store }

func (s racyLastCheck) DeleteCredential(ctx context.Context, h, id []byte, allowLast bool) error {
	list, err := s.ListCredentials(ctx, h)
	if err != nil {
		return err
	}
	if !allowLast && len(list) == 1 && bytes.Equal(list[0].ID, id) {
		return webauthnkit.ErrLastCredential
	}
	time.Sleep(time.Millisecond)
	return s.Store.DeleteCredential(ctx, h, id, true)
}

type ignoresAllowLast struct{ *memstore.Store }

func (s ignoresAllowLast) DeleteCredential(ctx context.Context, h, id []byte, _ bool) error {
	return s.Store.DeleteCredential(ctx, h, id, true)
}

// countsEveryUser refuses only when the store holds a single credential in
// all: the count is missing its WHERE user = ? clause.
type countsEveryUser struct {
	*memstore.Store
	mu    sync.Mutex
	total int
}

func (s *countsEveryUser) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.Store.CreateUser(ctx, u, c)
	if err == nil {
		s.total++
	}
	return err
}

func (s *countsEveryUser) AddCredential(ctx context.Context, c webauthnkit.Credential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.Store.AddCredential(ctx, c)
	if err == nil {
		s.total++
	}
	return err
}

func (s *countsEveryUser) DeleteCredential(ctx context.Context, h, id []byte, allowLast bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !allowLast && s.total <= 1 {
		return webauthnkit.ErrLastCredential
	}
	err := s.Store.DeleteCredential(ctx, h, id, true)
	if err == nil {
		s.total--
	}
	return err
}

// racyEpoch reads the epoch, then writes it plus one: concurrent calls lose
// increments. It keeps the increments itself, on top of the epoch memstore
// stored at creation.
type racyEpoch struct {
	*memstore.Store
	mu     sync.Mutex
	epochs map[string]uint64
}

func (s *racyEpoch) added(h []byte) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epochs[string(h)]
}

func (s *racyEpoch) EndSessions(ctx context.Context, h []byte) (uint64, error) {
	u, err := s.Store.GetUserByHandle(ctx, h)
	if err != nil {
		return 0, err
	}
	read := s.added(h)
	time.Sleep(time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epochs == nil {
		s.epochs = map[string]uint64{}
	}
	s.epochs[string(h)] = read + 1
	return u.SessionEpoch + read + 1, nil
}

func (s *racyEpoch) GetUserByHandle(ctx context.Context, h []byte) (webauthnkit.User, error) {
	u, err := s.Store.GetUserByHandle(ctx, h)
	u.SessionEpoch += s.added(h)
	return u, err
}

func (s *racyEpoch) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	u, err := s.Store.GetUserByName(ctx, name)
	u.SessionEpoch += s.added(u.Handle)
	return u, err
}

func (s *racyEpoch) GetCredentialWithUser(ctx context.Context, id []byte) (webauthnkit.Credential, webauthnkit.User, error) {
	c, u, err := s.Store.GetCredentialWithUser(ctx, id)
	u.SessionEpoch += s.added(u.Handle)
	return c, u, err
}

func (s *racyEpoch) DeleteUser(ctx context.Context, h []byte) error {
	s.mu.Lock()
	delete(s.epochs, string(h))
	s.mu.Unlock()
	return s.Store.DeleteUser(ctx, h)
}

// dropsCreatedEpoch stores every new user with epoch 0.
type dropsCreatedEpoch struct{ *memstore.Store }

func (s dropsCreatedEpoch) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	u.SessionEpoch = 0
	return s.Store.CreateUser(ctx, u, c)
}

// staleEpochWithUser's GetCredentialWithUser returns the owner as created
// (epoch 0): a cache or a JOIN that forgot the column.
type staleEpochWithUser struct{ *memstore.Store }

func (s staleEpochWithUser) GetCredentialWithUser(ctx context.Context, id []byte) (webauthnkit.Credential, webauthnkit.User, error) {
	c, u, err := s.Store.GetCredentialWithUser(ctx, id)
	u.SessionEpoch = 0
	return c, u, err
}

// echoesName passes on a driver-style duplicate message quoting the name.
type echoesName struct{ *memstore.Store }

func (s echoesName) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	err := s.Store.CreateUser(ctx, u, c)
	if errors.Is(err, webauthnkit.ErrUserExists) {
		return fmt.Errorf("%w: Duplicate entry '%s' for key 'name'", err, u.Name)
	}
	return err
}

// echoesCredentialID passes on a PostgreSQL-style duplicate message quoting
// the key in hex.
type echoesCredentialID struct{ *memstore.Store }

func (s echoesCredentialID) AddCredential(ctx context.Context, c webauthnkit.Credential) error {
	err := s.Store.AddCredential(ctx, c)
	if errors.Is(err, webauthnkit.ErrCredentialExists) {
		return fmt.Errorf(`%w: Key (id)=(\x%x) already exists`, err, c.ID)
	}
	return err
}

// requiresFirstCredential refuses a user without a credential, as the
// contract before issue 13 allowed.
type requiresFirstCredential struct{ *memstore.Store }

func (s requiresFirstCredential) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	if c == nil {
		return errors.New("a first credential is required")
	}
	return s.Store.CreateUser(ctx, u, c)
}

// fixedHandleLength takes only the 32-byte handles the library makes.
type fixedHandleLength struct{ *memstore.Store }

func (s fixedHandleLength) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	if len(u.Handle) != 32 {
		return errors.New("handle must be 32 bytes")
	}
	return s.Store.CreateUser(ctx, u, c)
}

// truncatesNames keeps the first 64 characters of a name, as a
// VARCHAR(64) column in a non-strict MySQL mode does.
type truncatesNames struct{ *memstore.Store }

func truncate64(name string) string {
	if r := []rune(name); len(r) > 64 {
		return string(r[:64])
	}
	return name
}

func (s truncatesNames) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	u.Name = truncate64(u.Name)
	return s.Store.CreateUser(ctx, u, c)
}

func (s truncatesNames) UpdateUser(ctx context.Context, h []byte, name, display string) error {
	return s.Store.UpdateUser(ctx, h, truncate64(name), display)
}

func (s truncatesNames) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	return s.Store.GetUserByName(ctx, truncate64(name))
}

// recreatesOnUpdate renames by deleting the user and creating it again
// with its credentials: CreatedAt and SessionEpoch are lost.
type recreatesOnUpdate struct{ *memstore.Store }

func (s recreatesOnUpdate) UpdateUser(ctx context.Context, h []byte, name, display string) error {
	u, err := s.GetUserByHandle(ctx, h)
	if err != nil {
		return err
	}
	if other, err := s.GetUserByName(ctx, name); err == nil && !bytes.Equal(other.Handle, h) {
		return webauthnkit.ErrUserExists
	}
	creds, err := s.ListCredentials(ctx, h)
	if err != nil {
		return err
	}
	if err := s.DeleteUser(ctx, h); err != nil {
		return err
	}
	if err := s.Store.CreateUser(ctx, webauthnkit.User{Handle: u.Handle, Name: name, DisplayName: display, CreatedAt: time.Now()}, nil); err != nil {
		return err
	}
	for _, c := range creds {
		if err := s.AddCredential(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// reservesOldNames never frees a name a user was renamed from.
type reservesOldNames struct {
	*memstore.Store
	mu  sync.Mutex
	old map[string]bool
}

func (s *reservesOldNames) taken(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.old[name]
}

func (s *reservesOldNames) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	if s.taken(u.Name) {
		return webauthnkit.ErrUserExists
	}
	return s.Store.CreateUser(ctx, u, c)
}

func (s *reservesOldNames) UpdateUser(ctx context.Context, h []byte, name, display string) error {
	if s.taken(name) {
		return webauthnkit.ErrUserExists
	}
	u, err := s.GetUserByHandle(ctx, h)
	if err != nil {
		return err
	}
	if err := s.Store.UpdateUser(ctx, h, name, display); err != nil {
		return err
	}
	if u.Name != name {
		s.mu.Lock()
		if s.old == nil {
			s.old = map[string]bool{}
		}
		s.old[u.Name] = true
		s.mu.Unlock()
	}
	return nil
}

// partialUpdate writes the display name before finding the name taken.
type partialUpdate struct{ *memstore.Store }

func (s partialUpdate) UpdateUser(ctx context.Context, h []byte, name, display string) error {
	u, err := s.GetUserByHandle(ctx, h)
	if err != nil {
		return err
	}
	if err := s.Store.UpdateUser(ctx, h, u.Name, display); err != nil {
		return err
	}
	return s.Store.UpdateUser(ctx, h, name, display)
}

// refusesOwnName finds the name "taken" by the user being renamed.
type refusesOwnName struct{ *memstore.Store }

func (s refusesOwnName) UpdateUser(ctx context.Context, h []byte, name, display string) error {
	if _, err := s.GetUserByName(ctx, name); err == nil {
		return webauthnkit.ErrUserExists
	}
	return s.Store.UpdateUser(ctx, h, name, display)
}

// updateUnknownOK answers an UPDATE that matched no row with success.
type updateUnknownOK struct{ *memstore.Store }

func (s updateUnknownOK) UpdateUser(ctx context.Context, h []byte, name, display string) error {
	if err := s.Store.UpdateUser(ctx, h, name, display); !errors.Is(err, webauthnkit.ErrNotFound) {
		return err
	}
	return nil
}

// racyRename checks that the name is free, then renames in a second step
// (the pause stands for a round trip): two concurrent renames to one free
// name both pass the check. It keeps the new names itself, on top of the
// names memstore stored at creation.
type racyRename struct {
	*memstore.Store
	mu      sync.Mutex
	renamed map[string]string // handle → name
}

func (s *racyRename) nameOf(h []byte) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.renamed[string(h)]
	return n, ok
}

func (s *racyRename) UpdateUser(ctx context.Context, h []byte, name, display string) error {
	if _, err := s.GetUserByHandle(ctx, h); err != nil {
		return err
	}
	if other, err := s.GetUserByName(ctx, name); err == nil && !bytes.Equal(other.Handle, h) {
		return webauthnkit.ErrUserExists
	}
	time.Sleep(time.Millisecond)
	u, err := s.Store.GetUserByHandle(ctx, h)
	if err != nil {
		return err
	}
	if err := s.Store.UpdateUser(ctx, h, u.Name, display); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.renamed == nil {
		s.renamed = map[string]string{}
	}
	s.renamed[string(h)] = name
	return nil
}

func (s *racyRename) GetUserByHandle(ctx context.Context, h []byte) (webauthnkit.User, error) {
	u, err := s.Store.GetUserByHandle(ctx, h)
	if n, ok := s.nameOf(h); ok && err == nil {
		u.Name = n
	}
	return u, err
}

func (s *racyRename) GetUserByName(ctx context.Context, name string) (webauthnkit.User, error) {
	s.mu.Lock()
	var handle []byte
	for h, n := range s.renamed {
		if n == name {
			handle = []byte(h)
			break
		}
	}
	s.mu.Unlock()
	if handle != nil {
		return s.GetUserByHandle(ctx, handle)
	}
	u, err := s.Store.GetUserByName(ctx, name)
	if _, ok := s.nameOf(u.Handle); ok && err == nil {
		return webauthnkit.User{}, webauthnkit.ErrNotFound // renamed away
	}
	return u, err
}

// dropsSecondFactorOnly forgets the flag, as a store whose INSERT lists
// the columns known before issue 13 does.
type dropsSecondFactorOnly struct{ *memstore.Store }

func (s dropsSecondFactorOnly) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	if c != nil {
		dropped := *c
		dropped.SecondFactorOnly = false
		c = &dropped
	}
	return s.Store.CreateUser(ctx, u, c)
}

func (s dropsSecondFactorOnly) AddCredential(ctx context.Context, c webauthnkit.Credential) error {
	c.SecondFactorOnly = false
	return s.Store.AddCredential(ctx, c)
}

// echoesNameOnUpdate passes on a driver-style duplicate message quoting the
// name.
type echoesNameOnUpdate struct{ *memstore.Store }

func (s echoesNameOnUpdate) UpdateUser(ctx context.Context, h []byte, name, display string) error {
	err := s.Store.UpdateUser(ctx, h, name, display)
	if errors.Is(err, webauthnkit.ErrUserExists) {
		return fmt.Errorf("%w: Duplicate entry '%s' for key 'name'", err, name)
	}
	return err
}

// declaresWithoutGetter declares CredentialWithUser but hides the method:
// the embedded interface has only CredentialStore's.
type declaresWithoutGetter struct{ webauthnkit.CredentialStore }

func (declaresWithoutGetter) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: true, CredentialWithUser: true}
}

// flipsFeatures answers differently on every call.
type flipsFeatures struct {
	*memstore.Store
	n atomic.Int64
}

func (s *flipsFeatures) Features() webauthnkit.Features {
	return webauthnkit.Features{ProcessLocal: s.n.Add(1)%2 == 0, CredentialWithUser: true}
}

// racyTake reads and deletes in two steps: the classic GET-then-DEL bug.
type racyTake struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *racyTake) PutCeremony(ctx context.Context, id string, data []byte, exp time.Time) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[id]; ok {
		return webauthnkit.ErrDuplicate
	}
	if time.Now().Before(exp) {
		s.m[id] = bytes.Clone(data)
	}
	return nil
}

func (s *racyTake) Features() webauthnkit.Features { return webauthnkit.Features{ProcessLocal: true} }

func (s *racyTake) TakeCeremony(ctx context.Context, id string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	data, ok := s.m[id]
	s.mu.Unlock()
	if !ok {
		return nil, webauthnkit.ErrNotFound
	}
	runtime.Gosched()
	s.mu.Lock()
	delete(s.m, id)
	s.mu.Unlock()
	return data, nil
}

// ---- helpers ----

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return "recorder" }
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func TestAssertCredentialEqual(t *testing.T) {
	want := storetest.RandomCredential(storetest.RandomHandle())
	same := func(c webauthnkit.Credential) webauthnkit.Credential {
		c.ID = bytes.Clone(c.ID)
		c.UserHandle = bytes.Clone(c.UserHandle)
		c.PublicKey = bytes.Clone(c.PublicKey)
		c.AAGUID = bytes.Clone(c.AAGUID)
		c.Transports = slices.Clone(c.Transports)
		c.CreatedAt = c.CreatedAt.UTC()
		c.LastUsedAt = c.LastUsedAt.UTC()
		c.AttestationObject = bytes.Clone(c.AttestationObject)
		c.AttestationClientDataHash = bytes.Clone(c.AttestationClientDataHash)
		c.AttestationCheckedAt = c.AttestationCheckedAt.UTC()
		c.QuarantinedAt = c.QuarantinedAt.UTC()
		return c
	}
	ok := func(name string, got webauthnkit.Credential) {
		t.Helper()
		r := &recorder{}
		require.True(t, storetest.AssertCredentialEqual(r, want, got), "%s: %v", name, r.failures)
	}
	bad := func(name string, got webauthnkit.Credential, mention string) {
		t.Helper()
		r := &recorder{}
		require.False(t, storetest.AssertCredentialEqual(r, want, got), name)
		require.Len(t, r.failures, 1, name)
		require.Contains(t, r.failures[0], mention, name)
	}

	ok("deep copy in UTC", same(want))
	g := same(want)
	g.CreatedAt = g.CreatedAt.Truncate(time.Microsecond)
	g.LastUsedAt = g.LastUsedAt.Round(time.Microsecond)
	ok("truncated and rounded to microseconds", g)

	g = same(want)
	g.CreatedAt = g.CreatedAt.Add(time.Microsecond)
	bad("one microsecond off", g, "CreatedAt")
	bad("not in UTC", want, "UTC")
	g = same(want)
	g.LastUsedAt = time.Time{}
	bad("LastUsedAt lost", g, "LastUsedAt")

	w, g := want, same(want)
	w.LastUsedAt, g.LastUsedAt = time.Time{}, time.Unix(0, 0).UTC()
	r := &recorder{}
	require.False(t, storetest.AssertCredentialEqual(r, w, g), "zero LastUsedAt must come back zero, not 1970")

	w, g = want, same(want)
	w.Transports, g.Transports = nil, []string{}
	w.AAGUID, g.AAGUID = []byte{}, nil
	r = &recorder{}
	require.True(t, storetest.AssertCredentialEqual(r, w, g), "nil and empty slices are equal: %v", r.failures)

	// Every field is compared, including fields added later.
	typ := reflect.TypeFor[webauthnkit.Credential]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		if f.Name == "ProviderName" {
			g := same(want)
			g.ProviderName = "YubiKey 5 Series with NFC"
			r := &recorder{}
			require.True(t, storetest.AssertCredentialEqual(r, want, g), "ProviderName is not stored, so not compared: %v", r.failures)
			continue
		}
		g := same(want)
		v := reflect.ValueOf(&g).Elem().Field(i)
		switch x := v.Interface().(type) {
		case []byte:
			v.Set(reflect.ValueOf(append(bytes.Clone(x), 1)))
		case []string:
			v.Set(reflect.ValueOf(append(slices.Clone(x), "x")))
		case string:
			v.SetString(x + "x")
		case bool:
			v.SetBool(!x)
		case uint32:
			v.SetUint(uint64(x + 1))
		case time.Time:
			v.Set(reflect.ValueOf(x.Add(time.Second)))
		default:
			t.Fatalf("field %s of type %s: teach this test to change it", f.Name, f.Type)
		}
		bad("changed "+f.Name, g, f.Name+":")
	}
}

func TestAssertUserEqual(t *testing.T) {
	u := storetest.RandomUser()
	g := u
	g.Handle = bytes.Clone(u.Handle)
	g.CreatedAt = u.CreatedAt.UTC().Truncate(time.Microsecond)
	r := &recorder{}
	require.True(t, storetest.AssertUserEqual(r, u, g), "%v", r.failures)
	g.Name += "x"
	require.False(t, storetest.AssertUserEqual(r, u, g))
}

func TestRandomValues(t *testing.T) {
	h := storetest.RandomHandle()
	require.Len(t, h, 32)
	require.NotEqual(t, h, storetest.RandomHandle())
	require.NotEqual(t, storetest.RandomName(), storetest.RandomName())
	require.NotEqual(t, storetest.RandomCeremonyID(), storetest.RandomCeremonyID())

	u := storetest.RandomUser()
	c := storetest.RandomCredential(u.Handle)
	require.Equal(t, u.Handle, c.UserHandle)
	c.UserHandle[0] ^= 1
	require.NotEqual(t, u.Handle, c.UserHandle, "RandomCredential copies the handle")
	require.NotEqual(t, time.UTC, c.CreatedAt.Location(), "times are given in another zone to catch stores that keep it")
	// Every field is set, so that a store dropping one is caught.
	v := reflect.ValueOf(c)
	for i := range v.NumField() {
		if v.Type().Field(i).Name == "ProviderName" {
			continue // not stored: filled by the RelyingParty
		}
		require.False(t, v.Field(i).IsZero(), "RandomCredential leaves %s zero", v.Type().Field(i).Name)
	}
}

// downStore answers every call as a store whose server is unreachable.
type downStore struct{}

var errDown = fmt.Errorf("downstore: dial tcp 127.0.0.1:1: %w: %w", webauthnkit.ErrStoreUnavailable, errors.New("connection refused"))

func (downStore) CreateUser(context.Context, webauthnkit.User, *webauthnkit.Credential) error {
	return errDown
}
func (downStore) UpdateUser(context.Context, []byte, string, string) error { return errDown }
func (downStore) GetUserByHandle(context.Context, []byte) (webauthnkit.User, error) {
	return webauthnkit.User{}, errDown
}
func (downStore) GetUserByName(context.Context, string) (webauthnkit.User, error) {
	return webauthnkit.User{}, errDown
}
func (downStore) DeleteUser(context.Context, []byte) error { return errDown }
func (downStore) AddCredential(context.Context, webauthnkit.Credential) error {
	return errDown
}
func (downStore) GetCredential(context.Context, []byte) (webauthnkit.Credential, error) {
	return webauthnkit.Credential{}, errDown
}
func (downStore) ListCredentials(context.Context, []byte) ([]webauthnkit.Credential, error) {
	return nil, errDown
}
func (downStore) UpdateCredentialUse(context.Context, []byte, uint32, webauthnkit.CredentialUse) error {
	return errDown
}
func (downStore) RenameCredential(context.Context, []byte, []byte, string) error { return errDown }
func (downStore) DeleteCredential(context.Context, []byte, []byte, bool) error   { return errDown }
func (downStore) EndSessions(context.Context, []byte) (uint64, error)            { return 0, errDown }
func (downStore) GetUserByEmail(context.Context, string) (webauthnkit.User, error) {
	return webauthnkit.User{}, errDown
}
func (downStore) SetEmail(context.Context, []byte, string, time.Time) error    { return errDown }
func (downStore) SetRecoveryCodes(context.Context, []byte, [][]byte) error     { return errDown }
func (downStore) UseRecoveryCode(context.Context, []byte, []byte) error        { return errDown }
func (downStore) RecoveryCodesLeft(context.Context, []byte) (int, error)       { return 0, errDown }
func (downStore) Features() webauthnkit.Features                               { return webauthnkit.Features{} }
func (downStore) PutCeremony(context.Context, string, []byte, time.Time) error { return errDown }
func (downStore) TakeCeremony(context.Context, string) ([]byte, error)         { return nil, errDown }

func TestUnavailableSuites(t *testing.T) {
	storetest.TestCredentialStoreUnavailable(t, func(*testing.T) webauthnkit.CredentialStore { return downStore{} })
	storetest.TestChallengeStoreUnavailable(t, func(*testing.T) webauthnkit.ChallengeStore { return downStore{} })
}

// scanDropsLast loses the last credential of every full page (an
// off-by-one between the page and its cursor).
type scanDropsLast struct{ *memstore.Store }

func (s scanDropsLast) ScanCredentials(ctx context.Context, cursor string, limit int) ([]webauthnkit.Credential, string, error) {
	page, next, err := s.Store.ScanCredentials(ctx, cursor, limit)
	if err == nil && next != "" && len(page) == limit {
		page = page[:len(page)-1]
	}
	return page, next, err
}

// useClearsQuarantine rewrites the audit state along with a login's use.
type useClearsQuarantine struct{ *memstore.Store }

func (s useClearsQuarantine) UpdateCredentialUse(ctx context.Context, id []byte, expected uint32, use webauthnkit.CredentialUse) error {
	if err := s.Store.UpdateCredentialUse(ctx, id, expected, use); err != nil {
		return err
	}
	c, err := s.Store.GetCredential(ctx, id)
	if err != nil {
		return err
	}
	return s.Store.SetCredentialAudit(ctx, id, webauthnkit.CredentialAudit{Trust: c.AttestationTrust, CheckedAt: c.AttestationCheckedAt})
}

// dropsAttestation does not store the attestation object.
type dropsAttestation struct{ *memstore.Store }

func (s dropsAttestation) CreateUser(ctx context.Context, u webauthnkit.User, c *webauthnkit.Credential) error {
	if c != nil {
		dropped := *c
		dropped.AttestationObject = nil
		c = &dropped
	}
	return s.Store.CreateUser(ctx, u, c)
}

func (s dropsAttestation) AddCredential(ctx context.Context, c webauthnkit.Credential) error {
	c.AttestationObject = nil
	return s.Store.AddCredential(ctx, c)
}
