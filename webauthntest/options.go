package webauthntest

import (
	"crypto"
	"fmt"
	"io"
	"slices"
)

// Alg is a COSE algorithm identifier (IANA "COSE Algorithms" registry) for a
// credential key pair.
type Alg int

// The credential algorithms the Authenticator can generate.
const (
	ES256 Alg = -7   // ECDSA with P-256 and SHA-256, ASN.1 DER signatures.
	EdDSA Alg = -8   // Ed25519.
	ES384 Alg = -35  // ECDSA with P-384 and SHA-384.
	ES512 Alg = -36  // ECDSA with P-521 and SHA-512.
	PS256 Alg = -37  // RSASSA-PSS with SHA-256 (salt as long as the hash); key size as WithRSAKeyBits.
	RS256 Alg = -257 // RSASSA-PKCS1-v1_5 with SHA-256; key size as WithRSAKeyBits (default 2048).
)

// String returns the JOSE name of the algorithm, e.g. "ES256".
func (a Alg) String() string {
	switch a {
	case ES256:
		return "ES256"
	case EdDSA:
		return "EdDSA"
	case ES384:
		return "ES384"
	case ES512:
		return "ES512"
	case PS256:
		return "PS256"
	case RS256:
		return "RS256"
	}
	return fmt.Sprintf("Alg(%d)", int(a))
}

// AttestationFormat is the attestation statement format of registrations.
type AttestationFormat string

const (
	// AttestationNone produces {"fmt":"none","attStmt":{}}, what browsers
	// send for passkeys when the RP asks for no attestation.
	AttestationNone AttestationFormat = "none"
	// AttestationPackedSelf produces packed self attestation: attStmt is
	// {"alg": alg, "sig": sig} signed by the credential key itself.
	AttestationPackedSelf AttestationFormat = "packed"
)

// Attachment is the authenticatorAttachment the Authenticator reports.
type Attachment string

const (
	// Platform is a built-in authenticator (Touch ID, Windows Hello, a
	// phone's screen lock); it also stands for passkey providers.
	Platform Attachment = "platform"
	// CrossPlatform is a roaming authenticator such as a USB security key.
	CrossPlatform Attachment = "cross-platform"
)

// MaxCredentialIDLength is the largest credential ID WebAuthn allows.
const MaxCredentialIDLength = 1023

type config struct {
	origin       string
	alg          Alg
	rsaBits      int
	key          crypto.Signer // nil: a new key per credential
	attestation  AttestationFormat
	attModel     *AttestationModel // packed with x5c when set
	aaguid       [16]byte
	uv, up       bool
	be, bs       bool
	counterStart uint32
	counterStep  uint32
	attachment   Attachment
	transports   []string
	resident     bool
	credIDLen    int
	rand         io.Reader // nil: crypto/rand
}

func defaultConfig() config {
	return config{
		alg:         ES256,
		rsaBits:     2048,
		attestation: AttestationNone,
		uv:          true,
		up:          true,
		counterStep: 1,
		attachment:  Platform,
		resident:    true,
		credIDLen:   16,
	}
}

func (c *config) defaultTransports() []string {
	if c.transports != nil {
		return c.transports
	}
	if c.attachment == CrossPlatform {
		return []string{"usb"}
	}
	return []string{"hybrid", "internal"}
}

// Option configures an Authenticator; pass options to New. New panics on an
// invalid option value, since that is a mistake in the test itself.
type Option func(*config)

// WithOrigin sets the origin written into clientDataJSON, e.g.
// "http://localhost:8080". By default it is "https://" + the RP ID of the
// options being answered. The origin is not checked against the RP ID, so a
// test can also exercise related origins.
func WithOrigin(origin string) Option {
	return func(c *config) { c.origin = origin }
}

// WithAlgorithm sets the algorithm of the credentials the Authenticator
// creates (default ES256). Register fails with ErrNotSupported if the RP's
// pubKeyCredParams do not allow it.
func WithAlgorithm(alg Alg) Option {
	return func(c *config) {
		switch alg {
		case ES256, EdDSA, ES384, ES512, PS256, RS256:
		default:
			panic(fmt.Sprintf("webauthntest: unsupported algorithm %v", alg))
		}
		c.alg = alg
	}
}

// WithRSAKeyBits sets the modulus size of RS256 and PS256 keys: 2048 (the
// default), 3072 or 4096. Generating a 4096-bit key takes a second or more.
// Keys outside these sizes (hostile ones) can be sent with
// WithCredentialKey.
func WithRSAKeyBits(bits int) Option {
	return func(c *config) {
		if bits != 2048 && bits != 3072 && bits != 4096 {
			panic(fmt.Sprintf("webauthntest: RSA key size %d is not 2048, 3072 or 4096", bits))
		}
		c.rsaBits = bits
	}
}

