package webauthnkit

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// UserVerification is the WebAuthn user verification requirement.
type UserVerification string

const (
	UserVerificationRequired    UserVerification = "required"
	UserVerificationPreferred   UserVerification = "preferred"
	UserVerificationDiscouraged UserVerification = "discouraged"
)

// ResidentKey is the WebAuthn resident (discoverable) key requirement.
type ResidentKey string

const (
	ResidentKeyRequired    ResidentKey = "required"
	ResidentKeyPreferred   ResidentKey = "preferred"
	ResidentKeyDiscouraged ResidentKey = "discouraged"
)

// CounterPolicy decides what a login does when the authenticator's signature
// counter did not increase (a possible cloned authenticator, WebAuthn §6.1.1).
// A counter of 0 in both the stored credential and the assertion is never a
// regression: synced passkeys always report 0.
type CounterPolicy int

const (
	// CounterReject fails the login with ErrCounterRegression and emits
	// EventCounterRegression. The stored counter is left unchanged.
	CounterReject CounterPolicy = iota
	// CounterFlag accepts the login, marks the credential CloneSuspected,
	// emits EventCounterRegression and sets Login.CloneSuspected, so the app
	// can ask for a second factor or warn the user.
	CounterFlag
)

// Config configures a RelyingParty. Only RPID, Origins, Credentials and
// Ceremonies are required; every other field has a safe default.
type Config struct {
	// RPID is the relying party ID: the registrable domain passkeys are
	// scoped to, e.g. "example.com" or "localhost". Required. Not an IP
	// address, no scheme, no port.
	RPID string

	// RPName is shown by some authenticators. Default: RPID.
	RPName string

	// Origins are the origins allowed to run ceremonies, e.g.
	// "https://example.com", "https://login.example.com:8443". Required (at
	// least one). A web origin must be https, except
	// http://localhost[:port] (and 127.0.0.1 / [::1] with RPID "localhost")
	// for development; its host must be RPID or a subdomain of it (origins
	// of other domains go in RelatedOrigins). Native app origins, compared
	// byte for byte, are accepted too, with or without a web origin:
	// "android:apk-key-hash:<base64url SHA-1 of the signing certificate>",
	// "android:apk-key-hash-sha256:...", "android:apk-key-id:...",
	// "ios:bundle-id:...", "ios:bundle-key:...", "chrome-extension://...",
	// "moz-extension://...", "ms-appx://..." (not "file://"). See
	// docs/origins.md.
	Origins []string

	// RelatedOrigins are web origins of other domains that may also run
	// ceremonies for RPID (WebAuthn related origins), e.g.
	// "https://example.co.uk" with RPID "example.com". Browsers accept one
	// only when https://<RPID>/.well-known/webauthn lists it: the HTTP
	// adapter's WellKnown serves exactly this list. Each must be https, with
	// a registrable domain (not an IP address, localhost or a public
	// suffix) outside RPID; together they may have at most 5 distinct
	// registrable-domain labels ("example" of example.co.uk and example.de
	// counts once), as many as browsers read. Passkeys of RPID can be used
	// on every origin listed: list only sites you control. Default: none.
	RelatedOrigins []string

	// ChallengeTTL is how long a ceremony (Begin* to Finish*) may take.
	// Default: 5 minutes. Between 10 seconds and 1 hour.
	ChallengeTTL time.Duration

	// BrowserTimeout is the timeout hint sent to the browser. Default:
	// ChallengeTTL. Must not exceed ChallengeTTL.
	BrowserTimeout time.Duration

	// UserVerification is asked for in every ceremony. Default:
	// UserVerificationPreferred. With UserVerificationRequired a response
	// without the UV flag fails with ErrUserVerificationRequired.
	UserVerification UserVerification

	// ResidentKey is asked for at registration. Default: ResidentKeyRequired
	// (passkeys, which make usernameless sign-in possible).
	ResidentKey ResidentKey

	// Attestation is the attestation policy (attestation.go,
	// docs/attestation.md). Default: the zero AttestationPolicy, Mode
	// AttestationOff: no attestation is requested (conveyance "none", no
	// privacy prompt) and none is evaluated.
	Attestation AttestationPolicy

	// CounterPolicy: default CounterReject.
	CounterPolicy CounterPolicy

	// LastUsedResolution is how precise Credential.LastUsedAt is for a
	// login that changes nothing else: a passkey without a signature
	// counter (synced passkeys report 0) whose flags and clone mark are
	// unchanged is written back only if its stored LastUsedAt is older
	// than this, so repeated sign-ins within the interval cost no store
	// write (see docs/operations.md, "Writes per login"). A login that moves
	// the counter or changes a flag always writes, as a compare-and-set.
	// Default: 1 minute; a negative value writes on every login.
	LastUsedResolution time.Duration

	// AuthenticatorNames, if set, names authenticator models by AAGUID
	// (e.g. from FIDO metadata) before the table embedded in the library;
	// see RelyingParty.AuthenticatorName. Default: Attestation.Metadata
	// when it implements AuthenticatorNamer (mds.Provider does), else nil
	// (the embedded table only).
	AuthenticatorNames AuthenticatorNamer

	// Algorithms are the COSE algorithms of credential keys, offered in
	// registration options (pubKeyCredParams, in this order of preference)
	// and accepted when a registration or login finishes. Default (nil):
	// DefaultAlgorithms() (AlgES256, AlgEdDSA, AlgRS256); an empty list,
	// an unknown value or a duplicate is an error. Opt-in: AlgES384,
	// AlgES512, AlgPS256/384/512, AlgRS384/512, AlgRS1 (legacy TPMs) and
	// AlgMLDSA44/65/87 (only on builds that can verify ML-DSA). Removing an
	// algorithm also refuses logins with passkeys that use it. Keys must
	// also be within the public key limits (see MaxRSAModulusBits).
	Algorithms []Algorithm

	// Logger receives diagnostic records (never challenges, signatures or
	// keys). Default: discard.
	Logger *slog.Logger

	// OnEvent, if set, is called synchronously after every ceremony outcome
	// and credential change. It must not block for long. Default: nil.
	OnEvent func(context.Context, Event)

	// Now is the clock. Default: time.Now. Tests may inject a fake clock.
	Now func() time.Time

	// NewChallenge makes the challenge of each ceremony. Default: 32 bytes
	// from crypto/rand. Only tests replaying recorded authenticator
	// responses (whose challenge is fixed) should set it; a challenge shorter
	// than 16 bytes is refused. Ceremony IDs and user handles always come
	// from crypto/rand.
	NewChallenge func() ([]byte, error)

	// Secret keys the fake allow lists returned for unknown users (so
	// that the same unknown name always gets the same answer) and the MAC
	// that authenticates ceremony records in the ChallengeStore. At least 32
	// bytes.
	//
	// Default: with stores that are both process-local (memstore), 32
	// random bytes made by New, which changes the fake lists on restart.
	// With any other store (sqlstore, redisstore: Features().ProcessLocal
	// false) it is required, since several processes may share the store
	// and must answer alike and verify each other's ceremony records: make
	// 32 random bytes once (e.g. `openssl rand -base64 32`, decoded), keep
	// them in the application's secret store, and give every instance the
	// same value.
	Secret []byte

	// Credentials stores users and credentials. Required.
	Credentials CredentialStore

	// Ceremonies stores in-flight ceremonies. Required.
	Ceremonies ChallengeStore
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string {
	return "webauthnkit: invalid Config." + e.Field + ": " + e.Reason
}

// New validates cfg, fills in defaults and returns a RelyingParty.
func New(cfg Config) (*RelyingParty, error) {
	bad := func(field, format string, args ...any) (*RelyingParty, error) {
		return nil, &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	if cfg.LastUsedResolution == 0 {
		cfg.LastUsedResolution = time.Minute
	}
	if cfg.AuthenticatorNames == nil {
		if n, ok := cfg.Attestation.Metadata.(AuthenticatorNamer); ok {
			cfg.AuthenticatorNames = n
		}
	}
	cfg.RPID = strings.TrimSpace(cfg.RPID)
	if cfg.RPID == "" {
		return bad("RPID", "required")
	}
	if strings.ContainsAny(cfg.RPID, ":/ ") || net.ParseIP(cfg.RPID) != nil {
		return bad("RPID", "%q must be a domain name (no scheme, port, path or IP address)", cfg.RPID)
	}
	if err := protocol.ValidateRPID(cfg.RPID); err != nil {
		return bad("RPID", "%q is not a valid domain: %v", cfg.RPID, err)
	}
	cfg.RPID = strings.ToLower(cfg.RPID)
	if cfg.RPName == "" {
		cfg.RPName = cfg.RPID
	}
	if len(cfg.Origins) == 0 {
		return bad("Origins", "at least one origin is required, e.g. https://%s", cfg.RPID)
	}
	canonical := make([]string, 0, len(cfg.Origins))
	for _, o := range cfg.Origins {
		norm, _, err := checkOrigin(o, cfg.RPID)
		if err != nil {
			return bad("Origins", "%v", err)
		}
		if !slices.Contains(canonical, norm) {
			canonical = append(canonical, norm)
		}
	}
	related, err := checkRelatedOrigins(cfg.RelatedOrigins, cfg.RPID)
	if err != nil {
		return bad("RelatedOrigins", "%v", err)
	}
	cfg.RelatedOrigins = related
	// Callers (the HTTP adapter's Origin check) compare against these, as
	// browsers serialise them: lower case, no trailing slash, no default
	// port. Related origins come last. All go to go-webauthn's RPOrigins,
	// native app origins included: it compares an origin that is not
	// http(s) byte for byte there, needs no web origin beside them, and
	// counts no related-origin labels (it would count the RP ID's own and,
	// without a public suffix list, miscount example.co.uk; ours are
	// counted in checkRelatedOrigins).
	cfg.Origins = append(canonical, related...)
	if cfg.ChallengeTTL == 0 {
		cfg.ChallengeTTL = 5 * time.Minute
	}
	if cfg.ChallengeTTL < 10*time.Second || cfg.ChallengeTTL > time.Hour {
		return bad("ChallengeTTL", "%v is outside 10s..1h", cfg.ChallengeTTL)
	}
	if cfg.BrowserTimeout == 0 {
		cfg.BrowserTimeout = cfg.ChallengeTTL
	}
	if cfg.BrowserTimeout < 0 || cfg.BrowserTimeout > cfg.ChallengeTTL {
		return bad("BrowserTimeout", "%v must be positive and at most ChallengeTTL (%v)", cfg.BrowserTimeout, cfg.ChallengeTTL)
	}
	switch cfg.UserVerification {
	case "":
		cfg.UserVerification = UserVerificationPreferred
	case UserVerificationRequired, UserVerificationPreferred, UserVerificationDiscouraged:
	default:
		return bad("UserVerification", "unknown value %q", cfg.UserVerification)
	}
	switch cfg.ResidentKey {
	case "":
		cfg.ResidentKey = ResidentKeyRequired
	case ResidentKeyRequired, ResidentKeyPreferred, ResidentKeyDiscouraged:
	default:
		return bad("ResidentKey", "unknown value %q", cfg.ResidentKey)
	}
	if err := checkAttestationPolicy(&cfg.Attestation); err != nil {
		return bad("Attestation", "%v", err)
	}
	switch cfg.CounterPolicy {
	case CounterReject, CounterFlag:
	default:
		return bad("CounterPolicy", "unknown value %d", cfg.CounterPolicy)
	}
	if cfg.Algorithms == nil {
		cfg.Algorithms = DefaultAlgorithms()
	} else {
		cfg.Algorithms = slices.Clone(cfg.Algorithms)
	}
	credParams, err := checkAlgorithms(cfg.Algorithms)
	if err != nil {
		return bad("Algorithms", "%v", err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.NewChallenge == nil {
		cfg.NewChallenge = func() ([]byte, error) { return randomBytes(32) }
	}
	if cfg.Credentials == nil {
		return bad("Credentials", "a CredentialStore is required (e.g. memstore.New())")
	}
	if cfg.Ceremonies == nil {
		return bad("Ceremonies", "a ChallengeStore is required (e.g. memstore.New())")
	}
	// FinishLogin goes by the declaration, not by type assertion (a wrapper
	// embedding a store would seem to offer a method it does not forward);
	// a declaration without the method is refused here, once.
	if _, ok := cfg.Credentials.(CredentialUserGetter); cfg.Credentials.Features().CredentialWithUser && !ok {
		return bad("Credentials", "%T declares Features().CredentialWithUser but does not implement CredentialUserGetter", cfg.Credentials)
	}
	switch {
	case cfg.Secret == nil && (!cfg.Credentials.Features().ProcessLocal || !cfg.Ceremonies.Features().ProcessLocal):
		return bad("Secret", "required with a store that several processes may share (Features().ProcessLocal false): "+
			"make 32 random bytes once (e.g. openssl rand -base64 32), keep them in the application's secret store "+
			"and give every instance the same value")
	case cfg.Secret == nil:
		cfg.Secret = make([]byte, 32)
		if _, err := io.ReadFull(rand.Reader, cfg.Secret); err != nil {
			return nil, fmt.Errorf("webauthnkit: reading random secret: %w", err)
		}
	case len(cfg.Secret) < 32:
		return bad("Secret", "must be at least 32 bytes, got %d", len(cfg.Secret))
	default:
		// Our own copy: the fake allow lists are computed from it on every
		// login by name, and a caller may wipe or reuse its buffer.
		cfg.Secret = slices.Clone(cfg.Secret)
	}

	residentRequired := cfg.ResidentKey == ResidentKeyRequired
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  cfg.RPID,
		RPDisplayName:         cfg.RPName,
		RPOrigins:             slices.Clone(cfg.Origins),
		AttestationPreference: protocol.ConveyancePreference(cfg.Attestation.Conveyance),
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			RequireResidentKey: &residentRequired,
			ResidentKey:        protocol.ResidentKeyRequirement(cfg.ResidentKey),
			UserVerification:   protocol.UserVerificationRequirement(cfg.UserVerification),
		},
		// Expiry is enforced by us (cfg.Now, so tests can move the clock) and
		// by the ChallengeStore's TTL; go-webauthn only gets the browser hint.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: cfg.BrowserTimeout, TimeoutUVD: cfg.BrowserTimeout},
			Registration: webauthn.TimeoutConfig{Timeout: cfg.BrowserTimeout, TimeoutUVD: cfg.BrowserTimeout},
		},
		// Browsers return some extension outputs (credProps, appid) unasked;
		// rejecting them fails real sign-ins for no security benefit.
		ExtensionsUnsolicitedOutputPolicy: protocol.UnsolicitedOutputPolicyIgnore,
	})
	if err != nil {
		return bad("Origins", "rejected by go-webauthn: %v", err)
	}
	rp := &RelyingParty{cfg: cfg, wa: wa, log: cfg.Logger, creds: cfg.Credentials, cers: cfg.Ceremonies, credParams: credParams}
	if rp.ceremonyKeys, err = newCeremonyKeys(cfg.Secret); err != nil {
		return nil, err
	}
	if rp.dummyKey, err = newDummyCredentialKey(); err != nil {
		return nil, err
	}
	return rp, nil
}

