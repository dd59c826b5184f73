package webauthnkit

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"golang.org/x/net/publicsuffix"
)

// nativeOriginPrefixes are the origins of native apps and browser
// extensions a client conveys (go-webauthn's protocol.OpaqueOriginPrefixes
// without "file://": any local file would be such an origin).
var nativeOriginPrefixes = []string{
	protocol.OpaqueOriginPrefixAndroidAPKKeyHash,
	protocol.OpaqueOriginPrefixAndroidAPKKeyHashSHA256,
	protocol.OpaqueOriginPrefixAndroidAPKKeyID,
	protocol.OpaqueOriginPrefixIOSBundleID,
	protocol.OpaqueOriginPrefixIOSBundleKey,
	protocol.OpaqueOriginPrefixChromeExtension,
	protocol.OpaqueOriginPrefixMozExtension,
	protocol.OpaqueOriginPrefixMSAppX,
}

// maxNativeOrigin bounds a native app origin: an APK key hash is 28
// characters of base64url, a bundle ID rarely more than 100.
const maxNativeOrigin = 512

// isNativeOrigin reports whether o has the form of a native app or
// extension origin (one of nativeOriginPrefixes, "file://" included, so
// that it gets a precise refusal).
func isNativeOrigin(o string) bool {
	if o == protocol.OpaqueOriginPrefixFile || strings.HasPrefix(o, protocol.OpaqueOriginPrefixFile) {
		return true
	}
	for _, p := range nativeOriginPrefixes {
		if strings.HasPrefix(o, p) {
			return true
		}
	}
	return false
}

// checkNativeOrigin validates a native app origin: a known prefix, a value
// after it, printable ASCII without spaces, bounded. It is compared byte
// for byte with the origin a client sends, so it is kept as given.
func checkNativeOrigin(o string) error {
	if strings.HasPrefix(o, protocol.OpaqueOriginPrefixFile) {
		return fmt.Errorf("%q: file:// origins are refused (any local file would be one)", o)
	}
	if len(o) > maxNativeOrigin {
		return fmt.Errorf("native app origin %.40q... is longer than %d bytes", o, maxNativeOrigin)
	}
	for i := 0; i < len(o); i++ {
		if o[i] <= ' ' || o[i] >= 0x7f {
			return fmt.Errorf("native app origin %q holds a space, control or non-ASCII character", o)
		}
	}
	if !protocol.IsKnownOpaqueOrigin(o) {
		return fmt.Errorf("native app origin %q has nothing after its prefix", o)
	}
	return nil
}

// checkRelatedOrigins validates Config.RelatedOrigins and returns them in
// canonical form, without duplicates, in the order given.
func checkRelatedOrigins(origins []string, rpID string) ([]string, error) {
	var out []string
	labels := map[string]bool{}
	for _, o := range origins {
		norm, label, err := checkRelatedOrigin(o, rpID)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, norm) {
			continue
		}
		out = append(out, norm)
		labels[label] = true
	}
	if len(labels) > protocol.MaximumRelatedOriginLabels {
		return nil, fmt.Errorf("%d distinct registrable-domain labels, but browsers read only the first %d of /.well-known/webauthn: origins past them would fail", len(labels), protocol.MaximumRelatedOriginLabels)
	}
	return out, nil
}

// checkRelatedOrigin validates one related origin and returns its
// canonical form and its registrable-domain label ("example" for
// https://login.example.co.uk), which browsers count (WebAuthn §5.11.1).
func checkRelatedOrigin(o, rpID string) (string, string, error) {
	u, err := url.Parse(o)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", "", fmt.Errorf("%q is not an origin like https://example.org", o)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", "", fmt.Errorf("%q must be an origin only (scheme, host, optional port), without path, query or credentials", o)
	}
	if u.Scheme != "https" {
		return "", "", fmt.Errorf("related origin %q must use https", o)
	}
	host := strings.ToLower(u.Hostname())
	for i := 0; i < len(host); i++ {
		if host[i] >= 0x80 {
			return "", "", fmt.Errorf("related origin %q: write the host in its ASCII (punycode) form, as browsers send it", o)
		}
	}
	if net.ParseIP(host) != nil {
		return "", "", fmt.Errorf("related origin %q: an IP address has no registrable domain", o)
	}
	if host == rpID || strings.HasSuffix(host, "."+rpID) {
		return "", "", fmt.Errorf("related origin %q is %s or a subdomain of it: list it in Origins", o, rpID)
	}
	site, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return "", "", fmt.Errorf("related origin %q has no registrable domain (localhost, a public suffix?)", o)
	}
	suffix, _ := publicsuffix.PublicSuffix(host)
	label := strings.TrimSuffix(site, "."+suffix)
	hostPort := strings.ToLower(u.Host)
	if u.Port() == "443" {
		hostPort = strings.TrimSuffix(hostPort, ":443")
	}
	return "https://" + hostPort, label, nil
}

// RelatedOrigins returns a copy of Config.RelatedOrigins in canonical form:
// the list to serve at https://<RPID>/.well-known/webauthn (the HTTP
// adapter's WellKnown does).
func (rp *RelyingParty) RelatedOrigins() []string { return slices.Clone(rp.cfg.RelatedOrigins) }
