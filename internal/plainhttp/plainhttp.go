// Package plainhttp tells a plain-http URL that leaves the machine from one
// that stays on it. The core refuses the first by default: keys fetched over
// plain http from another host can be replaced by anyone on the path, and
// with them every token.
package plainhttp

import (
	"net/netip"
	"net/url"
	"strings"
)

// Remote reports whether u is plain http to a host that is not loopback:
// localhost, 127.0.0.0/8 and ::1 (IPv4-mapped forms included) are loopback;
// every other name or address, private ones such as 10.0.0.5 or a Docker
// Compose service name, is not.
func Remote(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, "http") && !Loopback(u.Hostname())
}

// Loopback reports whether host (without port or brackets) names the local
// machine's loopback interface.
func Loopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	return ip.Unmap().IsLoopback()
}