// checkOrigin validates one configured origin and returns its canonical form
// and whether it is an opaque (native app) origin.
func checkOrigin(o, rpID string) (string, bool, error) {
	if isNativeOrigin(o) {
		if err := checkNativeOrigin(o); err != nil {
			return "", false, err
		}
		return o, true, nil
	}
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", false, fmt.Errorf("%q is not an origin like https://%s", o, rpID)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", false, fmt.Errorf("%q must be an origin only (scheme, host, optional port), without path, query or credentials", o)
	}
	host := strings.ToLower(u.Hostname())
	loopback := host == "localhost" || host == "127.0.0.1" || host == "::1"
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback {
			return "", false, fmt.Errorf("%q must use https (http is allowed only for localhost)", o)
		}
	default:
		return "", false, fmt.Errorf("%q must use https", o)
	}
	ok := host == rpID || strings.HasSuffix(host, "."+rpID) || (rpID == "localhost" && loopback)
	if !ok {
		return "", false, fmt.Errorf("origin %q is not %s or a subdomain of it (list origins of other domains in RelatedOrigins)", o, rpID)
	}
	// A host or port a browser never sends would never match (see
	// checkRelatedOrigin).
	if !loopback && !isHostName(host) {
		return "", false, fmt.Errorf("origin %q: %q is not a host name (labels of letters, digits, '-' and '_'; no wildcards)", o, host)
	}
	if port := u.Port(); strings.HasSuffix(u.Host, ":") || port != "" && !isPort(port) {
		return "", false, fmt.Errorf("origin %q: the port must be a number from 1 to 65535", o)
	}
	hostPort := strings.ToLower(u.Host)
	if port := u.Port(); (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		hostPort = strings.TrimSuffix(hostPort, ":"+port)
	}
	return u.Scheme + "://" + hostPort, false, nil
}

// The accessors below give what an HTTP layer needs (the HTTP adapter's
// Origin check, cookie lifetimes, clock). There is deliberately no way to
// read the Config back: it holds the Secret and the stores.

// RPID returns the relying party ID (Config.RPID, in lower case).
func (rp *RelyingParty) RPID() string { return rp.cfg.RPID }

// Origins returns a copy of the allowed origins in canonical form, as
// browsers send them in the Origin header: lower case, no trailing slash,
// no default port. It holds Config.Origins, then Config.RelatedOrigins.
func (rp *RelyingParty) Origins() []string { return slices.Clone(rp.cfg.Origins) }

// ChallengeTTL returns how long a ceremony may take (Config.ChallengeTTL,
// 5 minutes by default).
func (rp *RelyingParty) ChallengeTTL() time.Duration { return rp.cfg.ChallengeTTL }

// Now returns the current time by the configured clock (Config.Now,
// time.Now by default), so layers above expire cookies and sessions by the
// same clock as ceremonies.
func (rp *RelyingParty) Now() time.Time { return rp.cfg.Now() }
