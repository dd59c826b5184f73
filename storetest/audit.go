package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/webauthnkit/webauthnkit"
)

// The webauthnkit.CredentialAuditor clauses (Features().Audit): the paged
// scan over all credentials and the audit state (trust, quarantine). Unlike
// the rest of the suite, the scan clauses walk the whole store, so their
// cost grows with what the store holds; they look only for the credentials
// they created.

// auditClauses registers the Audit subtests.
func auditClauses(t *testing.T, newStore func(t *testing.T) webauthnkit.CredentialStore, run func(t *testing.T, name string, f func(t *testing.T, s credStore))) {
	probe := newStore(t)
	require.NotNil(t, probe, "newStore returned nil")
	if !probe.Features().Audit {
		t.Log("the store does not declare the optional Features().Audit")
		return
	}
	run(t, "attestation_object_of_max_size_roundtrip", testAuditLargeAttestation)
	run(t, "scan_returns_every_credential", testScanEvery)
	run(t, "scan_limit_bounds", testScanLimitBounds)
	run(t, "scan_malformed_cursor", testScanMalformedCursor)
	run(t, "scan_during_writes", testScanDuringWrites)
	run(t, "set_audit_sets_and_clears", testSetAuditSetsAndClears)
	run(t, "set_audit_not_found", testSetAuditNotFound)
	run(t, "set_audit_text_bounds", testSetAuditTextBounds)
	run(t, "use_and_rename_keep_audit", testUseAndRenameKeepAudit)
	run(t, "concurrent_audit_use_rename_none_lost", testAuditConcurrent)
}

// auditor returns s as a CredentialAuditor, failing the test when a store
// declares Audit without implementing it.
func auditor(t *testing.T, s credStore) webauthnkit.CredentialAuditor {
	t.Helper()
	a, ok := s.(webauthnkit.CredentialAuditor)
	require.True(t, ok, "%T declares Features().Audit but does not implement webauthnkit.CredentialAuditor", s)
	return a
}

// testAuditWithoutImplementation is the Features clause: a store declaring
// Audit implements CredentialAuditor.
func testAuditImplemented(t *testing.T, s credStore) {
	_, implemented := s.(webauthnkit.CredentialAuditor)
	if !s.Features().Audit {
		if implemented {
			t.Logf("%T has ScanCredentials and SetCredentialAudit but does not declare Audit: the library will not use them", s)
		}
		return
	}
	require.True(t, implemented, "%T declares Features().Audit but does not implement webauthnkit.CredentialAuditor", s)
}

// withAudit is c with the audit fields of a.
func withAudit(c cred, a webauthnkit.CredentialAudit) cred {
	c.AttestationTrust, c.AttestationCheckedAt = a.Trust, a.CheckedAt
	c.QuarantinedAt, c.QuarantineReason = a.QuarantinedAt, a.QuarantineReason
	return c
}

// scanAll runs a whole scan with pages of limit and returns what it saw,
// keyed by string(ID), checking the page bounds on the way.
func scanAll(t *testing.T, a webauthnkit.CredentialAuditor, limit int) map[string]cred {
	t.Helper()
	seen := map[string]cred{}
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10_000_000, "the scan does not end")
		page, next, err := a.ScanCredentials(t.Context(), cursor, limit)
		require.NoError(t, err, "ScanCredentials after %d pages", pages)
		require.LessOrEqual(t, len(page), limit, "a page holds at most limit credentials")
		for _, c := range page {
			seen[string(c.ID)] = c
		}
		if next == "" {
			return seen
		}
		require.NotEqual(t, cursor, next, "the cursor did not move (page %d)", pages)
		cursor = next
	}
}

func testAuditLargeAttestation(t *testing.T, s credStore) {
	u := RandomUser()
	c := RandomCredential(u.Handle)
	c.AttestationObject = RandomBytes(webauthnkit.MaxAttestationObjectSize)
	c.AttestationTrust = strings.Repeat("t", webauthnkit.MaxAuditTextLength)
	c.QuarantineReason = strings.Repeat("r", webauthnkit.MaxAuditTextLength)
	require.NoError(t, s.CreateUser(t.Context(), u, &c))
	requireCredential(t, s, c)
	c2 := RandomCredential(u.Handle)
	c2.AttestationObject = RandomBytes(webauthnkit.MaxAttestationObjectSize)
	require.NoError(t, s.AddCredential(t.Context(), c2))
	requireList(t, s, u.Handle, sortedByCreated(c, c2)...)
}

// sortedByCreated returns the credentials in ListCredentials order.
func sortedByCreated(cs ...cred) []cred {
	out := append([]cred(nil), cs...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			a, b := out[i], out[j]
			if c := b.CreatedAt.Compare(a.CreatedAt); c < 0 || c == 0 && bytes.Compare(b.ID, a.ID) < 0 {
				out[i], out[j] = b, a
			}
		}
	}
	return out
}

