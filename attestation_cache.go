package webauthnkit

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
)

// maxChainCache bounds the verified-chain cache; it is emptied when full.
const maxChainCache = 4096

// chainCache remembers attestation chains verified to a model's roots: a
// batch of security keys (at least 100,000 by FIDO's rules) shares one
// attestation certificate, and an audit re-evaluates every stored
// credential, so the same chain is verified over and over. An entry is
// keyed by the format, the chain's and the roots' DER, and holds the span
// in which every certificate of the verified path is valid: a hit outside
// it verifies again. Failures are not cached.
type chainCache struct {
	mu sync.Mutex
	m  map[[32]byte]validity
}

type validity struct {
	from, until time.Time
	root        *x509.Certificate // the root the path ends at
}

func chainKey(format string, certs []*x509.Certificate, roots []*x509.Certificate) [32]byte {
	h := sha256.New()
	write := func(b []byte) {
		var n [4]byte
		n[0], n[1], n[2], n[3] = byte(len(b)>>24), byte(len(b)>>16), byte(len(b)>>8), byte(len(b))
		h.Write(n[:])
		h.Write(b)
	}
	write([]byte(format))
	for _, c := range certs {
		write(c.Raw)
	}
	write(nil) // separates the chain from the roots
	for _, r := range roots {
		write(r.Raw)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// verify is verifyAttestationChain, remembered; it returns the root the
// path ends at.
func (c *chainCache) verify(format string, certs []*x509.Certificate, entry *metadata.Entry, now time.Time) (*x509.Certificate, error) {
	if c == nil {
		path, err := verifyAttestationChain(format, certs, entry, now)
		if err != nil {
			return nil, err
		}
		return path[len(path)-1], nil
	}
	key := chainKey(format, certs, entry.MetadataStatement.AttestationRootCertificates)
	c.mu.Lock()
	v, ok := c.m[key]
	c.mu.Unlock()
	if ok && !now.Before(v.from) && !now.After(v.until) {
		return v.root, nil
	}
	path, err := verifyAttestationChain(format, certs, entry, now)
	if err != nil {
		return nil, err
	}
	v = validity{from: path[0].NotBefore, until: path[0].NotAfter, root: path[len(path)-1]}
	for _, p := range path[1:] {
		if p.NotBefore.After(v.from) {
			v.from = p.NotBefore
		}
		if p.NotAfter.Before(v.until) {
			v.until = p.NotAfter
		}
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxChainCache {
		c.m = make(map[[32]byte]validity)
	}
	c.m[key] = v
	c.mu.Unlock()
	return v.root, nil
}
