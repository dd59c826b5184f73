package webauthnkit

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
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
	if net.ParseIP(host) != nil || endsInNumber(host) {
		return "", "", fmt.Errorf("related origin %q: an IP address has no registrable domain", o)
	}
	if !isHostName(host) {
		return "", "", fmt.Errorf("related origin %q: %q is not a host name (labels of letters, digits, '-' and '_'; no wildcards)", o, host)
	}
	if port := u.Port(); strings.HasSuffix(u.Host, ":") || port != "" && !isPort(port) {
		return "", "", fmt.Errorf("related origin %q: the port must be a number from 1 to 65535", o)
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

// endsInNumber reports whether browsers take host for an IPv4 address
// (WHATWG URL "ends in a number": its last label is decimal digits or
// 0x-prefixed hex), e.g. "0x7f.1": a configured origin with such a host
// would never match the one a browser sends.
func endsInNumber(host string) bool {
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") {
		last = last[2:]
		for i := 0; i < len(last); i++ {
			if !strings.ContainsRune("0123456789abcdef", rune(last[i])) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			return false
		}
	}
	return true
}

// isHostName reports whether host (lower case ASCII) is a DNS name: labels
// of 1 to 63 letters, digits, '-' (not first or last) and '_', at most
// 253 bytes.
func isHostName(host string) bool {
	if len(host) == 0 || len(host) > 253 {
		return false
	}
	for _, label := range strings.Split(host, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// isPort reports whether p is a port number from 1 to 65535.
func isPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535 && p[0] != '+' && p[0] != '0'
}
