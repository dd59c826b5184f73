package webauthntest

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// Errors returned by Register and Login when a browser would reject the call
// with the DOMException of the same name. Test them with errors.Is.
var (
	// ErrInvalidState: the device holds a credential in excludeCredentials.
	ErrInvalidState = errors.New("InvalidStateError")
	// ErrNotAllowed: no usable credential, or the device cannot satisfy the
	// options (user verification, resident key, attachment).
	ErrNotAllowed = errors.New("NotAllowedError")
	// ErrNotSupported: pubKeyCredParams does not allow the device's algorithm.
	ErrNotSupported = errors.New("NotSupportedError")
)

// Authenticator is a virtual WebAuthn authenticator together with the browser
// side of the ceremonies: it turns the options JSON of a relying party into
// the JSON of credential.toJSON(). It is safe for concurrent use.
type Authenticator struct {
	cfg config

	mu    sync.Mutex
	creds []*credential // creation order
	byID  map[string]*credential
}

type credential struct {
	id          []byte
	rpID        string
	userHandle  []byte // nil unless resident
	userName    string
	displayName string
	resident    bool
	alg         Alg
	key         crypto.Signer // immutable, shared with clones
	signCount   uint32
}

// CredentialInfo describes a credential held by an Authenticator.
type CredentialInfo struct {
	ID           []byte
	RPID         string
	UserHandle   []byte // nil for a non-discoverable credential
	UserName     string // user.name at registration
	DisplayName  string // user.displayName at registration
	Discoverable bool
	Algorithm    Alg
	PublicKey    crypto.PublicKey
	// SignCount is the value of the credential's signature counter: the
	// value reported by the last registration or assertion, or set by
	// SetSignCount.
	SignCount uint32
}

// New returns an Authenticator without credentials: by default a platform
// authenticator with discoverable ES256 credentials, user verification,
// "none" attestation and a counter that starts at 0 and grows by 1.
func New(opts ...Option) *Authenticator {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return &Authenticator{cfg: cfg, byID: map[string]*credential{}}
}

// Clone returns an independent copy of the device, with the same keys,
// counters and configuration. Use it for cloned-authenticator tests: advance
// the counter of one copy, then log in with the other.
//
// Options passed to Clone change the copy's configuration, e.g.
// WithBackup(true, true) for a credential that has since been synced, or
// WithOrigin for another origin. Existing credentials keep their algorithm.
func (a *Authenticator) Clone(opts ...Option) *Authenticator {
	a.mu.Lock()
	defer a.mu.Unlock()
	cfg := a.cfg.clone()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	b := &Authenticator{cfg: cfg, byID: make(map[string]*credential, len(a.creds))}
	for _, c := range a.creds {
		d := *c
		b.creds = append(b.creds, &d)
		b.byID[string(d.id)] = &d
	}
	return b
}

// Credentials returns the credentials on the device in creation order.
func (a *Authenticator) Credentials() []CredentialInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]CredentialInfo, 0, len(a.creds))
	for _, c := range a.creds {
		out = append(out, CredentialInfo{
			ID:           slices.Clone(c.id),
			RPID:         c.rpID,
			UserHandle:   slices.Clone(c.userHandle),
			UserName:     c.userName,
			DisplayName:  c.displayName,
			Discoverable: c.resident,
			Algorithm:    c.alg,
			PublicKey:    c.key.Public(),
			SignCount:    c.signCount,
		})
	}
	return out
}

// SetSignCount sets the signature counter of a credential to n, as if its
// last ceremony had reported n: the next assertion reports n plus the
// counter step. It returns false if the device does not hold the credential.
func (a *Authenticator) SetSignCount(credentialID []byte, n uint32) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.byID[string(credentialID)]
	if ok {
		c.signCount = n
	}
	return ok
}

// RemoveCredential deletes a credential from the device, as a user deleting
// a passkey would. It returns false if the device does not hold it.
func (a *Authenticator) RemoveCredential(credentialID []byte) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.byID[string(credentialID)]
	if ok {
		a.remove(c)
	}
	return ok
}

