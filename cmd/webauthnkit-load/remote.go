package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Driving a deployment (-target with -remote): any server that speaks the
// httpadapter HTTP API, on this machine or another. The user states the
// origin the pages are served from and, optionally, the RP ID; the two
// must agree as a browser requires, and the server's RP ID (from its first
// registration options) must be the one stated.

// checkTargetFor parses a -target URL. Without remote only loopback hosts
// are accepted (the default: the tool does not send load elsewhere by
// accident); with it any host.
func checkTargetFor(raw string, remote bool) (*url.URL, error) {
	if !remote {
		return checkTarget(raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("-target %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("-target %q: want an http:// or https:// URL", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Host == "" {
		return nil, fmt.Errorf("-target %q: want scheme://host[:port]/mount-path only", raw)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// checkOriginRPID reports whether origin (scheme://host[:port]) may use
// rpID, as a browser decides: the origin's host is the RP ID or a
// subdomain of it, and the origin is https unless its host is localhost or
// a loopback address. A loopback IP origin may also use the RP ID
// "localhost": browsers would not allow it, but the tool's own server
// (-serve, in-process) is set up that way.
func checkOriginRPID(origin, rpID string) error {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return fmt.Errorf("-origin %q: want scheme://host[:port]", origin)
	}
	host := strings.ToLower(u.Hostname())
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		loopback = true
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && loopback:
	default:
		return fmt.Errorf("-origin %q: browsers allow WebAuthn only on https origins (http only for localhost)", origin)
	}
	rpID = strings.ToLower(strings.TrimSuffix(rpID, "."))
	if rpID == "" {
		return errors.New("the RP ID is empty")
	}
	if host == rpID || strings.HasSuffix(host, "."+rpID) {
		return nil
	}
	if rpID == "localhost" && loopback {
		return nil
	}
	return fmt.Errorf("origin %s cannot use RP ID %q: its host must be the RP ID or a subdomain of it (use -origin https://%s or a subdomain, or -rp-id %s)", origin, rpID, rpID, host)
}

// checkServerRPID checks the rp.id of the server's first registration
// options against -rp-id (if given) and the origin.
func (r *runner) checkServerRPID(optionsJSON []byte) error {
	var o struct {
		PublicKey struct {
			RP struct {
				ID string `json:"id"`
			} `json:"rp"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(optionsJSON, &o); err != nil {
		return fmt.Errorf("registration/begin: not the adapter's JSON: %w", err)
	}
	got := o.PublicKey.RP.ID
	if want := r.t.rpID; want != "" && !strings.EqualFold(got, want) {
		return fmt.Errorf("the server's RP ID is %q, not -rp-id %q: point -target at the deployment you mean, or fix -rp-id", got, want)
	}
	if got == "" {
		return nil // the browser would use the origin's host
	}
	if err := checkOriginRPID(r.t.origin, got); err != nil {
		return fmt.Errorf("the server's RP ID does not fit -origin: %w", err)
	}
	return nil
}
