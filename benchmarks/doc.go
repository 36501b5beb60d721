// Package benchmarks compares logtoguard with other Go libraries that verify
// JWT access tokens, on the same Logto-shaped tokens and the same checks (iss,
// aud, exp, an algorithm allowlist), with keys fetched from a real JWKS on
// 127.0.0.1. Everything is in the _test.go files and in cmd/load; see
// README.md for how to run them and for the results.
package benchmarks
