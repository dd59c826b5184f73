package webauthntest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/big"
	"slices"
	"time"
)

// AttestationCA is a test certificate authority for packed attestation
// with a certificate chain ("basic_full", WebAuthn §8.2): a self-signed
// root and an intermediate, which issue the attestation certificates of
// authenticator models (NewModel). Its root goes into FIDO metadata as the
// models' attestationRootCertificates (AttestationModel.MetadataEntry).
type AttestationCA struct {
	// Root is the self-signed root certificate, the trust anchor.
	Root *x509.Certificate
	// Intermediate is issued by Root and issues the models' certificates.
	Intermediate *x509.Certificate
	intKey       *ecdsa.PrivateKey
	name         string
}

// DefaultCertificateValidity is the validity of certificates made by
// NewAttestationCA and NewModel unless told otherwise: long enough for any
// test run, from a fixed date, so that certificates do not depend on when
// the test runs.
var (
	DefaultCertificateNotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	DefaultCertificateNotAfter  = time.Date(2070, 1, 1, 0, 0, 0, 0, time.UTC)
)

var oidFIDOAAGUID = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 45724, 1, 1, 4}

// NewAttestationCA makes a root and an intermediate P-256 certificate for a
// vendor named name (the certificates' Organization), valid from
// DefaultCertificateNotBefore to DefaultCertificateNotAfter.
func NewAttestationCA(name string) (*AttestationCA, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rootTmpl := caTemplate(name, name+" Attestation Root", DefaultCertificateNotBefore, DefaultCertificateNotAfter)
	root, err := issue(rootTmpl, rootTmpl, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: attestation root: %w", err)
	}
	intKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	intTmpl := caTemplate(name, name+" Attestation Issuing CA", DefaultCertificateNotBefore, DefaultCertificateNotAfter)
	intTmpl.MaxPathLenZero = true
	inter, err := issue(intTmpl, root, &intKey.PublicKey, rootKey)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: attestation intermediate: %w", err)
	}
	return &AttestationCA{Root: root, Intermediate: inter, intKey: intKey, name: name}, nil
}

func caTemplate(org, cn string, notBefore, notAfter time.Time) *x509.Certificate {
	return &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Country: []string{"US"}, Organization: []string{org}, CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err)
	}
	return n.Add(n, big.NewInt(1))
}

func issue(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// AttestationModel is one authenticator model's attestation key and
// certificate, issued by an AttestationCA: pass it to WithPackedAttestation
// so that an Authenticator makes packed attestation statements with the
// x5c chain [attestation certificate, intermediate].
type AttestationModel struct {
	AAGUID [16]byte
	// Certificate is the attestation certificate (WebAuthn §8.2.1: subject
	// C, O, OU "Authenticator Attestation", CN; not a CA; the AAGUID in
	// extension id-fido-gen-ce-aaguid).
	Certificate *x509.Certificate
	CA          *AttestationCA
	key         *ecdsa.PrivateKey
}

// NewModel issues the attestation certificate of the model with this
// AAGUID, valid from DefaultCertificateNotBefore to
// DefaultCertificateNotAfter.
func (ca *AttestationCA) NewModel(aaguid [16]byte) (*AttestationModel, error) {
	return ca.NewModelValid(aaguid, DefaultCertificateNotBefore, DefaultCertificateNotAfter)
}

// NewModelValid is NewModel with the attestation certificate valid from
// notBefore to notAfter, e.g. to test what happens after it expires.
func (ca *AttestationCA) NewModelValid(aaguid [16]byte, notBefore, notAfter time.Time) (*AttestationModel, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ext, err := asn1.Marshal(aaguid[:])
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject: pkix.Name{
			Country: []string{"US"}, Organization: []string{ca.name},
			OrganizationalUnit: []string{"Authenticator Attestation"},
			CommonName:         ca.name + " Authenticator " + hex.EncodeToString(aaguid[:4]),
		},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  false,
		ExtraExtensions:       []pkix.Extension{{Id: oidFIDOAAGUID, Value: ext}},
	}
	cert, err := issue(tmpl, ca.Intermediate, &key.PublicKey, ca.intKey)
	if err != nil {
		return nil, fmt.Errorf("webauthntest: attestation certificate: %w", err)
	}
	return &AttestationModel{AAGUID: aaguid, Certificate: cert, CA: ca, key: key}, nil
}

