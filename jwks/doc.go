// Package jwks keeps the signing keys of a Logto tenant (its JSON Web Key Set)
// in memory, fresh, and available to every request without a network call.
//
// A [Set] is created with [New] from either the issuer (the JWKS URL is then
// found through OpenID Connect discovery, and the issuer in the discovery
// document must equal the configured one) or an explicit JWKS URL. New never
// touches the network itself and never fails because Logto is unreachable:
// the first fetch runs in the background, is retried with exponential backoff
// until it succeeds, and [Set.Ready] and [Set.WaitReady] tell when keys are
// loaded.
//
// # Lifecycle
//
//   - Background refresh every [Options.RefreshInterval] (default
//     [DefaultRefreshInterval], 10 minutes). A successful refresh replaces the
//     whole set: a key that Logto removed stops verifying. A failed refresh
//     keeps the last good keys and is retried with backoff.
//   - A token signed with a kid that is not in the set triggers one refetch, so
//     the first token after an immediate rotation in the Logto console is
//     accepted at once. Concurrent requests share one fetch, and such refetches
//     happen at most once per [Options.RefetchInterval] (default
//     [DefaultRefetchInterval], 10 seconds): a flood of tokens with random kids
//     costs Logto at most one request per window. A request never waits for
//     that window; when a refetch is not allowed it is judged with the keys in
//     hand.
//   - Everything stops on [Set.Close] or when the context given to New ends.
//
// # Fetch hygiene
//
// Every fetch has a timeout ([Options.FetchTimeout]), accepts only 200 (or 304
// for an unchanged set, using the ETag Logto sends), reads at most
// [Options.MaxBodyBytes], follows redirects only on the same host, and skips
// keys it cannot use (private, symmetric, for encryption, on unsupported
// curves, RSA under 2048 bits, without a kid) while keeping the rest. A set
// with no usable key at all is treated as a failed fetch.
//
// JWKS documents are parsed by github.com/MicahParks/jwkset, and each key
// is resolved through github.com/MicahParks/keyfunc/v3 once when a set is
// loaded; requests then read an immutable map.
package jwks
