package revocation

import "context"

// Store holds revocations. It is small so that it can be put on anything:
// [Memory] is the default, and a store shared by several replicas (Redis)
// lives in a module of its own. Implementations are safe for concurrent use.
type Store interface {
	// Revoke records e. An error means it was not recorded (the entry is
	// invalid, the store is full, its backend is down): a webhook must then
	// not acknowledge the event (it answers 503, so Logto retries).
	Revoke(ctx context.Context, e Entry) error
	// Revoked reports the entry that refuses t, if any. It is on every
	// request's path, after a cache hit too: it is local and fast, and
	// never waits on a network.
	Revoked(t Token) (Entry, bool)
}

// Versioned is a [Store] that counts its changes, so that a caller can
// remember that a token was not refused and skip the next lookup while
// nothing changed: the validator does so on every cache hit. [Memory]
// implements it, and so does the Redis store (module revocation/redisstore).
type Versioned interface {
	Store
	// Version grows after every change that could refuse a token that
	// Revoked did not refuse before (an entry recorded or extended), and
	// only once Revoked can see that change: a token that Revoked did not
	// refuse, looked up after Version returned n, is not refused by
	// anything recorded before Version returned n.
	Version() uint64
}
