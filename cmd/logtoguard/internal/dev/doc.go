// Package dev is logtoguard dev: a Logto-compatible issuer on localhost, to
// try an API, the quick start or logtoguard serve before a Logto tenant
// exists.
//
//	logtoguard dev [--listen ADDR] [--resource API] [--scope S]... [--sub USER] [--organization ORG] [--expires D]
//	logtoguard dev token [--scope S]... [--sub USER] [--organization ORG] [--expires D] [--resource API]
//
// dev runs the issuer of package logtotest until it is stopped (SIGINT or
// SIGTERM): discovery, the JWKS and the client credentials token endpoint,
// as a Logto tenant serves them under /oidc. It registers an API resource
// and a machine-to-machine app with a random ID and secret, prints the
// endpoint to put in LOGTO_ENDPOINT, the app's credentials and a token
// ready to send, and rotates its signing key on SIGHUP (Logto's immediate
// rotation: tokens signed by the old key are refused from then on).
//
// More tokens come from POST /dev/token, authenticated with the app's ID
// and secret (HTTP Basic), which mints any token the flags describe: a
// user's (--sub), an organization's (--organization), any lifetime.
// logtoguard dev token is its client: it finds the running issuer and its
// credentials in a file of the user's cache directory (mode 0600), which dev
// writes on start and removes on exit.
//
// The issuer listens on 127.0.0.1 only, and is for development: an API
// that trusts it trusts whoever holds the printed secret.
package dev