func (a *Authenticator) remove(c *credential) {
	delete(a.byID, string(c.id))
	a.creds = slices.DeleteFunc(a.creds, func(x *credential) bool { return x == c })
}

func (a *Authenticator) random() io.Reader {
	if a.cfg.rand != nil {
		return a.cfg.rand
	}
	return rand.Reader
}

func (a *Authenticator) origin(rpID string, cl *call) string {
	switch {
	case cl.origin != "":
		return cl.origin
	case a.cfg.origin != "":
		return a.cfg.origin
	}
	return "https://" + rpID
}

// Register answers credential creation options (navigator.credentials.create)
// and returns the RegistrationResponseJSON. optionsJSON is the
// PublicKeyCredentialCreationOptionsJSON, or an object wrapping it as
// {"publicKey": {...}}. The new credential is kept on the device.
//
// Like a browser, Register honours rp.id, user.id, challenge,
// pubKeyCredParams, excludeCredentials (ErrInvalidState),
// authenticatorSelection and the credProps extension. If the device already
// holds a discoverable credential for the same RP and user handle, the new
// one replaces it.
func (a *Authenticator) Register(optionsJSON []byte, opts ...CallOption) ([]byte, error) {
	cl := applyCall(opts)
	o, err := parseCreationOptions(optionsJSON)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: register: %w", err)
	}
	if cl.omitUserHandle {
		return nil, errors.New("webauthntest: register: OmitUserHandle applies to Login only")
	}
	if (cl.badSignature || cl.tamperAuthData) && a.cfg.attestation == AttestationNone {
		return nil, errors.New("webauthntest: register: BadSignature and TamperAuthenticatorData need a signature; use WithAttestation(AttestationPackedSelf)")
	}

	rpID := o.RP.ID
	if rpID == "" {
		if rpID, err = hostOf(a.cfg.origin); err != nil {
			return nil, fmt.Errorf("webauthntest: register: options have no rp.id and %w", err)
		}
	}
	challenge, err := decodeB64("challenge", o.Challenge)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: register: %w", err)
	}
	userHandle, err := decodeB64("user.id", o.User.ID)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: register: %w", err)
	}
	if len(challenge) == 0 || len(userHandle) == 0 || len(userHandle) > 64 {
		return nil, fmt.Errorf("webauthntest: register: TypeError: need a challenge and a user.id of 1 to 64 bytes, got %d and %d bytes", len(challenge), len(userHandle))
	}
	if !o.allowsAlg(a.cfg.alg) {
		return nil, fmt.Errorf("webauthntest: register: %w: pubKeyCredParams do not allow %v", ErrNotSupported, a.cfg.alg)
	}
	sel := o.AuthenticatorSelection
	if sel.AuthenticatorAttachment != "" && Attachment(sel.AuthenticatorAttachment) != a.cfg.attachment {
		return nil, fmt.Errorf("webauthntest: register: %w: options ask for a %s authenticator, this one is %s (see WithAttachment)", ErrNotAllowed, sel.AuthenticatorAttachment, a.cfg.attachment)
	}
	if (sel.ResidentKey == "required" || (sel.ResidentKey == "" && sel.RequireResidentKey)) && !a.cfg.resident {
		return nil, fmt.Errorf("webauthntest: register: %w: options require a resident key (see WithResidentKeys)", ErrNotAllowed)
	}
	if sel.UserVerification == "required" && !a.cfg.uv && !cl.noUV {
		return nil, fmt.Errorf("webauthntest: register: %w: options require user verification (see WithUserVerification)", ErrNotAllowed)
	}
	exclude := make([][]byte, 0, len(o.ExcludeCredentials))
	for i, d := range o.ExcludeCredentials {
		id, err := decodeB64(fmt.Sprintf("excludeCredentials[%d].id", i), d.ID)
		if err != nil {
			return nil, fmt.Errorf("webauthntest: register: %w", err)
		}
		exclude = append(exclude, id)
	}
	if err := a.checkExcluded(rpID, exclude); err != nil {
		return nil, err
	}

	key := a.cfg.key
	if key == nil {
		if key, err = newKey(a.cfg.alg, a.cfg.rsaBits, a.cfg.rand); err != nil {
			return nil, fmt.Errorf("webauthntest: register: generating key: %w", err)
		}
	} else if err := keyFits(key, a.cfg.alg); err != nil {
		return nil, fmt.Errorf("webauthntest: register: WithKey: %w", err)
	}
	cred := &credential{
		rpID:        rpID,
		userName:    o.User.Name,
		displayName: o.User.DisplayName,
		resident:    a.cfg.resident,
		alg:         a.cfg.alg,
		key:         key,
		signCount:   a.cfg.counterStart,
	}
	if cred.resident {
		cred.userHandle = userHandle
	}
	if err := a.store(cred, exclude); err != nil {
		return nil, err
	}

	coseKey, err := coseKey(key, cred.alg)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: register: %w", err)
	}
	spki, err := spkiKey(key)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: register: %w", err)
	}
	publicKeyAlg := int(cred.alg)
	if cl.credentialKey != nil {
		coseKey, spki, publicKeyAlg = cl.credentialKey, nil, coseAlg(cl.credentialKey)
	}
	attested := make([]byte, 0, 18+len(cred.id)+len(coseKey))
	attested = append(attested, a.cfg.aaguid[:]...)
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(cred.id)))
	attested = append(attested, cred.id...)
	attested = append(attested, coseKey...)
	authData := a.authData(rpID, &cl, flagAT, cred.signCount, attested)

	clientData, err := a.clientData(ceremonyCreate, challenge, rpID, &cl)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: register: %w", err)
	}
	clientDataHash := sha256.Sum256(clientData)

	var attStmt any = map[string]any{}
	if m := a.cfg.attModel; m != nil && a.cfg.attestation == AttestationPackedSelf {
		sig, err := m.sign(slices.Concat(authData, clientDataHash[:]))
		if err != nil {
			return nil, fmt.Errorf("webauthntest: register: %w", err)
		}
		if cl.badSignature {
			sig[len(sig)-1] ^= 0x01
		}
		attStmt = map[string]any{"alg": int(ES256), "sig": sig, "x5c": m.x5c()}
	} else if a.cfg.attestation == AttestationPackedSelf {
		sig, err := a.sign(key, cred.alg, slices.Concat(authData, clientDataHash[:]))
		if err != nil {
			return nil, fmt.Errorf("webauthntest: register: %w", err)
		}
		if cl.badSignature {
			sig[len(sig)-1] ^= 0x01
		}
		attStmt = map[string]any{"alg": int(cred.alg), "sig": sig}
	}
	if cl.tamperAuthData {
		authData[36] ^= 0x01 // low bit of signCount
	}
	format := string(a.cfg.attestation)
	if cl.attStmt != nil {
		format, attStmt = cl.attFormat, cl.attStmt
	}
	attObj, err := ctap2.Marshal(map[string]any{
		"fmt":      format,
		"attStmt":  attStmt,
		"authData": authData,
	})
	if err != nil {
		return nil, fmt.Errorf("webauthntest: register: encoding attestation object: %w", err)
	}

	resp := registrationResponseJSON{
		ID:    b64(cred.id),
		RawID: b64(cred.id),
		Response: attestationResponseJSON{
			ClientDataJSON:     b64(clientData),
			AuthenticatorData:  b64(authData),
			Transports:         a.cfg.defaultTransports(),
			PublicKey:          b64(spki),
			PublicKeyAlgorithm: publicKeyAlg,
			AttestationObject:  b64(attObj),
		},
		AuthenticatorAttachment: string(a.cfg.attachment),
		Type:                    "public-key",
	}
	if o.wantsCredProps() {
		rk := cred.resident
		resp.ClientExtensionResults.CredProps = &credPropsJSON{RK: &rk}
	}
	return marshalJSON(resp)
}

