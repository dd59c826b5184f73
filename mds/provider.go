// Package mds gives webauthnkit the FIDO Metadata Service (MDS3): a
// Provider holds a verified metadata BLOB and implements
// webauthnkit.MetadataProvider, for Config.Attestation.Metadata.
//
// A BLOB is loaded from a file, an io.Reader or a URL; its signature chain
// is verified against a root (the FIDO Alliance's by default); a BLOB whose
// serial number "no" does not increase is refused; after its nextUpdate
// the Provider fetches a newer one in the background and keeps the last
// good one when that fails. Nothing is fetched unless Options.URL is set:
// air-gapped deployments download the BLOB with cmd/webauthnkit-mds and
// give the file. See docs/attestation.md.
package mds

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/google/uuid"
)

// DefaultURL is where the FIDO Alliance publishes the MDS3 BLOB.
const DefaultURL = "https://mds3.fidoalliance.org/"

// Options configure a Provider.
type Options struct {
	// Root is the trust anchor of the BLOB's signing chain. Default:
	// FIDORoot(). Tests give their own (mds/mdstest).
	Root *x509.Certificate

	// SignerName is the DNS name the BLOB signing certificate must be for.
	// Default: FIDOSignerName with the FIDO root (a public web PKI root,
	// whose other TLS certificates must not sign BLOBs); with another
	// Root, any certificate under it.
	SignerName string

	// File, if set, is read by New (the BLOB must verify) and again when
	// a refresh is due and no URL is set (drop a newer BLOB there and the
	// Provider picks it up). With URL also set, each BLOB fetched and
	// verified is written there (atomically), so the next start needs no
	// network. Default: "".
	File string

	// URL, if set, is fetched by New when File is unset or unreadable,
	// and after each nextUpdate (DefaultURL is the FIDO Alliance's).
	// Default: "": nothing is ever fetched.
	URL string

	// HTTPClient fetches URL. Default: a client with a 60 s timeout.
	HTTPClient *http.Client

	// MaxSize bounds a BLOB in bytes. Default: DefaultMaxSize (32 MiB).
	MaxSize int64

	// Grace is how long past its nextUpdate a BLOB is still loaded (a
	// late publication, an air-gapped site's monthly copy). A BLOB already
	// held is kept whatever its age when no newer one can be had (Status
	// says Stale). Default: 7 days; negative: no grace.
	Grace time.Duration

	// RetryInterval is how often the background refresh looks at the
	// clock: it fetches once nextUpdate has passed, and again after this
	// long while fetching fails. Default: 1 hour.
	RetryInterval time.Duration

	// Now is the clock for certificate validity, nextUpdate and Status.
	// Default: time.Now. Give the RelyingParty's Config.Now. The
	// background refresh reads it every RetryInterval (a real timer).
	Now func() time.Time

	// Logger receives loads and refresh failures. Default: discard.
	Logger *slog.Logger
}

// Status describes the BLOB a Provider holds.
type Status struct {
	Number     int       // serial number "no" (0: none loaded)
	NextUpdate time.Time // the BLOB's nextUpdate
	LoadedAt   time.Time // when it was loaded (Options.Now)
	Entries    int       // models it describes
	Unparsed   int       // entries go-webauthn could not parse (unknown models)
	Stale      bool      // past NextUpdate + Grace: refreshes are failing
	LastError  error     // the last failed load or refresh (nil after a success)
}

