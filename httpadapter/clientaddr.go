package httpadapter

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// TrustUnixSocket, as a RateLimit.TrustedProxies entry, trusts a proxy that
// connects over a Unix socket: such a peer has no IP address, so without it
// every client would be counted as one ("unknown").
const TrustUnixSocket = "unix"

// Client address headers that Options.RateLimit.ClientIPHeader may name.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded" // RFC 7239
)

// clientAddrs finds the address of the client behind a chain of trusted
// reverse proxies.
type clientAddrs struct {
	trusted []netip.Prefix
	// trustUnix: a peer without an IP address (a proxy on a Unix socket)
	// is trusted (TrustedProxies entry "unix").
	trustUnix bool
	header    string // canonical: HeaderXForwardedFor or HeaderForwarded
}

func newClientAddrs(proxies []string, header string) (clientAddrs, error) {
	ca := clientAddrs{}
	switch {
	case header == "" || strings.EqualFold(header, HeaderXForwardedFor):
		ca.header = HeaderXForwardedFor
	case strings.EqualFold(header, HeaderForwarded):
		ca.header = HeaderForwarded
	default:
		return ca, fmt.Errorf("httpadapter: Options.RateLimit.ClientIPHeader must be %q or %q (got %q)", HeaderXForwardedFor, HeaderForwarded, header)
	}
	for _, p := range proxies {
		p = strings.TrimSpace(p)
		if p == TrustUnixSocket {
			ca.trustUnix = true
			continue
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return ca, fmt.Errorf("httpadapter: Options.RateLimit.TrustedProxies: %q is not a CIDR like 10.0.0.0/8 or an IP address", p)
			}
			prefix = netip.PrefixFrom(addr.Unmap(), addr.Unmap().BitLen())
		}
		if prefix.Addr().Is4In6() {
			prefix = netip.PrefixFrom(prefix.Addr().Unmap(), max(prefix.Bits()-96, 0))
		}
		ca.trusted = append(ca.trusted, prefix.Masked())
	}
	return ca, nil
}

func (ca clientAddrs) isTrusted(a netip.Addr) bool {
	for _, p := range ca.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the client's address: the connection's peer, or, when
// the peer is a trusted proxy, the right-most address in the forwarding
// header that is not a trusted proxy. Entries left of it were written by the
// client itself or by proxies we do not know, so they prove nothing. An
// entry that does not parse stops the walk at the last trusted hop: a
// trusted proxy writes addresses, so garbage there is not evidence of
// anything. The zero Addr means unknown (e.g. a Unix socket peer).
func (ca clientAddrs) clientAddr(r *http.Request) netip.Addr {
	peer := parseHostAddr(r.RemoteAddr)
	if peer.IsValid() && !ca.isTrusted(peer) || !peer.IsValid() && !ca.trustUnix {
		return peer
	}
	addr := peer
	lines := r.Header.Values(ca.header)
	seen := 0
	// Right to left, without splitting the whole header: a client can send
	// a megabyte of entries, and only the right-most few matter.
	for li := len(lines) - 1; li >= 0; li-- {
		rest := lines[li]
		for more := true; more; {
			elem := rest
			if k := strings.LastIndexByte(rest, ','); k >= 0 {
				elem, rest = rest[k+1:], rest[:k]
			} else {
				more = false
			}
			if seen++; seen > maxForwardedHops {
				return addr // no real proxy chain is this long
			}
			elem = strings.TrimSpace(elem)
			if ca.header == HeaderForwarded {
				elem = forwardedFor(elem)
			}
			a := parseHostAddr(elem)
			if !a.IsValid() {
				return addr
			}
			addr = a
			if !ca.isTrusted(a) {
				return a
			}
		}
	}
	return addr // every hop is a trusted proxy: the left-most one
}

// maxForwardedHops bounds the walk through a forwarding header.
const maxForwardedHops = 32

// forwardedFor returns the for= parameter of one Forwarded element
// (RFC 7239 §4), unquoted; "" when absent.
func forwardedFor(elem string) string {
	for pair := range strings.SplitSeq(elem, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "for") {
			return strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return ""
}

// parseHostAddr parses "ip", "ip:port", "[ipv6]" or "[ipv6]:port"; the
// zero Addr if it is none of these. IPv4-mapped IPv6 is unmapped.
func parseHostAddr(s string) netip.Addr {
	if len(s) == 0 || len(s) > 64 {
		return netip.Addr{}
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}
	}
	return a.Unmap()
}

// addrKey is the rate-limit key of an address. An IPv6 host usually holds a
// whole /64 (SLAAC, privacy addresses), so one client is one /64; keying by
// the full address would give each host 2^64 budgets.
func addrKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