// testScanEvery: every stored credential comes back, as GetCredential
// returns it, with small pages; a deleted one and one of a deleted user do
// not.
func testScanEvery(t *testing.T, s credStore) {
	a := auditor(t, s)
	ctx := t.Context()
	var want []cred
	for range 3 {
		u, c := createUser(t, s)
		want = append(want, c)
		for range 3 {
			c := RandomCredential(u.Handle)
			require.NoError(t, s.AddCredential(ctx, c))
			want = append(want, c)
		}
	}
	gone, goneCred := createUser(t, s)
	extra := RandomCredential(gone.Handle)
	require.NoError(t, s.AddCredential(ctx, extra))
	require.NoError(t, s.DeleteCredential(ctx, gone.Handle, extra.ID, true))
	u2, c2 := createUser(t, s)
	require.NoError(t, s.DeleteUser(ctx, u2.Handle))

	seen := scanAll(t, a, 5)
	for _, c := range want {
		got, ok := seen[string(c.ID)]
		if !ok {
			t.Errorf("credential %x not returned by the scan", c.ID)
			continue
		}
		AssertCredentialEqual(t, c, got, "ScanCredentials")
	}
	_, ok := seen[string(goneCred.ID)]
	require.True(t, ok, "the remaining credential of a user is returned")
	for _, id := range [][]byte{extra.ID, c2.ID} {
		_, ok := seen[string(id)]
		require.False(t, ok, "a credential deleted before the scan is returned")
	}
}

func testScanLimitBounds(t *testing.T, s credStore) {
	a := auditor(t, s)
	createUser(t, s)
	for _, limit := range []int{0, -1, webauthnkit.MaxScanPageSize + 1} {
		_, _, err := a.ScanCredentials(t.Context(), "", limit)
		require.Error(t, err, "limit %d", limit)
	}
	page, _, err := a.ScanCredentials(t.Context(), "", webauthnkit.MaxScanPageSize)
	require.NoError(t, err)
	require.LessOrEqual(t, len(page), webauthnkit.MaxScanPageSize)
	page, _, err = a.ScanCredentials(t.Context(), "", 1)
	require.NoError(t, err)
	require.LessOrEqual(t, len(page), 1)
}

func testScanMalformedCursor(t *testing.T, s credStore) {
	a := auditor(t, s)
	createUser(t, s)
	for _, cursor := range []string{"\x00", "not a cursor at all!", strings.Repeat("~", 300)} {
		_, _, err := a.ScanCredentials(t.Context(), cursor, 10)
		require.Error(t, err, "cursor %q", cursor)
	}
}

// testScanDuringWrites: credentials added and deleted by concurrent writers
// while a scan runs do not make it miss the ones stored throughout.
func testScanDuringWrites(t *testing.T, s credStore) {
	a := auditor(t, s)
	ctx := t.Context()
	u, first := createUser(t, s)
	stable := []cred{first}
	for range 12 {
		c := RandomCredential(u.Handle)
		require.NoError(t, s.AddCredential(ctx, c))
		stable = append(stable, c)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	for w := range 3 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c := RandomCredential(u.Handle)
				if err := s.AddCredential(ctx, c); err != nil {
					mu.Lock()
					problems = append(problems, fmt.Sprintf("writer %d: AddCredential: %v", w, err))
					mu.Unlock()
					return
				}
				if i%2 == 0 {
					if err := s.DeleteCredential(ctx, u.Handle, c.ID, true); err != nil {
						mu.Lock()
						problems = append(problems, fmt.Sprintf("writer %d: DeleteCredential: %v", w, err))
						mu.Unlock()
						return
					}
				}
			}
		})
	}
	var seen map[string]cred
	for range 3 {
		seen = scanAll(t, a, 4)
		for _, c := range stable {
			_, ok := seen[string(c.ID)]
			if !ok {
				t.Errorf("credential %x, stored throughout, not returned by a scan during writes", c.ID)
			}
		}
	}
	close(stop)
	wg.Wait()
	require.Empty(t, problems)
}

func testSetAuditSetsAndClears(t *testing.T, s credStore) {
	a := auditor(t, s)
	ctx := t.Context()
	u := RandomUser()
	c := RandomCredential(u.Handle)
	c.AttestationTrust, c.AttestationCheckedAt, c.QuarantinedAt, c.QuarantineReason = "", time.Time{}, time.Time{}, ""
	require.NoError(t, s.CreateUser(ctx, u, &c))
	requireCredential(t, s, c)

	q := webauthnkit.CredentialAudit{Trust: "revoked", CheckedAt: randomTime(), QuarantinedAt: randomTime(), QuarantineReason: "model revoked"}
	require.NoError(t, a.SetCredentialAudit(ctx, c.ID, q))
	c = withAudit(c, q)
	requireCredential(t, s, c)
	requireList(t, s, u.Handle, c)
	if g, ok := s.(webauthnkit.CredentialUserGetter); ok && s.Features().CredentialWithUser {
		got, _, err := g.GetCredentialWithUser(ctx, c.ID)
		require.NoError(t, err)
		AssertCredentialEqual(t, c, got, "GetCredentialWithUser")
	}

	cleared := webauthnkit.CredentialAudit{Trust: "trusted", CheckedAt: randomTime()}
	require.NoError(t, a.SetCredentialAudit(ctx, c.ID, cleared))
	c = withAudit(c, cleared)
	requireCredential(t, s, c)
	require.True(t, c.QuarantinedAt.IsZero())
}