// Provider holds the last good BLOB. It is safe for concurrent use.
type Provider struct {
	opts Options
	log  *slog.Logger

	mu     sync.RWMutex
	cur    *BLOB
	status Status

	refreshMu sync.Mutex // one load at a time: serial numbers compare in order
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// New returns a Provider with a verified BLOB: from opts.File if set and
// readable, else from opts.URL. With neither, use NewFromReader. If a URL
// or File is set, a background goroutine refreshes the BLOB after each
// nextUpdate until Close.
func New(ctx context.Context, opts Options) (*Provider, error) {
	p := newProvider(opts)
	if p.opts.File == "" && p.opts.URL == "" {
		return nil, errors.New("mds: set Options.File or Options.URL (or use NewFromReader)")
	}
	var err error
	if p.opts.File != "" {
		err = p.LoadFile(p.opts.File)
		if err != nil && p.opts.URL == "" {
			return nil, err
		}
		if err != nil {
			p.log.WarnContext(ctx, "mds: cached BLOB file not usable, fetching", "file", p.opts.File, "err", err)
		}
	}
	if p.opts.File == "" || err != nil {
		if err = p.Refresh(ctx); err != nil {
			return nil, err
		}
	}
	p.start()
	return p, nil
}

// NewFromReader returns a Provider with the BLOB read from r (e.g. an
// embedded file). It never refreshes by itself unless opts.URL or
// opts.File is set; Load can install a newer BLOB.
func NewFromReader(r io.Reader, opts Options) (*Provider, error) {
	p := newProvider(opts)
	if err := p.Load(r); err != nil {
		return nil, err
	}
	if p.opts.File != "" || p.opts.URL != "" {
		p.start()
	}
	return p, nil
}

func newProvider(opts Options) *Provider {
	if opts.Root == nil {
		opts.Root = FIDORoot()
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if opts.MaxSize <= 0 {
		opts.MaxSize = DefaultMaxSize
	}
	if opts.Grace == 0 {
		opts.Grace = 7 * 24 * time.Hour
	} else if opts.Grace < 0 {
		opts.Grace = 0
	}
	if opts.RetryInterval <= 0 {
		opts.RetryInterval = time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Provider{opts: opts, log: opts.Logger}
}

// MetadataEntry implements webauthnkit.MetadataProvider: the entry of the
// model with this AAGUID (or, for the zero AAGUID, one of these key
// identifiers) in the last good BLOB, or nil.
func (p *Provider) MetadataEntry(_ context.Context, aaguid uuid.UUID, keyIDs []string) (*metadata.Entry, error) {
	p.mu.RLock()
	b := p.cur
	p.mu.RUnlock()
	if b == nil {
		return nil, metadata.ErrNotInitialized
	}
	return b.Entry(aaguid, keyIDs), nil
}

// Status returns what the Provider holds.
func (p *Provider) Status() Status {
	p.mu.RLock()
	defer p.mu.RUnlock()
	s := p.status
	s.Stale = p.cur != nil && p.opts.Now().After(p.cur.NextUpdate.Add(p.opts.Grace))
	return s
}

// BLOB returns the BLOB held (nil before the first load).
func (p *Provider) BLOB() *BLOB {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.cur
}

// Load reads a BLOB from r (at most MaxSize bytes), verifies it and
// installs it if its serial number is above the one held. On any error the
// BLOB held stays.
func (p *Provider) Load(r io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(r, p.opts.MaxSize+1))
	if err != nil {
		return p.failed(fmt.Errorf("mds: reading BLOB: %w", err))
	}
	_, err = p.install(data)
	return err
}

// LoadFile is Load from a file.
func (p *Provider) LoadFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return p.failed(fmt.Errorf("mds: %w", err))
	}
	defer f.Close()
	return p.Load(f)
}

// Refresh fetches Options.URL now (or, without one, re-reads
// Options.File) and installs the BLOB if it is newer. ErrNotNewer means
// the source still serves the BLOB held.
func (p *Provider) Refresh(ctx context.Context) error {
	if p.opts.URL == "" {
		if p.opts.File == "" {
			return errors.New("mds: no URL or File to refresh from")
		}
		return p.LoadFile(p.opts.File)
	}
	data, err := Fetch(ctx, p.opts.HTTPClient, p.opts.URL, p.opts.MaxSize)
	if err != nil {
		return p.failed(err)
	}
	b, err := p.install(data)
	if err != nil {
		return err
	}
	if p.opts.File != "" {
		if err := writeFileAtomic(p.opts.File, b.Raw); err != nil {
			p.log.WarnContext(ctx, "mds: could not save the BLOB", "file", p.opts.File, "err", err)
		}
	}
	return nil
}

// Fetch downloads a BLOB from url with client (nil: a 60 s timeout),
// reading at most maxSize bytes (<= 0: DefaultMaxSize). It does not verify
// it.
func Fetch(ctx context.Context, client *http.Client, url string, maxSize int64) ([]byte, error) {
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("mds: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mds: fetching BLOB: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mds: fetching BLOB: %s answered %s", url, resp.Status)
	}
	if resp.ContentLength > maxSize {
		return nil, fmt.Errorf("%w: %d bytes announced", ErrTooLarge, resp.ContentLength)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("mds: fetching BLOB: %w", err)
	}
	if int64(len(data)) > maxSize {
		return nil, fmt.Errorf("%w: above %d bytes", ErrTooLarge, maxSize)
	}
	return data, nil
}

