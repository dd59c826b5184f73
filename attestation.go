package webauthnkit

import (
	"bytes"
	"context"
	"crypto/sha1" //nolint:gosec // the FIDO key identifier of RFC 5280 method 1 is a SHA-1
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/metadata"
	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
	"github.com/google/uuid"
)

// AttestationMode says what a RelyingParty does with attestation, the
// authenticator's signed statement of its make and model (see
// docs/attestation.md for when to use which).
type AttestationMode string

const (
	// AttestationOff (the default) requests no attestation (conveyance
	// "none": no privacy prompt) and evaluates none. Right for most passkey
	// sites: synced passkeys send no attestation anyway.
	AttestationOff AttestationMode = "off"
	// AttestationMonitor requests attestation, verifies it against the
	// metadata and reports the outcome (an event, Registration.Attestation)
	// but never refuses a registration because of it.
	AttestationMonitor AttestationMode = "monitor"
	// AttestationEnforce requests attestation and refuses, with
	// ErrAttestationRefused, registrations from authenticators the policy
	// does not accept: a denied or unlisted AAGUID, a model with an
	// undesired status report (revoked, compromised), an attestation whose
	// certificate chain does not lead to the model's roots in the metadata
	// (unknown model included) and, with RequireAttestation, no attestation.
	AttestationEnforce AttestationMode = "enforce"
)

// AttestationConveyance is the WebAuthn attestation conveyance preference
// sent to the browser.
type AttestationConveyance string

const (
	ConveyanceNone       AttestationConveyance = "none"
	ConveyanceIndirect   AttestationConveyance = "indirect"
	ConveyanceDirect     AttestationConveyance = "direct"
	ConveyanceEnterprise AttestationConveyance = "enterprise"
)

// AttestationPolicy is Config.Attestation. The zero value is
// AttestationOff.
type AttestationPolicy struct {
	// Mode: AttestationOff (default), AttestationMonitor or
	// AttestationEnforce.
	Mode AttestationMode

	// Conveyance is sent to the browser. Default: ConveyanceNone with
	// AttestationOff, ConveyanceDirect otherwise. ConveyanceNone is refused
	// with monitor and enforce (there would be nothing to evaluate), and
	// only ConveyanceNone is accepted with AttestationOff.
	Conveyance AttestationConveyance

	// Metadata gives the authenticator models' trust anchors and status
	// reports, usually an *mds.Provider (package
	// github.com/webauthnkit/webauthnkit/mds). Required with
	// AttestationEnforce; optional with AttestationMonitor (without it
	// every attestation is reported untrusted). Default: nil.
	Metadata MetadataProvider

	// RequireAttestation (enforce only) also refuses registrations without
	// a verifiable attestation certificate chain: "none" attestation
	// (synced passkeys), self attestation, formats whose chain is not
	// evaluated. For deployments that accept only security keys. Default:
	// false (an authenticator that shows no attestation is accepted; one
	// that shows a bad one is refused).
	RequireAttestation bool

	// AllowAAGUIDs (enforce only), if not empty, lists the only
	// authenticator models accepted, as AAGUIDs in their usual form
	// ("cb69481e-8ff7-4039-93ec-0a2729a154a8", case-insensitive). Unless
	// RequireAttestation is set, the AAGUID of a credential without
	// attestation is what the client claims: a preference for honest
	// clients, not a security boundary. Default: empty (any model).
	AllowAAGUIDs []string

	// DenyAAGUIDs (monitor: reported; enforce: refused) lists refused
	// authenticator models. Default: empty.
	DenyAAGUIDs []string

	// UndesiredStatuses are the MDS status reports that make a model
	// "revoked" when one is in effect (by Config.Now). Default:
	// DefaultUndesiredStatuses(). RETIRED (no longer sold) is not in the
	// default: retired models are still safe to use.
	UndesiredStatuses []metadata.AuthenticatorStatus

	allow, deny map[uuid.UUID]bool
	chains      *chainCache
}

