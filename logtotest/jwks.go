package logtotest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/jwkset"
)

// SetJWKSDown makes the JWKS answer 503 Service Unavailable, as when Logto
// or the network in front of it is down, until it is called with false.
func (i *Issuer) SetJWKSDown(down bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwksDown = down
}

// SetJWKSDelay makes the JWKS wait d before it answers, as a slow network
// does; 0 removes the delay. A request whose context ends while it waits
// (the client timed out or went away) gets no answer, and [Issuer.Close]
// answers waiting requests 503 at once.
func (i *Issuer) SetJWKSDelay(d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwksDelay = d
}

// SetJWKSGarbage makes the JWKS answer 200 with a body that is not JSON, as
// a captive portal or a broken proxy may, until it is called with false.
func (i *Issuer) SetJWKSGarbage(garbage bool) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwksGarbage = garbage
}

// JWKSFetches returns how many JWKS requests the issuer received since it
// started or since [Issuer.ResetJWKSFetches]: every request counts, whatever
// its answer (200, 304, or a fault).
func (i *Issuer) JWKSFetches() int { return int(i.fetches.Load()) }

// ResetJWKSFetches sets the count of [Issuer.JWKSFetches] to zero.
func (i *Issuer) ResetJWKSFetches() { i.fetches.Store(0) }

// garbageJWKS is what SetJWKSGarbage serves: a JSON document cut short.
const garbageJWKS = `{"keys":[{"kty":"EC","crv":"P-384","x":`

// serveJWKS answers like Logto's /oidc/jwks: the public keys, with the
// caching headers of Logto 1.40 and an ETag for conditional requests.
func (i *Issuer) serveJWKS(w http.ResponseWriter, r *http.Request) {
	i.fetches.Add(1)
	i.mu.Lock()
	delay := i.jwksDelay
	i.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-i.done:
			http.Error(w, "logtotest: the issuer is closing", http.StatusServiceUnavailable)
			return
		}
	}

	i.mu.Lock()
	down, garbage := i.jwksDown, i.jwksGarbage
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{}}
	for _, k := range i.publishedLocked() {
		set.Keys = append(set.Keys, k.jwk)
	}
	i.mu.Unlock()

	h := w.Header()
	switch {
	case down:
		http.Error(w, "logtotest: the JWKS is down (SetJWKSDown)", http.StatusServiceUnavailable)
		return
	case garbage:
		h.Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write([]byte(garbageJWKS))
		return
	}

	body, err := json.Marshal(set)
	if err != nil {
		http.Error(w, "logtotest: "+err.Error(), http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`
	h.Set("Cache-Control", "no-cache, max-age=0, must-revalidate")
	h.Set("ETag", etag)
	if etagMatches(r.Header.Values("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(body)
}

// etagMatches applies If-None-Match: a list of entity tags, compared weakly
// (a W/ prefix is ignored), or "*".
func etagMatches(values []string, etag string) bool {
	for _, v := range values {
		for _, tag := range strings.Split(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}