// install verifies data and makes it the current BLOB.
func (p *Provider) install(data []byte) (*BLOB, error) {
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	if int64(len(data)) > p.opts.MaxSize {
		return nil, p.failed(fmt.Errorf("%w: above %d bytes", ErrTooLarge, p.opts.MaxSize))
	}
	now := p.opts.Now()
	b, err := VerifySigner(bytes.Clone(data), p.opts.Root, p.opts.SignerName, now)
	if err != nil {
		return nil, p.failed(err)
	}
	p.mu.RLock()
	cur := p.cur
	p.mu.RUnlock()
	if cur != nil && b.Number <= cur.Number {
		err := fmt.Errorf("%w: got %d, holding %d", ErrNotNewer, b.Number, cur.Number)
		if b.Number < cur.Number {
			return nil, p.failed(err)
		}
		return nil, err // the same BLOB again: not a failure
	}
	if now.After(b.NextUpdate.Add(p.opts.Grace)) {
		return nil, p.failed(fmt.Errorf("%w: nextUpdate %s, grace %v", ErrExpired, b.NextUpdate.Format(time.DateOnly), p.opts.Grace))
	}
	p.mu.Lock()
	p.cur = b
	p.status = Status{Number: b.Number, NextUpdate: b.NextUpdate, LoadedAt: now,
		Entries: len(b.Metadata.Parsed.Entries), Unparsed: len(b.Metadata.Unparsed)}
	p.mu.Unlock()
	p.log.Info("mds: BLOB loaded", "no", b.Number, "nextUpdate", b.NextUpdate.Format(time.DateOnly),
		"entries", len(b.Metadata.Parsed.Entries), "unparsed", len(b.Metadata.Unparsed))
	return b, nil
}

func (p *Provider) failed(err error) error {
	p.mu.Lock()
	p.status.LastError = err
	p.mu.Unlock()
	p.log.Warn("mds: BLOB not loaded; keeping the one held", "err", err)
	return err
}

// nextRefresh is how long to wait before the next refresh attempt.
// refreshDue reports whether the BLOB held is past its nextUpdate by the
// Provider's clock (or there is none).
func (p *Provider) refreshDue() bool {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.cur == nil || !p.opts.Now().Before(p.cur.NextUpdate)
}

func (p *Provider) start() {
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go p.loop()
}

func (p *Provider) loop() {
	defer close(p.done)
	for {
		// Wake every RetryInterval and look at the Provider's clock, rather
		// than sleep until nextUpdate on a timer set once: a clock that
		// jumps (an injected one, a VM resumed) is then seen within an
		// interval.
		t := time.NewTimer(p.opts.RetryInterval)
		select {
		case <-p.stop:
			t.Stop()
			return
		case <-t.C:
		}
		if !p.refreshDue() {
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			select {
			case <-p.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		_ = p.Refresh(ctx) // logged; the BLOB held stays
		cancel()
	}
}

// Close stops the background refresh (if any) and waits for it.
func (p *Provider) Close() error {
	p.closeOnce.Do(func() {
		if p.stop != nil {
			close(p.stop)
			<-p.done
		}
	})
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".mds-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// AuthenticatorName implements webauthnkit.AuthenticatorNamer: the
// description of the model with this AAGUID in the last good BLOB ("YubiKey
// 5 Series with NFC"), or "" (the library then uses its embedded table).
// New uses it when Config.Attestation.Metadata is a Provider and
// Config.AuthenticatorNames is not set.
func (p *Provider) AuthenticatorName(aaguid []byte) string {
	id, err := uuid.FromBytes(aaguid)
	if err != nil || id == uuid.Nil {
		return ""
	}
	p.mu.RLock()
	b := p.cur
	p.mu.RUnlock()
	if b == nil {
		return ""
	}
	if e := b.Entry(id, nil); e != nil {
		return e.MetadataStatement.Description
	}
	return ""
}
