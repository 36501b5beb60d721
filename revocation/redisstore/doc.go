// Package redisstore is a [revocation.Store] on Redis, for an API served by
// several replicas: a revocation recorded on any replica (a Logto webhook
// that reached it, or a call to Revoke) is refused by every replica at
// once.
//
// # How it works
//
// Each replica keeps every revocation in a local [revocation.Memory], which
// answers [Store.Revoked] on the request's path: a map lookup, never a
// network call, whatever state Redis is in. The store counts its changes
// ([Store.Version], a [revocation.Versioned]), so that the validator does
// not look a cached token up again while nothing changed: every entry
// applied counts, and so does the store going out of sync, after which
// [Config.FailClosed] refuses cached tokens too.
//
// [Store.Revoke] runs one Lua script in Redis that merges the entry into the
// one held under its key (a hash, expiring at the entry's Until, so Redis
// forgets it when no token it names can still be valid) and publishes the
// merged entry on a pub/sub channel. Every replica is subscribed and applies
// what it receives to its local copy.
//
// Pub/sub delivers only to replicas connected when a message is published.
// So on every connection, first at start and again after any lost
// connection, a replica subscribes first and then reads every entry Redis
// holds (SCAN and HGETALL): an entry recorded before the subscription is in
// that load, one recorded after reaches the subscription. Until that load
// ends the replica is not in sync: [Store.Ready] is false (a readiness
// probe keeps new replicas out of the load balancer), and with
// [Config.FailClosed] every token is refused.
//
// # Wiring
//
// The store is the validator's Config.Revocations; Logto's webhook receiver
// (package webhook) records through the validator, which sets how long
// entries live; a readiness probe asks both the validator (keys loaded) and
// the store (in sync). Example (replica) shows it whole.
//
// # When Redis is down
//
//   - Every replica keeps what it has and goes on refusing those tokens.
//     [Store.Ready] reports false; [Store.Stats] says why and counts the
//     disconnections, for metrics and alerts.
//   - [Store.Revoke] returns an error: the entry is not in Redis, so other
//     replicas do not have it. The webhook receiver answers 503 and Logto
//     delivers the event again; the replica that got it refuses the tokens
//     at once all the same, and records the entry in Redis itself once
//     Redis is back. A write that fails while the subscription stays up
//     (Redis out of memory, a timeout) makes the replica load again all
//     the same, so that it records the entry once Redis takes it. A caller
//     that goes away (Logto hanging up) does not cancel the write.
//   - Revocations recorded on other replicas cannot reach this one. By
//     default its API keeps serving, accepting tokens revoked elsewhere
//     meanwhile; [Config.FailClosed] refuses every token instead, trading
//     availability for that window.
//   - When Redis is back, every replica reconnects (with backoff, from
//     [Config.RetryWait] to [Config.MaxRetryWait]), loads again, and is in
//     sync.
//
// A connection that stays open but falls silent (a peer gone without a
// word) is found by a ping after [Config.HealthInterval] without traffic.
//
// # Running Redis for it
//
// Redis is where revocations outlive a replica. Give it persistence
// (appendonly yes) so a restarted Redis still holds them. Without it,
// after every load each replica records again the entries it holds that
// Redis lacks, so a Redis that lost its data gets back what any replica
// still up remembers; but if every replica restarted too, they are gone. Redis Cluster is
// not supported; a single server or Sentinel (redis.NewFailoverClient) is.
// Several fleets (tenants) share one Redis with different [Config.Prefix].
// The full load scans the keys of the client's database: on a Redis that
// holds much else, give the store a database of its own (redis://host/N)
// so that a load reads only its entries.
//
// Whoever can write to Redis or publish on its channel can revoke any
// token of the API (deny service), and can delete entries so that
// replicas started later miss them; replicas already holding an entry keep
// it, since entries only merge towards a later At and Until. For the same
// reason a revocation cannot be withdrawn by deleting its key: replicas
// keep it until its Until, and record it again after their next load. Treat access
// to Redis as access to the API's sign-out button: a password or ACL user,
// TLS (rediss://) off the host, no exposure beyond the replicas.
//
// The store uses github.com/redis/go-redis/v9, the client Redis itself
// maintains; it lives in this module of its own, so the core module of
// logtoguard does not depend on it.
package redisstore