func testSetAuditNotFound(t *testing.T, s credStore) {
	a := auditor(t, s)
	ctx := t.Context()
	q := webauthnkit.CredentialAudit{Trust: "revoked", CheckedAt: time.Now(), QuarantinedAt: time.Now(), QuarantineReason: "x"}
	require.ErrorIs(t, a.SetCredentialAudit(ctx, RandomBytes(32), q), errNotFound, "unknown credential")

	u, c := createUser(t, s)
	other := RandomCredential(u.Handle)
	require.NoError(t, s.AddCredential(ctx, other))
	require.NoError(t, s.DeleteCredential(ctx, u.Handle, other.ID, false))
	require.ErrorIs(t, a.SetCredentialAudit(ctx, other.ID, q), errNotFound, "deleted credential")
	requireNoCredential(t, s, other.ID)
	requireList(t, s, u.Handle, c)
	require.NoError(t, s.AddCredential(ctx, other), "the ID of a deleted credential stays free after a refused SetCredentialAudit")
	requireCredential(t, s, other)

	require.NoError(t, s.DeleteUser(ctx, u.Handle))
	require.ErrorIs(t, a.SetCredentialAudit(ctx, c.ID, q), errNotFound, "credential of a deleted user")
	requireNoCredential(t, s, c.ID)
}

func testSetAuditTextBounds(t *testing.T, s credStore) {
	a := auditor(t, s)
	_, c := createUser(t, s)
	long := strings.Repeat("x", webauthnkit.MaxAuditTextLength+1)
	require.Error(t, a.SetCredentialAudit(t.Context(), c.ID, webauthnkit.CredentialAudit{Trust: long, CheckedAt: time.Now()}))
	require.Error(t, a.SetCredentialAudit(t.Context(), c.ID, webauthnkit.CredentialAudit{Trust: "ok", QuarantinedAt: time.Now(), QuarantineReason: long}))
	requireCredential(t, s, c)
}

func testUseAndRenameKeepAudit(t *testing.T, s credStore) {
	a := auditor(t, s)
	ctx := t.Context()
	u, c := createUser(t, s)
	q := webauthnkit.CredentialAudit{Trust: "untrusted", CheckedAt: randomTime(), QuarantinedAt: randomTime(), QuarantineReason: "unknown model"}
	require.NoError(t, a.SetCredentialAudit(ctx, c.ID, q))
	c = withAudit(c, q)
	use := webauthnkit.CredentialUse{SignCount: c.SignCount + 1, BackupState: true, UserVerified: true, LastUsedAt: randomTime()}
	require.NoError(t, s.UpdateCredentialUse(ctx, c.ID, c.SignCount, use))
	c = withUse(c, use)
	require.NoError(t, s.RenameCredential(ctx, u.Handle, c.ID, "renamed"))
	c.Name = "renamed"
	requireCredential(t, s, c)
}

// testAuditConcurrent: SetCredentialAudit, UpdateCredentialUse and
// RenameCredential on one credential at once lose none of each other's
// fields, and concurrent SetCredentialAudit calls never mix their values.
func testAuditConcurrent(t *testing.T, s credStore) {
	a := auditor(t, s)
	ctx := t.Context()
	for trial := range 5 {
		u, c := createUser(t, s)
		audits := make([]webauthnkit.CredentialAudit, 4)
		for i := range audits {
			audits[i] = webauthnkit.CredentialAudit{Trust: fmt.Sprintf("trust-%d", i), CheckedAt: randomTime(), QuarantineReason: fmt.Sprintf("reason-%d", i)}
			if i%2 == 0 {
				audits[i].QuarantinedAt = randomTime()
			} else {
				audits[i].QuarantineReason = ""
			}
		}
		use := webauthnkit.CredentialUse{SignCount: c.SignCount + 7, UserVerified: true, LastUsedAt: randomTime()}
		start := make(chan struct{})
		errs := make(chan error, len(audits)+2)
		var wg sync.WaitGroup
		for _, q := range audits {
			wg.Go(func() {
				<-start
				errs <- a.SetCredentialAudit(ctx, c.ID, q)
			})
		}
		wg.Go(func() {
			<-start
			errs <- s.UpdateCredentialUse(ctx, c.ID, c.SignCount, use)
		})
		wg.Go(func() {
			<-start
			errs <- s.RenameCredential(ctx, u.Handle, c.ID, "concurrent")
		})
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err, "trial %d", trial)
		}
		got, err := s.GetCredential(ctx, c.ID)
		require.NoError(t, err)
		want := withUse(c, use)
		want.Name = "concurrent"
		winner := -1
		for i, q := range audits {
			if got.AttestationTrust == q.Trust {
				winner = i
			}
		}
		require.NotEqual(t, -1, winner, "trial %d: AttestationTrust %q is none of the values set", trial, got.AttestationTrust)
		AssertCredentialEqual(t, withAudit(want, audits[winner]), got, "trial %d: one SetCredentialAudit wins whole, the use and the name are kept", trial)
	}
}