// DefaultUndesiredStatuses returns the status reports that make an
// authenticator model untrustworthy by default: REVOKED,
// ATTESTATION_KEY_COMPROMISE, USER_VERIFICATION_BYPASS,
// USER_KEY_REMOTE_COMPROMISE and USER_KEY_PHYSICAL_COMPROMISE.
func DefaultUndesiredStatuses() []metadata.AuthenticatorStatus {
	return []metadata.AuthenticatorStatus{
		metadata.Revoked, metadata.AttestationKeyCompromise, metadata.UserVerificationBypass,
		metadata.UserKeyRemoteCompromise, metadata.UserKeyPhysicalCompromise,
	}
}

// MetadataProvider gives the FIDO metadata of authenticator models. The mds
// package implements it over a verified MDS3 BLOB; a test may implement it
// over a map. Implementations must be safe for concurrent use.
type MetadataProvider interface {
	// MetadataEntry returns the entry of the model with this AAGUID or, if
	// aaguid is all zero (FIDO U2F keys), of the model one of whose
	// attestation certificate key identifiers (lower-case hex) is in
	// keyIDs. It returns (nil, nil) when the metadata has no such model,
	// and an error when no valid metadata is available.
	MetadataEntry(ctx context.Context, aaguid uuid.UUID, keyIDs []string) (*metadata.Entry, error)
}

// AttestationTrust is the verdict on an attestation.
type AttestationTrust string

const (
	// AttestationTrusted: the attestation certificate chain leads to a root
	// the metadata gives for the model, at the current time, and no
	// undesired status report is in effect.
	AttestationTrusted AttestationTrust = "trusted"
	// AttestationUntrusted: no attestation (none, self), a model unknown
	// to the metadata, a chain that does not verify, or no metadata.
	AttestationUntrusted AttestationTrust = "untrusted"
	// AttestationRevoked: the metadata has an undesired status report
	// (AttestationPolicy.UndesiredStatuses) in effect for the model, or for
	// the certificate or batch the attestation was made with.
	AttestationRevoked AttestationTrust = "revoked"
)

// Attestation events: one per registration evaluated (monitor and
// enforce), and per credential re-evaluated by an audit. Event.Attestation
// holds the result.
const (
	// EventAttestationTrusted: the attestation verified to the metadata.
	EventAttestationTrusted EventType = "attestation.trusted"
	// EventAttestationUntrusted: see AttestationUntrusted.
	EventAttestationUntrusted EventType = "attestation.untrusted"
	// EventAttestationRevoked: see AttestationRevoked.
	EventAttestationRevoked EventType = "attestation.revoked"
	// EventAttestationDenied: the AAGUID is in DenyAAGUIDs or, in enforce
	// mode, not in a non-empty AllowAAGUIDs (whatever the trust).
	EventAttestationDenied EventType = "attestation.denied"
)

// CodeAttestationRefused: enforce mode refused the authenticator.
const CodeAttestationRefused Code = "attestation_refused"

// ErrAttestationRefused is returned by FinishRegistration when
// AttestationEnforce refuses the authenticator. Its message is safe for
// users ("this security key or passkey provider is not accepted here"); the
// cause (an *AttestationRefusal) says why, for logs.
var ErrAttestationRefused = &Error{Code: CodeAttestationRefused, Message: "this authenticator is not accepted here"}

// AttestationRefusal is the cause wrapped by an ErrAttestationRefused.
type AttestationRefusal struct{ Result *AttestationResult }

func (e *AttestationRefusal) Error() string {
	return "attestation " + string(e.Result.Trust) + ": " + e.Result.Reason
}

// AttestationInput is what EvaluateAttestation needs of a credential: what
// a registration verified, or what a store kept of it.
type AttestationInput struct {
	// Format is the attestation statement format ("packed", "none", ...).
	// Optional when AttestationObject is set (it is read from there).
	Format string
	// AAGUID of the authenticator model (16 bytes). Optional when
	// AttestationObject is set; if both are set they must agree.
	AAGUID []byte
	// AttestationObject is the CBOR attestationObject of the registration
	// response. Optional: without it, only the AAGUID lists and the
	// model's status reports apply, and the verdict is at best untrusted.
	AttestationObject []byte
}

