// Command logtoguard explains why an API refuses a Logto access token, and
// decides on requests for a proxy in front of any API.
//
// Usage:
//
//	logtoguard inspect [TOKEN|-]
//	logtoguard verify --endpoint URL --audience API [flags] [TOKEN|-]
//	logtoguard serve --config FILE
//	logtoguard dev [flags]
//	logtoguard dev token [flags]
//	logtoguard version
//	logtoguard help
//
// inspect decodes a token without verifying it and says what it is: an
// access token for an API resource, an organization token, an ID token, an
// opaque token, a Management API token, an encrypted token. It shows the
// header, issuer, audience, subject, client, organization, scopes and
// lifetime, with hints for the common mistakes.
//
// verify runs the checks an API protected by logtoguard runs, against the
// tenant's real keys, and prints one line per check. It exits 0 when the
// token is valid, 1 when it is not, and 2 on a usage error or when the keys
// cannot be loaded.
//
// serve is a decision service for a reverse proxy (nginx auth_request,
// Caddy, Traefik ForwardAuth, Envoy ext_authz over HTTP and gRPC): per-route
// requirements from a YAML file, 200 with X-Logto-* identity headers or the
// library's refusal. See logtoguard serve --help and the README section
// "Protect any API behind a proxy".
//
// dev runs a Logto-compatible issuer on localhost until stopped, for trying
// an API or serve without a Logto tenant: it prints LOGTO_ENDPOINT, a
// machine-to-machine app and a token, and dev token mints more.
//
// The token is read from the argument, or from standard input when the
// argument is "-" or missing; a leading "Bearer " is stripped. Reading it
// from standard input keeps it out of the shell history.
package main

import "os"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