func (a *Authenticator) checkExcluded(rpID string, exclude [][]byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.checkExcludedLocked(rpID, exclude)
}

func (a *Authenticator) checkExcludedLocked(rpID string, exclude [][]byte) error {
	for _, id := range exclude {
		if c, ok := a.byID[string(id)]; ok && c.rpID == rpID {
			return fmt.Errorf("webauthntest: register: %w: the authenticator already holds credential %s of excludeCredentials", ErrInvalidState, b64(id))
		}
	}
	return nil
}

// store assigns a fresh credential ID and keeps the credential, replacing a
// discoverable credential of the same RP and user.
func (a *Authenticator) store(cred *credential, exclude [][]byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.checkExcludedLocked(cred.rpID, exclude); err != nil {
		return err
	}
	for {
		id := make([]byte, a.cfg.credIDLen)
		if _, err := io.ReadFull(a.random(), id); err != nil {
			return fmt.Errorf("webauthntest: register: reading randomness: %w", err)
		}
		if _, dup := a.byID[string(id)]; !dup {
			cred.id = id
			break
		}
	}
	if cred.resident {
		for _, c := range a.creds {
			if c.resident && c.rpID == cred.rpID && bytes.Equal(c.userHandle, cred.userHandle) {
				a.remove(c)
				break
			}
		}
	}
	a.creds = append(a.creds, cred)
	a.byID[string(cred.id)] = cred
	return nil
}