// AttestationResult is the outcome of evaluating an attestation.
type AttestationResult struct {
	Format string
	AAGUID uuid.UUID
	Trust  AttestationTrust
	// Reason says why, in a short log-safe sentence (no key material).
	Reason string
	// Attested is true when the attestation carried a certificate chain
	// (x5c): the AAGUID is then vouched for by the authenticator's maker,
	// if Trust is AttestationTrusted.
	Attested bool
	// Denied: the AAGUID lists refuse the model.
	Denied bool
	// Refused: AttestationEnforce refuses the registration (or would
	// refuse it, for an audit).
	Refused bool
	// Description is the model's name in the metadata ("" if unknown).
	Description string
	// StatusReports are the model's status reports in effect at
	// EvaluatedAt (those scoped to another certificate left out); for a
	// revoked model, those that made it so come first.
	StatusReports []metadata.StatusReport
	// MetadataErr is set when the metadata could not be read.
	MetadataErr error
	// EvaluatedAt is Config.Now at evaluation.
	EvaluatedAt time.Time
}

// eventType is the event reporting r.
func (r *AttestationResult) eventType() EventType {
	switch {
	case r.Denied:
		return EventAttestationDenied
	case r.Trust == AttestationTrusted:
		return EventAttestationTrusted
	case r.Trust == AttestationRevoked:
		return EventAttestationRevoked
	}
	return EventAttestationUntrusted
}

// checkAttestationPolicy validates and defaults Config.Attestation.
func checkAttestationPolicy(p *AttestationPolicy) error {
	switch p.Mode {
	case "":
		p.Mode = AttestationOff
	case AttestationOff, AttestationMonitor, AttestationEnforce:
	default:
		return fmt.Errorf("unknown Mode %q (off, monitor or enforce)", p.Mode)
	}
	off := p.Mode == AttestationOff
	switch p.Conveyance {
	case "":
		p.Conveyance = ConveyanceDirect
		if off {
			p.Conveyance = ConveyanceNone
		}
	case ConveyanceNone:
		if !off {
			return fmt.Errorf("conveyance none requests no attestation: nothing to %s (use Mode off)", p.Mode)
		}
	case ConveyanceIndirect, ConveyanceDirect, ConveyanceEnterprise:
		if off {
			return fmt.Errorf("conveyance %s with Mode off would ask users to share their authenticator's make and model for nothing", p.Conveyance)
		}
	default:
		return fmt.Errorf("unknown Conveyance %q", p.Conveyance)
	}
	if off && (p.Metadata != nil || p.RequireAttestation || len(p.AllowAAGUIDs) > 0 || len(p.DenyAAGUIDs) > 0) {
		return errors.New("a Metadata provider, RequireAttestation and the AAGUID lists need Mode monitor or enforce")
	}
	if p.Mode != AttestationEnforce && (p.RequireAttestation || len(p.AllowAAGUIDs) > 0) {
		return errors.New("the fields RequireAttestation and AllowAAGUIDs apply in Mode enforce only")
	}
	if p.Mode == AttestationEnforce && p.Metadata == nil {
		return errors.New("mode enforce needs Metadata (e.g. an mds.Provider): without trust anchors every attestation is untrusted")
	}
	var err error
	p.chains = &chainCache{}
	if p.allow, err = aaguidSet("AllowAAGUIDs", p.AllowAAGUIDs); err != nil {
		return err
	}
	if p.deny, err = aaguidSet("DenyAAGUIDs", p.DenyAAGUIDs); err != nil {
		return err
	}
	for id := range p.allow {
		if p.deny[id] {
			return fmt.Errorf("AAGUID %s is both allowed and denied", id)
		}
	}
	if p.UndesiredStatuses == nil {
		p.UndesiredStatuses = DefaultUndesiredStatuses()
	} else {
		p.UndesiredStatuses = slices.Clone(p.UndesiredStatuses)
	}
	p.AllowAAGUIDs, p.DenyAAGUIDs = slices.Clone(p.AllowAAGUIDs), slices.Clone(p.DenyAAGUIDs)
	return nil
}