// x5c is the chain sent in attStmt: attestation certificate, intermediate.
func (m *AttestationModel) x5c() []any {
	return []any{slices.Clone(m.Certificate.Raw), slices.Clone(m.CA.Intermediate.Raw)}
}

// sign makes the packed attestation signature (ES256) over msg.
func (m *AttestationModel) sign(msg []byte) ([]byte, error) {
	digest := sha256.Sum256(msg)
	return ecdsa.SignASN1(rand.Reader, m.key, digest[:])
}

// AAGUIDString is the model's AAGUID in its usual form,
// "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx".
func (m *AttestationModel) AAGUIDString() string { return FormatAAGUID(m.AAGUID) }

// FormatAAGUID writes an AAGUID in its usual form.
func FormatAAGUID(a [16]byte) string {
	h := hex.EncodeToString(a[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// StatusReport is a FIDO MDS3 status report of a metadata entry.
type StatusReport struct {
	// Status, e.g. "FIDO_CERTIFIED", "REVOKED",
	// "ATTESTATION_KEY_COMPROMISE", "USER_VERIFICATION_BYPASS".
	Status string
	// EffectiveDate: zero for none (in effect as long as present).
	EffectiveDate time.Time
	// Certificate, if set, limits the report to attestations made with
	// this certificate (e.g. a compromised batch).
	Certificate *x509.Certificate
}

// MetadataEntry returns the model's FIDO MDS3 metadata BLOB entry (one
// element of the payload's "entries"), ready for json.Marshal: the AAGUID,
// a metadata statement (description, "basic_full" attestation, ES256, the
// CA's root as attestationRootCertificates) and the status reports given,
// or by default one FIDO_CERTIFIED report effective on 2020-01-01.
func (m *AttestationModel) MetadataEntry(description string, reports ...StatusReport) map[string]any {
	if len(reports) == 0 {
		reports = []StatusReport{{Status: "FIDO_CERTIFIED", EffectiveDate: DefaultCertificateNotBefore}}
	}
	var srs []map[string]any
	last := DefaultCertificateNotBefore
	for _, r := range reports {
		sr := map[string]any{"status": r.Status}
		if !r.EffectiveDate.IsZero() {
			sr["effectiveDate"] = r.EffectiveDate.UTC().Format(time.DateOnly)
			if r.EffectiveDate.After(last) {
				last = r.EffectiveDate
			}
		}
		if r.Certificate != nil {
			sr["certificate"] = base64.StdEncoding.EncodeToString(r.Certificate.Raw)
		}
		srs = append(srs, sr)
	}
	aaguid := m.AAGUIDString()
	return map[string]any{
		"aaguid": aaguid,
		"metadataStatement": map[string]any{
			"legalHeader":                 "webauthntest metadata: for tests only",
			"aaguid":                      aaguid,
			"description":                 description,
			"authenticatorVersion":        1,
			"protocolFamily":              "fido2",
			"schema":                      3,
			"upv":                         []map[string]int{{"major": 1, "minor": 1}},
			"authenticationAlgorithms":    []string{"secp256r1_ecdsa_sha256_raw"},
			"publicKeyAlgAndEncodings":    []string{"cose"},
			"attestationTypes":            []string{"basic_full"},
			"userVerificationDetails":     [][]map[string]string{{{"userVerificationMethod": "presence_internal"}}},
			"keyProtection":               []string{"hardware", "secure_element"},
			"matcherProtection":           []string{"on_chip"},
			"attachmentHint":              []string{"external", "wired"},
			"tcDisplay":                   []string{},
			"attestationRootCertificates": []string{base64.StdEncoding.EncodeToString(m.CA.Root.Raw)},
			"authenticatorGetInfo": map[string]any{
				"versions": []string{"FIDO_2_0"},
				"aaguid":   hex.EncodeToString(m.AAGUID[:]),
			},
		},
		"statusReports":          srs,
		"timeOfLastStatusChange": last.UTC().Format(time.DateOnly),
	}
}