// Login answers credential request options (navigator.credentials.get) and
// returns the AuthenticationResponseJSON. optionsJSON is the
// PublicKeyCredentialRequestOptionsJSON, or an object wrapping it as
// {"publicKey": {...}}.
//
// With a non-empty allowCredentials, Login uses the first listed credential
// the device holds for the RP ID; with an empty one, the first discoverable
// credential for the RP ID, in creation order. Use LoginWith to choose. Login
// fails with ErrNotAllowed if there is no such credential, or if the options
// require user verification and the device has none.
func (a *Authenticator) Login(optionsJSON []byte, opts ...CallOption) ([]byte, error) {
	return a.login(optionsJSON, nil, opts)
}

// LoginWith is Login with the credential chosen by the caller, as in a
// browser's account picker. The credential must belong to the options' RP ID
// and, if allowCredentials is not empty, be listed there.
func (a *Authenticator) LoginWith(optionsJSON []byte, credentialID []byte, opts ...CallOption) ([]byte, error) {
	if len(credentialID) == 0 {
		return nil, errors.New("webauthntest: login: empty credential ID")
	}
	return a.login(optionsJSON, credentialID, opts)
}

func (a *Authenticator) login(optionsJSON, chosen []byte, opts []CallOption) ([]byte, error) {
	cl := applyCall(opts)
	o, err := parseRequestOptions(optionsJSON)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: login: %w", err)
	}
	if cl.credentialKey != nil || cl.attStmt != nil {
		return nil, errors.New("webauthntest: login: WithCredentialKey and WithAttestationStatement apply to Register only")
	}
	rpID := o.RPID
	if rpID == "" {
		if rpID, err = hostOf(a.cfg.origin); err != nil {
			return nil, fmt.Errorf("webauthntest: login: options have no rpId and %w", err)
		}
	}
	challenge, err := decodeB64("challenge", o.Challenge)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: login: %w", err)
	}
	if len(challenge) == 0 {
		return nil, errors.New("webauthntest: login: TypeError: options have no challenge")
	}
	if o.UserVerification == "required" && !a.cfg.uv && !cl.noUV {
		return nil, fmt.Errorf("webauthntest: login: %w: options require user verification (see WithUserVerification)", ErrNotAllowed)
	}
	allow := make([][]byte, 0, len(o.AllowCredentials))
	for i, d := range o.AllowCredentials {
		id, err := decodeB64(fmt.Sprintf("allowCredentials[%d].id", i), d.ID)
		if err != nil {
			return nil, fmt.Errorf("webauthntest: login: %w", err)
		}
		allow = append(allow, id)
	}

	cred, count, err := a.use(rpID, allow, chosen)
	if err != nil {
		return nil, err
	}

	authData := a.authData(rpID, &cl, 0, count, nil)
	clientData, err := a.clientData(ceremonyGet, challenge, rpID, &cl)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: login: %w", err)
	}
	clientDataHash := sha256.Sum256(clientData)
	sig, err := a.sign(cred.key, cred.alg, slices.Concat(authData, clientDataHash[:]))
	if err != nil {
		return nil, fmt.Errorf("webauthntest: login: %w", err)
	}
	if cl.badSignature {
		sig[len(sig)-1] ^= 0x01
	}
	if cl.tamperAuthData {
		authData[36] ^= 0x01 // low bit of signCount
	}
	resp := authenticationResponseJSON{
		ID:    b64(cred.id),
		RawID: b64(cred.id),
		Response: assertionResponseJSON{
			ClientDataJSON:    b64(clientData),
			AuthenticatorData: b64(authData),
			Signature:         b64(sig),
		},
		AuthenticatorAttachment: string(a.cfg.attachment),
		Type:                    "public-key",
	}
	if cred.userHandle != nil && !cl.omitUserHandle {
		resp.Response.UserHandle = b64(cred.userHandle)
	}
	return marshalJSON(resp)
}

