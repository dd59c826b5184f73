package redisstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/webauthnkit/webauthnkit"
)

// The webauthnkit.CredentialAuditor methods (issue 16): a scan over all
// credential records with SCAN, and the audit state of one credential.

// scanStep is the COUNT hint of each SCAN: how many keys of the keyspace
// (all of them, not only this store's) one step looks at, at least.
const scanStep = 200

// maxCursorLen bounds the cursor ScanCredentials accepts: it carries the
// IDs a SCAN step found beyond the page (a few hundred at most).
const maxCursorLen = 4 << 20

const cursorPrefix = "r1."

// scanState is the cursor: the node being scanned (a Cluster master's
// address; "" otherwise), its SCAN cursor, whether every node is done, and
// the IDs found but not yet returned.
type scanState struct {
	Node    string   `json:"n,omitempty"`
	Cursor  uint64   `json:"c,omitempty"`
	Done    bool     `json:"d,omitempty"`
	Pending [][]byte `json:"p,omitempty"`
}

// ScanCredentials returns up to limit credentials and the cursor of the
// next page, "" after the last (webauthnkit.CredentialAuditor). It walks
// the keyspace with SCAN (MATCH on the prefix's credential keys; on a
// Cluster, each master in turn, in address order) and reads the records of
// a page with one pipelined HMGET each, like ListCredentials. SCAN's
// guarantee is the contract's: a key present for the whole scan is returned
// at least once, maybe more. Nothing is held on the server between pages;
// the cursor carries the node, SCAN's cursor and the IDs a step found
// beyond the page. On a Cluster a resharding or failover during the scan
// (a master's address gone) fails it with an error: start it again.
//
// A step looks at every key of the database, whatever its prefix: in a
// database shared with much other data, a scan costs a round trip per 200
// keys of it, not of this store.
func (s *Store) ScanCredentials(ctx context.Context, cursor string, limit int) ([]webauthnkit.Credential, string, error) {
	const op = "ScanCredentials"
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if limit < 1 || limit > webauthnkit.MaxScanPageSize {
		return nil, "", fmt.Errorf("redisstore: %s: limit %d outside 1..%d", op, limit, webauthnkit.MaxScanPageSize)
	}
	st, err := decodeScanCursor(cursor)
	if err != nil {
		return nil, "", fmt.Errorf("redisstore: %s: %w", op, err)
	}
	cc, cluster := s.c.(*redis.ClusterClient)
	var masters []string
	if cluster {
		if masters, err = masterAddrs(ctx, cc); err != nil {
			return nil, "", wrapErr(ctx, op, err)
		}
		if cursor == "" {
			st.Node = masters[0]
		}
	}
	match := escapeGlob(s.prefix) + "cred:{*}"
	keyHead := s.prefix + "cred:{"
	ids := st.Pending
	for len(ids) < limit && !st.Done {
		if err := ctx.Err(); err != nil {
			return nil, "", fmt.Errorf("redisstore: %s: %w", op, err)
		}
		keys, next, err := s.scanNode(ctx, cc, st.Node, st.Cursor, match)
		if err != nil {
			return nil, "", wrapErr(ctx, op, err)
		}
		for _, k := range keys {
			enc, ok := strings.CutPrefix(k, keyHead)
			enc, ok2 := strings.CutSuffix(enc, "}")
			if !ok || !ok2 {
				continue
			}
			if id, err := base64.RawURLEncoding.DecodeString(enc); err == nil && len(id) > 0 {
				ids = append(ids, id)
			}
		}
		st.Cursor = next
		if next == 0 {
			st.Done = true
			if cluster {
				if i := slices.Index(masters, st.Node); i >= 0 && i+1 < len(masters) {
					st.Node, st.Done = masters[i+1], false
				}
			}
		}
	}
	pageIDs := ids[:min(limit, len(ids))]
	st.Pending = ids[len(pageIDs):]
	page, err := s.readCredentials(ctx, op, pageIDs)
	if err != nil {
		return nil, "", err
	}
	if st.Done && len(st.Pending) == 0 {
		return page, "", nil
	}
	js, err := json.Marshal(st)
	if err != nil {
		return nil, "", fmt.Errorf("redisstore: %s: %w", op, err)
	}
	return page, cursorPrefix + base64.RawURLEncoding.EncodeToString(js), nil
}

func decodeScanCursor(cursor string) (scanState, error) {
	var st scanState
	if cursor == "" {
		return st, nil
	}
	malformed := errors.New("malformed cursor")
	rest, ok := strings.CutPrefix(cursor, cursorPrefix)
	if !ok || len(cursor) > maxCursorLen {
		return st, malformed
	}
	js, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || json.Unmarshal(js, &st) != nil {
		return st, malformed
	}
	for _, id := range st.Pending {
		if len(id) == 0 {
			return st, malformed
		}
	}
	return st, nil
}