func aaguidSet(field string, list []string) (map[uuid.UUID]bool, error) {
	if len(list) == 0 {
		return nil, nil
	}
	set := make(map[uuid.UUID]bool, len(list))
	for _, s := range list {
		id, err := uuid.Parse(strings.TrimSpace(s))
		if err != nil || len(strings.TrimSpace(s)) != 36 {
			return nil, fmt.Errorf("%s: %q is not an AAGUID like cb69481e-8ff7-4039-93ec-0a2729a154a8", field, s)
		}
		set[id] = true
	}
	return set, nil
}

// AttestationMode returns Config.Attestation.Mode.
func (rp *RelyingParty) AttestationMode() AttestationMode { return rp.cfg.Attestation.Mode }

// EvaluateAttestation applies Config.Attestation to a credential's
// attestation at Config.Now, without a ceremony: FinishRegistration calls
// it, and an audit of stored credentials can call it again when the
// metadata changes. The attestation signature itself is not verified here
// (it signs the registration's client data; FinishRegistration verified
// it): only the certificate chain against the metadata at the current
// time, the model's status reports and the AAGUID lists. It returns an
// error only for an input it cannot read (ErrInvalidRequest); an
// unavailable metadata provider gives an untrusted result with
// MetadataErr. With AttestationOff the result is untrusted ("attestation
// is off") and never refused.
func (rp *RelyingParty) EvaluateAttestation(ctx context.Context, in AttestationInput) (*AttestationResult, error) {
	return evaluateAttestation(ctx, &rp.cfg.Attestation, rp.cfg.Now(), in)
}

