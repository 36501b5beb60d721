package jwks

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/logtoguard/logtoguard/internal/plainhttp"
)

// minRSABits is the smallest RSA key accepted (RFC 7518, section 3.3).
const minRSABits = 2048

// fetch loads the set once: discovery if needed, then the JWKS.
func (s *Set) fetch(ctx context.Context) (err error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.FetchTimeout)
	defer cancel()
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrFetch, err)
			if s.ctx.Err() == nil {
				s.logFailure(err)
			}
		}
		if s.opts.OnFetch != nil {
			s.opts.OnFetch(err)
		}
	}()

	jwksURL, err := s.resolve(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	etag := s.etag
	s.mu.Unlock()
	header := http.Header{"Accept": {"application/jwk-set+json, application/json"}}
	if etag != "" && s.snap.Load() != nil {
		header.Set("If-None-Match", etag)
	}
	body, resp, err := s.get(ctx, jwksURL, header)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusNotModified {
		if s.snap.Load() == nil {
			return errors.New("304 Not Modified before any key set was loaded")
		}
		return nil
	}
	snap, err := s.parse(body)
	if err != nil {
		return err
	}
	s.snap.Store(snap)
	s.mu.Lock()
	s.etag = resp.Header.Get("ETag")
	s.mu.Unlock()
	return nil
}

// logFailure logs a failed fetch with the URL it tried: the JWKS URL, or
// the discovery document while the JWKS URL is not known yet.
func (s *Set) logFailure(err error) {
	tried := s.currentURL()
	if tried == "" {
		tried = s.discoveryURL()
	}
	if s.snap.Load() == nil {
		s.log.Warn("jwks: fetch failed and no keys are loaded yet; retrying with backoff", "issuer", s.opts.Issuer, "url", tried, "error", err)
		return
	}
	s.log.Warn("jwks: fetch failed; keeping the last good keys", "issuer", s.opts.Issuer, "url", tried, "error", err)
}

func (s *Set) discoveryURL() string {
	return strings.TrimSuffix(s.opts.Issuer, "/") + "/.well-known/openid-configuration"
}

func (s *Set) currentURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jwksURL
}

// resolve returns the JWKS URL, running discovery until it has succeeded
// once.
func (s *Set) resolve(ctx context.Context) (string, error) {
	if u := s.currentURL(); u != "" {
		return u, nil
	}
	discovery := s.discoveryURL()
	body, _, err := s.get(ctx, discovery, http.Header{"Accept": {"application/json"}})
	if err != nil {
		return "", fmt.Errorf("discovery: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery %s: %w", discovery, err)
	}
	if doc.Issuer != s.opts.Issuer {
		return "", fmt.Errorf("discovery %s: issuer %q does not match the configured issuer %q", discovery, doc.Issuer, s.opts.Issuer)
	}
	jwksURL, err := discovered(s.opts.Issuer, doc.JWKSURI, s.opts.AllowInsecureHTTP)
	if err != nil {
		return "", fmt.Errorf("discovery %s: %w", discovery, err)
	}
	s.mu.Lock()
	s.jwksURL = jwksURL
	s.mu.Unlock()
	return jwksURL, nil
}

// discovered returns the JWKS URL to use for a jwks_uri read from the
// issuer's discovery document: on the issuer's host (see sameOrigin), and
// plain http only to loopback unless allowInsecure. New refuses a plain-http
// issuer that is not loopback, so the last rule holds only if the rules
// before it change; it is kept so that the keys' URL never depends on them.
func discovered(issuer, jwksURI string, allowInsecure bool) (string, error) {
	jwksURL, err := sameOrigin(issuer, jwksURI)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(jwksURL)
	if err != nil {
		return "", err
	}
	if !allowInsecure && plainhttp.Remote(u) {
		return "", fmt.Errorf("jwks_uri %q is plain http to a host that is not loopback: use https, or set AllowInsecureHTTP for a Logto reached on a private network", jwksURL)
	}
	return jwksURL, nil
}

// sameOrigin checks that a discovered jwks_uri is on the issuer's host and
// upgrades it to https when the issuer is https (Logto behind a TLS proxy
// reports http URLs).
func sameOrigin(issuer, jwksURI string) (string, error) {
	iu, err := url.Parse(issuer)
	if err != nil {
		return "", err
	}
	ju, err := url.Parse(jwksURI)
	if err != nil || ju.Host == "" || (ju.Scheme != "http" && ju.Scheme != "https") {
		return "", fmt.Errorf("jwks_uri %q is not an absolute http(s) URL", jwksURI)
	}
	if !strings.EqualFold(ju.Hostname(), iu.Hostname()) {
		return "", fmt.Errorf("jwks_uri %q is not on the issuer's host %q; set the JWKS URL explicitly to trust it", jwksURI, iu.Host)
	}
	if iu.Scheme == "https" && ju.Scheme == "http" {
		ju.Scheme = "https"
		ju.Host = iu.Host
	}
	return ju.String(), nil
}