// WithKey makes every credential the device creates use key (an
// *ecdsa.PrivateKey, ed25519.PrivateKey or *rsa.PrivateKey fitting the
// algorithm set by WithAlgorithm) instead of a fresh key pair: for
// benchmarks and tests that register many credentials with a key that is
// slow to generate, such as RSA-4096. Register fails if the key does not fit
// the algorithm.
func WithKey(key crypto.Signer) Option {
	return func(c *config) { c.key = key }
}

// WithAttestation sets the attestation statement format (default
// AttestationNone). The RP's attestation conveyance preference is ignored.
func WithAttestation(format AttestationFormat) Option {
	return func(c *config) {
		if format != AttestationNone && format != AttestationPackedSelf {
			panic(fmt.Sprintf("webauthntest: unsupported attestation format %q", format))
		}
		c.attestation = format
		c.attModel = nil
	}
}

// WithPackedAttestation makes registrations carry packed attestation with a
// certificate chain ("basic_full"): attStmt {alg: ES256, sig, x5c:
// [model's attestation certificate, its CA's intermediate]}, the signature
// made with the model's attestation key, and the model's AAGUID in the
// authenticator data. Like WithAttestation, it ignores the RP's conveyance
// preference. A later WithAttestation overrides it; a later WithAAGUID
// sends an AAGUID other than the certificate's, which a relying party
// must refuse.
func WithPackedAttestation(m *AttestationModel) Option {
	return func(c *config) {
		if m == nil {
			panic("webauthntest: WithPackedAttestation(nil)")
		}
		c.attestation = AttestationPackedSelf
		c.attModel = m
		c.aaguid = m.AAGUID
	}
}

// WithAAGUID sets the AAGUID in attested credential data (default all zero).
func WithAAGUID(aaguid [16]byte) Option {
	return func(c *config) { c.aaguid = aaguid }
}

// WithUserVerification says whether the device verifies the user (the UV
// flag; default true). A device without user verification refuses options
// with userVerification "required", as a browser would; to produce such a
// response anyway, use the WithoutUserVerification call option.
func WithUserVerification(uv bool) Option {
	return func(c *config) { c.uv = uv }
}

// WithUserPresence says whether the device sets the UP flag (default true).
func WithUserPresence(up bool) Option {
	return func(c *config) { c.up = up }
}

// WithBackup sets the backup eligible (BE) and backup state (BS) flags of
// every ceremony (default false, false). Synced passkeys report true, true.
func WithBackup(eligible, state bool) Option {
	return func(c *config) { c.be, c.bs = eligible, state }
}

// WithCounter sets the signature counter behaviour of new credentials: a
// registration reports start, and each assertion first adds step and then
// reports the result. The default is start 0, step 1. WithCounter(0, 0) is a
// counter that is always zero, as synced passkeys have.
func WithCounter(start, step uint32) Option {
	return func(c *config) { c.counterStart, c.counterStep = start, step }
}

// WithAttachment sets the authenticatorAttachment (default Platform). Register
// fails with ErrNotAllowed when authenticatorSelection asks for the other one.
func WithAttachment(a Attachment) Option {
	return func(c *config) {
		if a != Platform && a != CrossPlatform {
			panic(fmt.Sprintf("webauthntest: unknown attachment %q", a))
		}
		c.attachment = a
	}
}

// WithTransports sets response.transports of registrations. The default is
// ["hybrid", "internal"] for Platform and ["usb"] for CrossPlatform.
func WithTransports(transports ...string) Option {
	return func(c *config) { c.transports = append([]string{}, transports...) }
}

// WithResidentKeys says whether credentials are discoverable (default true).
// A discoverable credential stores the user handle and returns it in every
// assertion; it can be used with an empty allowCredentials list. A device
// without resident keys refuses residentKey "required".
func WithResidentKeys(resident bool) Option {
	return func(c *config) { c.resident = resident }
}

// WithCredentialIDLength sets the length in bytes of new credential IDs
// (default 16, at most MaxCredentialIDLength).
func WithCredentialIDLength(n int) Option {
	return func(c *config) {
		if n < 1 || n > MaxCredentialIDLength {
			panic(fmt.Sprintf("webauthntest: credential ID length %d out of range [1, %d]", n, MaxCredentialIDLength))
		}
		c.credIDLen = n
	}
}

// WithRand sets the source of randomness for credential IDs and key pairs,
// making ES256 and EdDSA output reproducible: with it, ECDSA signatures are
// deterministic (RFC 6979). RSA keys still come from crypto/rand, since
// crypto/rsa ignores custom readers as of Go 1.26; use
// testing/cryptotest.SetGlobalRandom to make those reproducible too. The
// reader is shared with clones and read under a lock.
func WithRand(r io.Reader) Option {
	return func(c *config) {
		if r == nil {
			c.rand = nil
			return
		}
		c.rand = &lockedReader{r: r}
	}
}