func evaluateAttestation(ctx context.Context, p *AttestationPolicy, now time.Time, in AttestationInput) (*AttestationResult, error) {
	res := &AttestationResult{Format: in.Format, Trust: AttestationUntrusted, EvaluatedAt: now}
	bad := func(msg string, err error) (*AttestationResult, error) {
		return nil, &Error{Code: CodeInvalidRequest, Message: "attestation: " + msg, Err: err}
	}
	if len(in.AAGUID) != 0 {
		id, err := uuid.FromBytes(in.AAGUID)
		if err != nil {
			return bad("the AAGUID is not 16 bytes", err)
		}
		res.AAGUID = id
	}
	var certs []*x509.Certificate
	if len(in.AttestationObject) != 0 {
		if len(in.AttestationObject) > MaxResponseSize {
			return bad("attestation object too large", nil)
		}
		var att protocol.AttestationObject
		if err := webauthncbor.Unmarshal(in.AttestationObject, &att); err != nil {
			return bad("the attestation object cannot be decoded", err)
		}
		if err := att.AuthData.Unmarshal(att.RawAuthData); err != nil {
			return bad("the attestation object's authenticator data cannot be decoded", err)
		}
		if in.Format != "" && in.Format != att.Format {
			return bad("the format does not match the attestation object's", nil)
		}
		res.Format = att.Format
		if len(att.AuthData.AttData.AAGUID) != 16 {
			return bad("the attestation object has no attested credential data", nil)
		}
		id, _ := uuid.FromBytes(att.AuthData.AttData.AAGUID)
		if len(in.AAGUID) != 0 && id != res.AAGUID {
			return bad("the AAGUID does not match the attestation object's", nil)
		}
		res.AAGUID = id
		// The same bounds as at registration: a stored object is input too.
		if err := checkAttestationKeys(&att); err != nil {
			return bad("attestation certificates not allowed", err)
		}
		if raw, ok := att.AttStatement["x5c"].([]any); ok && att.Format != string(protocol.AttestationFormatCompound) {
			for _, c := range raw {
				der, _ := c.([]byte)
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					return bad("an attestation certificate cannot be parsed", err)
				}
				certs = append(certs, cert)
			}
		}
	}
	res.Attested = len(certs) > 0
	// The fido-u2f signature covers the RP ID hash, the client data, the
	// credential ID and key, not the AAGUID (WebAuthn §8.6; a browser
	// writes zeros there): an AAGUID beside it is anyone's claim. The
	// model is then found by the certificate's key identifiers only, and
	// the attestation is never trusted for the claimed model.
	unsignedAAGUID := res.Format == string(protocol.AttestationFormatFIDOUniversalSecondFactor) && res.AAGUID != uuid.Nil

	if p.deny[res.AAGUID] {
		res.Denied = true
	}
	if p.Mode == AttestationEnforce && len(p.allow) > 0 && !p.allow[res.AAGUID] {
		res.Denied = true
	}
	if p.Mode == AttestationOff {
		res.Reason = "attestation is off"
		return res, nil
	}

	var entry *metadata.Entry
	if p.Metadata != nil {
		var keyIDs []string
		lookup := res.AAGUID
		if unsignedAAGUID {
			lookup = uuid.Nil
		}
		if lookup == uuid.Nil && len(certs) > 0 {
			keyIDs = keyIdentifiers(certs[0])
		}
		var err error
		entry, err = p.Metadata.MetadataEntry(ctx, lookup, keyIDs)
		if err != nil {
			res.MetadataErr = err
		}
		if entry != nil && lookup != uuid.Nil && entry.AaGUID != uuid.Nil && entry.AaGUID != lookup {
			entry = nil // a provider's mistake: another model's entry
		}
	}
	// The chain is verified before the status reports are read: a report
	// may name the root the chain leads to, which the authenticator does
	// not send.
	var chainRoot *x509.Certificate
	var chainErr error
	chainChecked := entry != nil && res.Attested && !unsignedAAGUID &&
		len(entry.MetadataStatement.AttestationRootCertificates) != 0 && !certAAGUIDMismatch(certs[0], res.AAGUID)
	if chainChecked {
		chainRoot, chainErr = p.chains.verify(res.Format, certs, entry, now)
	}
	if entry != nil {
		res.Description = entry.MetadataStatement.Description
		scope := certs
		if chainChecked && chainErr == nil {
			scope = append(slices.Clone(certs), chainRoot)
		}
		res.StatusReports = reportsInScope(metadata.EffectiveStatusReports(entry.StatusReports, now), scope)
		var bad []metadata.StatusReport
		for _, r := range res.StatusReports {
			if slices.Contains(p.UndesiredStatuses, r.Status) {
				bad = append(bad, r)
			}
		}
		if len(bad) > 0 {
			res.Trust = AttestationRevoked
			names := make([]string, 0, len(bad))
			for _, r := range bad {
				if !slices.Contains(names, string(r.Status)) {
					names = append(names, string(r.Status))
				}
			}
			res.Reason = "status reports in effect: " + strings.Join(names, ", ")
			// Those that made the verdict first.
			rest := slices.DeleteFunc(slices.Clone(res.StatusReports), func(r metadata.StatusReport) bool {
				return slices.Contains(p.UndesiredStatuses, r.Status)
			})
			res.StatusReports = append(bad, rest...)
		}
	}
	if res.Trust != AttestationRevoked {
		switch {
		case !res.Attested:
			res.Reason = "no attestation certificate (format " + res.Format + ")"
			if len(in.AttestationObject) == 0 {
				res.Reason = "no attestation object"
			}
		case p.Metadata == nil:
			res.Reason = "no metadata configured"
		case unsignedAAGUID:
			res.Reason = "fido-u2f attestation with a non-zero AAGUID, which its signature does not cover"
		case res.MetadataErr != nil:
			res.Reason = "metadata unavailable"
		case entry == nil:
			res.Reason = "authenticator model not in the metadata"
		case len(entry.MetadataStatement.AttestationRootCertificates) == 0:
			res.Reason = "the metadata gives no attestation root for this model"
		case certAAGUIDMismatch(certs[0], res.AAGUID):
			// WebAuthn §8.2.1: the certificate names the model it attests
			// (go-webauthn checks it at registration; an audit reads a
			// stored object).
			res.Reason = "the attestation certificate names another AAGUID"
		default:
			if err := chainErr; err != nil {
				res.Reason = "the attestation certificate chain does not verify to the model's roots: " + chainErrText(err, now)
			} else {
				res.Trust = AttestationTrusted
				res.Reason = "attestation verified to the metadata"
			}
		}
	}
	if p.Mode == AttestationEnforce {
		switch {
		case res.Denied, res.Trust == AttestationRevoked:
			res.Refused = true
		case res.Trust == AttestationUntrusted && (res.Attested || p.RequireAttestation):
			res.Refused = true
		}
	}
	if res.Denied {
		res.Reason = "AAGUID not allowed by the policy; " + res.Reason
	}
	return res, nil
}