// get performs one bounded GET and returns the body of a 200 (nil for 304).
func (s *Set) get(ctx context.Context, u string, header http.Header) ([]byte, *http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header = header
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	limited := io.LimitReader(resp.Body, s.opts.MaxBodyBytes+1)
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		return nil, resp, nil
	default:
		_, _ = io.Copy(io.Discard, limited)
		return nil, nil, fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	body, err := io.ReadAll(limited)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(body)) > s.opts.MaxBodyBytes {
		return nil, nil, fmt.Errorf("GET %s: body larger than %d bytes", u, s.opts.MaxBodyBytes)
	}
	return body, resp, nil
}

// parse turns a JWKS document into a snapshot, skipping unusable keys and
// keeping the *Key of every key that is unchanged since the last snapshot.
func (s *Set) parse(body []byte) (*snapshot, error) {
	var doc jwkset.JWKSMarshal
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("JWKS is not a JSON key set: %w", err)
	}
	prev := s.snap.Load()
	keys := make(map[string]*Key, len(doc.Keys))
	store := jwkset.NewMemoryStorage()
	for i, m := range doc.Keys {
		k, jwk, err := usable(m)
		if err != nil {
			s.log.Debug("jwks: skipping a key", "index", i, "kid", m.KID, "reason", err)
			continue
		}
		if keys[k.id] != nil {
			s.log.Debug("jwks: skipping a key with a duplicate kid", "index", i, "kid", m.KID)
			continue
		}
		if prev != nil {
			if old := prev.keys[k.id]; old != nil && old.alg == k.alg && samePublic(old, k) {
				k = old
			}
		}
		keys[k.id] = k
		if err := store.KeyWrite(context.Background(), jwk); err != nil {
			return nil, err
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS has no usable signing key (%d keys in the document)", len(doc.Keys))
	}
	// Every key is resolved once through keyfunc, as a token naming it
	// would be, so that its checks of the JWK apply; requests then read the
	// snapshot's map without building a header per call.
	kf, err := keyfunc.New(keyfunc.Options{Storage: store})
	if err != nil {
		return nil, err
	}
	for kid, k := range keys {
		pub, err := kf.Keyfunc(&jwt.Token{Header: map[string]any{"kid": kid, "alg": k.alg}})
		if err != nil || !samePublic(k, &Key{public: pub}) {
			s.log.Debug("jwks: skipping a key keyfunc refuses", "kid", kid, "reason", err)
			delete(keys, kid)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("JWKS has no usable signing key (%d keys in the document)", len(doc.Keys))
	}
	return &snapshot{keys: keys}, nil
}

// usable parses one JWK and says why it cannot verify Logto tokens, if so.
func usable(m jwkset.JWKMarshal) (*Key, jwkset.JWK, error) {
	if m.KID == "" {
		return nil, jwkset.JWK{}, errors.New("no kid")
	}
	if m.USE != "" && m.USE != jwkset.UseSig {
		return nil, jwkset.JWK{}, fmt.Errorf("use %q", m.USE)
	}
	if len(m.KEYOPS) > 0 && !containsOp(m.KEYOPS, jwkset.KeyOpsVerify) {
		return nil, jwkset.JWK{}, errors.New("key_ops without verify")
	}
	if m.KTY != jwkset.KtyEC && m.KTY != jwkset.KtyRSA {
		return nil, jwkset.JWK{}, fmt.Errorf("kty %q", m.KTY)
	}
	if m.D != "" || m.P != "" || m.Q != "" {
		return nil, jwkset.JWK{}, errors.New("private key material in a public key set")
	}
	// x5u would make the parser fetch a URL taken from the document.
	m.X5U = ""
	jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return nil, jwkset.JWK{}, err
	}
	k := &Key{id: m.KID, alg: string(m.ALG), public: jwk.Key()}
	switch pub := k.public.(type) {
	case *ecdsa.PublicKey:
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return nil, jwkset.JWK{}, fmt.Errorf("RSA key of %d bits", pub.N.BitLen())
		}
	default:
		return nil, jwkset.JWK{}, fmt.Errorf("key type %T", pub)
	}
	if _, ok := curveOf(k.alg); !ok && k.alg != "" {
		return nil, jwkset.JWK{}, fmt.Errorf("alg %q", k.alg)
	}
	if k.alg != "" && !k.Fits(k.alg) {
		return nil, jwkset.JWK{}, fmt.Errorf("alg %q does not fit the key", k.alg)
	}
	return k, jwk, nil
}

func containsOp(ops []jwkset.KEYOPS, op jwkset.KEYOPS) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

func samePublic(a, b *Key) bool {
	eq, ok := a.public.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b.public)
}