// SyncedPasskey configures a synced passkey as made by a passkey provider: a
// platform, discoverable credential with user verification, backup eligible
// and backed up, whose signature counter is always zero.
func SyncedPasskey() Option {
	return func(c *config) {
		c.attachment = Platform
		c.resident, c.uv = true, true
		c.be, c.bs = true, true
		c.counterStart, c.counterStep = 0, 0
	}
}

// SecurityKey configures a roaming FIDO2 security key: cross-platform over
// USB, device-bound (not backup eligible), with an incrementing counter.
func SecurityKey() Option {
	return func(c *config) {
		c.attachment = CrossPlatform
		c.transports = []string{"usb"}
		c.be, c.bs = false, false
		c.counterStart, c.counterStep = 0, 1
	}
}

// CallOption changes a single Register or Login call. Most produce a response
// that a correct relying party must reject, for negative tests. Unless stated
// otherwise, the deviation is made before signing, so the signature is valid
// and only the check under test fails. A call option that has no meaning for
// the ceremony (OmitUserHandle on Register, or BadSignature and
// TamperAuthenticatorData on a registration without a signature) makes the
// call return an error instead of silently doing nothing.
type CallOption func(*call)

type call struct {
	badSignature   bool
	tamperAuthData bool
	wrongChallenge bool
	wrongType      bool
	omitUserHandle bool
	noUV, noUP     bool
	origin         string
	rpID           string
	credentialKey  []byte
	attFormat      string
	attStmt        any
}

// BadSignature flips a bit of the signature after signing: the assertion
// signature on Login, the packed attestation signature on Register.
func BadSignature() CallOption { return func(c *call) { c.badSignature = true } }

// TamperAuthenticatorData changes authenticatorData (a bit of the signature
// counter) after it has been signed, so only signature verification can
// notice.
func TamperAuthenticatorData() CallOption { return func(c *call) { c.tamperAuthData = true } }

// WrongOrigin writes origin into clientDataJSON instead of the configured
// origin.
func WrongOrigin(origin string) CallOption { return func(c *call) { c.origin = origin } }

// WrongRPID puts the SHA-256 of rpID into authenticatorData instead of the
// hash of the options' RP ID.
func WrongRPID(rpID string) CallOption { return func(c *call) { c.rpID = rpID } }

// WrongChallenge writes a fresh random challenge into clientDataJSON.
func WrongChallenge() CallOption { return func(c *call) { c.wrongChallenge = true } }

// WrongType swaps clientDataJSON.type: "webauthn.get" on Register and
// "webauthn.create" on Login.
func WrongType() CallOption { return func(c *call) { c.wrongType = true } }

// OmitUserHandle leaves response.userHandle out of an assertion, as a
// non-discoverable credential would. Login only.
func OmitUserHandle() CallOption { return func(c *call) { c.omitUserHandle = true } }

// WithoutUserVerification clears the UV flag for this call, even when the
// options require user verification (a misbehaving client).
func WithoutUserVerification() CallOption { return func(c *call) { c.noUV = true } }

// WithoutUserPresence clears the UP flag for this call.
func WithoutUserPresence() CallOption { return func(c *call) { c.noUP = true } }

// WithCredentialKey makes Register send coseKey (a COSE_Key, e.g. from
// MarshalCOSEKey) as the credential public key in attestedCredentialData,
// instead of the key the device generated; response.publicKeyAlgorithm is
// the key's alg. The device still keeps (and logs in with) its own key. With
// AttestationPackedSelf the attestation is still signed by the device's key,
// so it does not verify: combine with WithAttestationStatement to choose the
// statement. For tests of hostile or unusual keys. Register only.
func WithCredentialKey(coseKey []byte) CallOption {
	return func(c *call) { c.credentialKey = coseKey }
}

// WithAttestationStatement makes Register send the attestation statement
// format and attStmt given, CBOR-encoded as is (a map[string]any for every
// format but "compound", whose statement is an array of {"fmt", "attStmt"}
// maps; []byte for byte strings, int for integers, []any of []byte for x5c),
// instead of the device's own. For tests of attestation formats the device
// does not produce, and of hostile statements. Register only.
func WithAttestationStatement(format string, attStmt any) CallOption {
	return func(c *call) { c.attFormat, c.attStmt = format, attStmt }
}

func applyCall(opts []CallOption) call {
	var c call
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

func (c *config) clone() config {
	d := *c
	d.transports = slices.Clone(c.transports)
	return d
}