var errDuplicateSubject = errors.New("two certificates of x5c after the first have the same subject")

// chainErrText describes a chain verification failure without the text of
// Go's x509 errors, which quote names from the certificates tried (chosen
// by the authenticator, unbounded): Reason goes to events, logs and
// Error().
func chainErrText(err error, now time.Time) string {
	var unknown x509.UnknownAuthorityError
	var invalid x509.CertificateInvalidError
	var critical x509.UnhandledCriticalExtension
	switch {
	case errors.Is(err, errDuplicateSubject), errors.Is(err, errNoPathToRoot):
		return err.Error()
	case errors.As(err, &unknown):
		return "certificate signed by unknown authority"
	case errors.As(err, &critical):
		return "unhandled critical extension"
	case errors.As(err, &invalid):
		switch invalid.Reason {
		case x509.Expired:
			return "a certificate is expired or not yet valid at " + now.UTC().Format(time.RFC3339)
		case x509.NotAuthorizedToSign:
			return "a certificate that is not a CA signed another"
		case x509.TooManyIntermediates:
			return "path length constraint exceeded"
		case x509.IncompatibleUsage:
			return "incompatible key usage"
		case x509.CANotAuthorizedForThisName, x509.CANotAuthorizedForExtKeyUsage:
			return "a CA is not authorized for this certificate"
		}
		return fmt.Sprintf("invalid certificate (x509 reason %d)", invalid.Reason)
	}
	return "certificate path not verified"
}

// oidFIDOAAGUID is id-fido-gen-ce-aaguid: the AAGUID an attestation
// certificate is for.
var oidFIDOAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// certAAGUIDMismatch reports whether cert carries an AAGUID extension
// other than aaguid (or an unreadable one).
func certAAGUIDMismatch(cert *x509.Certificate, aaguid uuid.UUID) bool {
	for _, ext := range cert.Extensions {
		if !ext.Id.Equal(oidFIDOAAGUID) {
			continue
		}
		var v []byte
		if rest, err := asn1.Unmarshal(ext.Value, &v); err != nil || len(rest) != 0 || len(v) != 16 {
			return true
		}
		return uuid.UUID(v) != aaguid
	}
	return false
}

// oidSubjectAltName is the SAN extension a TPM AIK certificate marks
// critical, with TPM attributes Go's x509 does not handle.
var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// verifyAttestationChain verifies certs[0] (the attestation certificate)
// with certs[1:] as intermediates to one of the model's roots, at now, and
// returns the path found (attestation certificate first, root last).
func verifyAttestationChain(format string, certs []*x509.Certificate, entry *metadata.Entry, now time.Time) ([]*x509.Certificate, error) {
	// Intermediates that share a subject let Go's path builder try each at
	// every level (up to 100 signature checks, ~90 ms with P-521 keys) for
	// one unauthenticated registration; a real chain has none.
	for i := 1; i < len(certs); i++ {
		for j := 1; j < i; j++ {
			if bytes.Equal(certs[i].RawSubject, certs[j].RawSubject) {
				return nil, errDuplicateSubject
			}
		}
	}
	if err := precheckAttestationPath(certs, entry.MetadataStatement.AttestationRootCertificates); err != nil {
		return nil, err
	}
	leaf := certs[0]
	if format == string(protocol.AttestationFormatTPM) && slices.ContainsFunc(leaf.UnhandledCriticalExtensions, oidSubjectAltName.Equal) {
		c := *leaf
		c.UnhandledCriticalExtensions = slices.DeleteFunc(slices.Clone(leaf.UnhandledCriticalExtensions), oidSubjectAltName.Equal)
		leaf = &c
	}
	opts := entry.MetadataStatement.Verifier(certs[1:])
	opts.CurrentTime = now
	chains, err := leaf.Verify(opts)
	if err != nil {
		return nil, err
	}
	return chains[0], nil
}

