package webauthntest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Options, as PublicKeyCredential.parseCreationOptionsFromJSON and
// parseRequestOptionsFromJSON read them. Members the authenticator does not
// act on are not decoded.

type descriptorJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type creationOptionsJSON struct {
	RP struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"rp"`
	User struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		DisplayName string `json:"displayName"`
	} `json:"user"`
	Challenge        string `json:"challenge"`
	PubKeyCredParams []struct {
		Type string `json:"type"`
		Alg  int    `json:"alg"`
	} `json:"pubKeyCredParams"`
	ExcludeCredentials     []descriptorJSON `json:"excludeCredentials"`
	AuthenticatorSelection struct {
		AuthenticatorAttachment string `json:"authenticatorAttachment"`
		ResidentKey             string `json:"residentKey"`
		RequireResidentKey      bool   `json:"requireResidentKey"`
		UserVerification        string `json:"userVerification"`
	} `json:"authenticatorSelection"`
	Extensions map[string]json.RawMessage `json:"extensions"`
}

func (o *creationOptionsJSON) allowsAlg(alg Alg) bool {
	if len(o.PubKeyCredParams) == 0 {
		// WebAuthn §5.1.3 step 10: an empty list means ES256 and RS256.
		return alg == ES256 || alg == RS256
	}
	for _, p := range o.PubKeyCredParams {
		if p.Type == "public-key" && Alg(p.Alg) == alg {
			return true
		}
	}
	return false
}

func (o *creationOptionsJSON) wantsCredProps() bool {
	return bytes.Equal(bytes.TrimSpace(o.Extensions["credProps"]), []byte("true"))
}

type requestOptionsJSON struct {
	Challenge        string           `json:"challenge"`
	RPID             string           `json:"rpId"`
	AllowCredentials []descriptorJSON `json:"allowCredentials"`
	UserVerification string           `json:"userVerification"`
}

func parseCreationOptions(data []byte) (*creationOptionsJSON, error) {
	var o creationOptionsJSON
	if err := unmarshalOptions(data, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

func parseRequestOptions(data []byte) (*requestOptionsJSON, error) {
	var o requestOptionsJSON
	if err := unmarshalOptions(data, &o); err != nil {
		return nil, err
	}
	return &o, nil
}

// unmarshalOptions decodes options JSON, unwrapping {"publicKey": {...}}
// (CredentialCreationOptions / CredentialRequestOptions, as HTTP adapters and
// go-webauthn's protocol.CredentialCreation send them).
func unmarshalOptions(data []byte, v any) error {
	if bytes.Contains(data, []byte(`"publicKey"`)) {
		var top map[string]json.RawMessage
		if err := json.Unmarshal(data, &top); err != nil {
			return fmt.Errorf("invalid options JSON: %w", err)
		}
		if inner, ok := top["publicKey"]; ok {
			if _, direct := top["challenge"]; !direct {
				data = inner
			}
		}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("invalid options JSON: %w", err)
	}
	return nil
}

// decodeB64 decodes a Base64URLString; padding is tolerated.
func decodeB64(field, s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, fmt.Errorf("EncodingError: %s is not base64url: %w", field, err)
	}
	return b, nil
}

// hostOf returns the host of an origin, the RP ID a browser would default to.
func hostOf(origin string) (string, error) {
	if origin == "" {
		return "", errors.New("no origin is configured (see WithOrigin)")
	}
	u, err := url.Parse(origin)
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("origin %q has no host", origin)
	}
	return u.Hostname(), nil
}

// Responses, in the member order of Chrome's toJSON().

type clientDataJSON struct {
	Type        string `json:"type"`
	Challenge   string `json:"challenge"`
	Origin      string `json:"origin"`
	CrossOrigin bool   `json:"crossOrigin"`
}

type credPropsJSON struct {
	RK *bool `json:"rk,omitempty"`
}

type clientExtensionResultsJSON struct {
	CredProps *credPropsJSON `json:"credProps,omitempty"`
}

type attestationResponseJSON struct {
	ClientDataJSON     string   `json:"clientDataJSON"`
	AuthenticatorData  string   `json:"authenticatorData"`
	Transports         []string `json:"transports"`
	PublicKey          string   `json:"publicKey,omitempty"`
	PublicKeyAlgorithm int      `json:"publicKeyAlgorithm"`
	AttestationObject  string   `json:"attestationObject"`
}

type registrationResponseJSON struct {
	ID                      string                     `json:"id"`
	RawID                   string                     `json:"rawId"`
	Response                attestationResponseJSON    `json:"response"`
	AuthenticatorAttachment string                     `json:"authenticatorAttachment,omitempty"`
	ClientExtensionResults  clientExtensionResultsJSON `json:"clientExtensionResults"`
	Type                    string                     `json:"type"`
}

type assertionResponseJSON struct {
	ClientDataJSON    string `json:"clientDataJSON"`
	AuthenticatorData string `json:"authenticatorData"`
	Signature         string `json:"signature"`
	UserHandle        string `json:"userHandle,omitempty"`
}

type authenticationResponseJSON struct {
	ID                      string                     `json:"id"`
	RawID                   string                     `json:"rawId"`
	Response                assertionResponseJSON      `json:"response"`
	AuthenticatorAttachment string                     `json:"authenticatorAttachment,omitempty"`
	ClientExtensionResults  clientExtensionResultsJSON `json:"clientExtensionResults"`
	Type                    string                     `json:"type"`
}

// marshalJSON is json.Marshal without HTML escaping, as JSON.stringify does.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