// masterAddrs returns the addresses of a Cluster's masters, sorted.
func masterAddrs(ctx context.Context, cc *redis.ClusterClient) ([]string, error) {
	var (
		mu    sync.Mutex
		addrs []string
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		addrs = append(addrs, n.Options().Addr)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, errors.New("the Cluster has no master")
	}
	slices.Sort(addrs)
	return addrs, nil
}

// errTopologyChanged: the master a Cluster scan was on is gone.
var errTopologyChanged = errors.New("the Cluster's masters changed during the scan: start it again")

// scanNode runs one SCAN step on the server (node "") or on the Cluster
// master at addr.
func (s *Store) scanNode(ctx context.Context, cc *redis.ClusterClient, addr string, cursor uint64, match string) ([]string, uint64, error) {
	if cc == nil {
		return s.c.Scan(ctx, cursor, match, scanStep).Result()
	}
	var (
		mu    sync.Mutex
		found bool
		keys  []string
		next  uint64
	)
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		if n.Options().Addr != addr {
			return nil
		}
		k, c, err := n.Scan(ctx, cursor, match, scanStep).Result()
		mu.Lock()
		defer mu.Unlock()
		found, keys, next = true, k, c
		return err
	})
	if err == nil && !found {
		err = errTopologyChanged
	}
	return keys, next, err
}

// readCredentials reads the records of ids in one pipelined round trip
// (per node), as GetCredential would return them: committed records
// directly, others (a write or a delete in progress or crashed) through
// GetCredential's resolution. Records gone meanwhile are left out.
func (s *Store) readCredentials(ctx context.Context, op string, ids [][]byte) ([]webauthnkit.Credential, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = hmgetCred(ctx, p, s.credKey(id))
		}
		return nil
	})
	if err != nil {
		return nil, wrapErr(ctx, op, err)
	}
	out := make([]webauthnkit.Credential, 0, len(ids))
	for i, id := range ids {
		r := credRecord(cmds[i].Val())
		switch r.str(crState) {
		case "":
			continue // deleted since the SCAN
		case stateCommitted:
			c, err := decodeCredential(id, r)
			if err != nil {
				return nil, fmt.Errorf("redisstore: %s: %w", op, err)
			}
			out = append(out, c)
		default:
			c, err := s.GetCredential(ctx, id)
			if errors.Is(err, webauthnkit.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// escapeGlob escapes the characters SCAN's MATCH pattern treats specially.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '\\', '^', '-':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// scriptSetAudit writes the four audit fields of a credential record in
// the protocol of scriptRename: a missing record is not created.
//
// KEYS: credential. ARGV: trust, checked at, quarantined at, reason,
// deletion tx found live ("" for none). Returns {"notfound"},
// {"pending", owner, tx}, {"deleting", owner, tx, deletion tx} or {"ok"}.
var scriptSetAudit = redis.NewScript(`
local cur = redis.call('HMGET', KEYS[1], 's', 'o', 't', 'dx')
if not cur[1] then return {'notfound'} end
if cur[1] == 'p' then return {'pending', cur[2] or '', cur[3] or ''} end
if cur[1] == 'd' and cur[4] ~= ARGV[5] then return {'deleting', cur[2] or '', cur[3] or '', cur[4] or ''} end
redis.call('HSET', KEYS[1], 'atr', ARGV[1], 'ack', ARGV[2], 'qa', ARGV[3], 'qr', ARGV[4])
return {'ok'}
`)

// SetCredentialAudit replaces the credential's four audit fields in one
// script on its record, or returns an error wrapping
// webauthnkit.ErrNotFound (webauthnkit.CredentialAuditor).
func (s *Store) SetCredentialAudit(ctx context.Context, id []byte, a webauthnkit.CredentialAudit) error {
	const op = "SetCredentialAudit"
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if err := checkAuditTexts(a.Trust, a.QuarantineReason); err != nil {
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
	if len(id) == 0 {
		return errorf(op, webauthnkit.ErrNotFound)
	}
	key := s.credKey(id)
	return s.modify(ctx, op, key, id, func(liveDx string) ([]any, error) {
		return scriptSetAudit.Run(ctx, s.c, []string{key},
			a.Trust, encTime(a.CheckedAt), encTime(a.QuarantinedAt), a.QuarantineReason, liveDx).Slice()
	})
}

func checkAuditTexts(trust, reason string) error {
	if len(trust) > webauthnkit.MaxAuditTextLength || len(reason) > webauthnkit.MaxAuditTextLength {
		return fmt.Errorf("audit text longer than %d bytes", webauthnkit.MaxAuditTextLength)
	}
	return nil
}

// checkAttestation bounds a new credential's attestation fields.
func checkAttestation(c *webauthnkit.Credential) error {
	if len(c.AttestationObject) > webauthnkit.MaxAttestationObjectSize {
		return fmt.Errorf("attestation object is %d bytes, want at most %d", len(c.AttestationObject), webauthnkit.MaxAttestationObjectSize)
	}
	return checkAuditTexts(c.AttestationTrust, c.QuarantineReason)
}