var errNoPathToRoot = errors.New("no certificate path by name and signature from the attestation certificate to the model's roots")

// precheckAttestationPath bounds the work an unauthenticated registration
// can cause (x509.Verify checks signatures bottom-up, with keys the
// attacker chose: up to eight P-521 certificates, ~3 ms each here). x5c
// has one certificate per subject (errDuplicateSubject), so the names
// from the attestation certificate up form a single chain; a path is a
// prefix of it topped by a model root whose subject is the last one's
// issuer. Each such path is checked top-down, from the root's signature,
// so that a forged certificate fails at the first check made with a key
// the attacker does not hold. x509.Verify then checks the path (validity,
// constraints) as before. An attestation certificate that is itself a
// root skips this.
func precheckAttestationPath(certs, roots []*x509.Certificate) error {
	if slices.ContainsFunc(roots, certs[0].Equal) {
		return nil
	}
	bySubject := make(map[string]*x509.Certificate, len(certs)-1)
	for _, c := range certs[1:] {
		bySubject[string(c.RawSubject)] = c
	}
	chain := []*x509.Certificate{certs[0]}
	for {
		next := bySubject[string(chain[len(chain)-1].RawIssuer)]
		if next == nil || slices.Contains(chain, next) {
			break
		}
		chain = append(chain, next)
	}
	signs := func(parent, child *x509.Certificate) bool {
		return parent.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature) == nil
	}
	for k, top := range chain {
		for _, r := range roots {
			if !bytes.Equal(r.RawSubject, top.RawIssuer) || !signs(r, top) {
				continue
			}
			ok := true
			for i := k - 1; i >= 0 && ok; i-- {
				ok = signs(chain[i+1], chain[i])
			}
			if ok {
				return nil
			}
			break
		}
	}
	return errNoPathToRoot
}

// keyIdentifiers returns the FIDO attestation certificate key identifiers
// of cert: its Subject Key Identifier, and the SHA-1 of its public key.
func keyIdentifiers(cert *x509.Certificate) []string {
	var out []string
	if len(cert.SubjectKeyId) != 0 {
		out = append(out, hex.EncodeToString(cert.SubjectKeyId))
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err == nil {
		sum := sha1.Sum(spki.PublicKey.Bytes) //nolint:gosec
		if id := hex.EncodeToString(sum[:]); !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// reportsInScope drops the status reports about a certificate or batch the
// attestation was not made with.
func reportsInScope(reports []metadata.StatusReport, certs []*x509.Certificate) []metadata.StatusReport {
	var out []metadata.StatusReport
	for _, r := range reports {
		if r.Certificate == nil && r.BatchCertificate == nil ||
			r.Certificate != nil && slices.ContainsFunc(certs, r.Certificate.Equal) ||
			r.BatchCertificate != nil && slices.ContainsFunc(certs, r.BatchCertificate.Equal) {
			out = append(out, r)
		}
	}
	return out
}

// applyAttestationPolicy evaluates a verified registration's attestation,
// reports it, and refuses it if enforce says so.
func (rp *RelyingParty) applyAttestationPolicy(ctx context.Context, st *ceremonyState, credID []byte, format string, aaguid, attObj []byte) (*AttestationResult, error) {
	if rp.cfg.Attestation.Mode == AttestationOff {
		return nil, nil
	}
	res, err := rp.EvaluateAttestation(ctx, AttestationInput{Format: format, AAGUID: aaguid, AttestationObject: attObj})
	if err != nil {
		return nil, &Error{Code: CodeInvalidResponse, Message: "the authenticator response could not be verified", Err: err}
	}
	if res.MetadataErr != nil {
		rp.log.WarnContext(ctx, "webauthnkit: attestation metadata unavailable", "err", res.MetadataErr)
	}
	rp.emit(ctx, Event{Type: res.eventType(), UserHandle: st.UserHandle, Username: st.NewName, CredentialID: credID, Attestation: res})
	if res.Refused {
		return res, &Error{Code: CodeAttestationRefused, Message: ErrAttestationRefused.Message, Err: &AttestationRefusal{Result: res}}
	}
	return res, nil
}