// use selects the credential for an assertion and advances its counter. It
// returns a snapshot of the credential and the counter value to report.
func (a *Authenticator) use(rpID string, allow [][]byte, chosen []byte) (credential, uint32, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var c *credential
	switch {
	case chosen != nil:
		c = a.byID[string(chosen)]
		if c == nil || c.rpID != rpID {
			return credential{}, 0, fmt.Errorf("webauthntest: login: %w: the authenticator holds no credential %s for RP ID %q", ErrNotAllowed, b64(chosen), rpID)
		}
		if len(allow) > 0 && !slices.ContainsFunc(allow, func(id []byte) bool { return bytes.Equal(id, chosen) }) {
			return credential{}, 0, fmt.Errorf("webauthntest: login: %w: credential %s is not in allowCredentials", ErrNotAllowed, b64(chosen))
		}
	case len(allow) > 0:
		for _, id := range allow {
			if x := a.byID[string(id)]; x != nil && x.rpID == rpID {
				c = x
				break
			}
		}
		if c == nil {
			return credential{}, 0, fmt.Errorf("webauthntest: login: %w: the authenticator holds none of the %d allowCredentials for RP ID %q", ErrNotAllowed, len(allow), rpID)
		}
	default:
		for _, x := range a.creds {
			if x.resident && x.rpID == rpID {
				c = x
				break
			}
		}
		if c == nil {
			return credential{}, 0, fmt.Errorf("webauthntest: login: %w: allowCredentials is empty and the authenticator holds no discoverable credential for RP ID %q", ErrNotAllowed, rpID)
		}
	}
	c.signCount += a.cfg.counterStep
	return *c, c.signCount, nil
}

const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

func (a *Authenticator) authData(rpID string, cl *call, flags byte, count uint32, attested []byte) []byte {
	if cl.rpID != "" {
		rpID = cl.rpID
	}
	if a.cfg.up && !cl.noUP {
		flags |= flagUP
	}
	if a.cfg.uv && !cl.noUV {
		flags |= flagUV
	}
	if a.cfg.be {
		flags |= flagBE
	}
	if a.cfg.bs {
		flags |= flagBS
	}
	h := sha256.Sum256([]byte(rpID))
	out := make([]byte, 0, 37+len(attested))
	out = append(out, h[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, count)
	return append(out, attested...)
}

const (
	ceremonyCreate = "webauthn.create"
	ceremonyGet    = "webauthn.get"
)

func (a *Authenticator) clientData(typ string, challenge []byte, rpID string, cl *call) ([]byte, error) {
	if cl.wrongType {
		if typ == ceremonyCreate {
			typ = ceremonyGet
		} else {
			typ = ceremonyCreate
		}
	}
	if cl.wrongChallenge {
		other := make([]byte, 32)
		if _, err := io.ReadFull(a.random(), other); err != nil {
			return nil, fmt.Errorf("reading randomness: %w", err)
		}
		challenge = other
	}
	return marshalJSON(clientDataJSON{
		Type:        typ,
		Challenge:   b64(challenge),
		Origin:      a.origin(rpID, cl),
		CrossOrigin: false,
	})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
