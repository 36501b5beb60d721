package middleware

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/logtoguard/logtoguard/jwks"
	"github.com/logtoguard/logtoguard/scopes"
)

// Validator verifies Logto access tokens. Create one with [New] at start-up,
// share it between all requests and routes, and [Validator.Close] it at
// shutdown. It is safe for concurrent use.
type Validator struct {
	cfg    Config
	parser *jwt.Parser
	trust  map[string]*jwks.Set // issuer -> its key set
	sets   []*jwks.Set
	cache  *cache
}

// New validates cfg and returns a Validator. It starts fetching the
// issuers' keys in the background and does not wait for them: New never
// fails because Logto is unreachable. Use [Validator.WaitReady] to wait for
// keys, [Validator.Ready] for a readiness probe. Until keys are loaded,
// requests wait for a fetch in flight (bounded by the fetch timeout) or are
// answered 503.
func New(cfg Config) (*Validator, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	v := &Validator{
		cfg:   cfg,
		trust: make(map[string]*jwks.Set),
		cache: newCache(cfg.Cache),
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(cfg.Algorithms),
		// exp, iat and nbf are checked by checkLifetime, on claims decoded
		// without an allocation per date.
		jwt.WithoutClaimsValidation(),
		jwt.WithStrictDecoding(),
	)
	tenants := append([]Tenant{{Endpoint: cfg.Endpoint, Issuers: cfg.Issuers, JWKSURL: cfg.JWKSURL}}, cfg.Tenants...)
	if cfg.Endpoint == "" && len(cfg.Issuers) == 0 && cfg.JWKSURL == "" && len(cfg.Tenants) > 0 {
		tenants = tenants[1:]
	}
	for _, t := range tenants {
		if err := v.addTenant(t); err != nil {
			v.Close()
			return nil, err
		}
	}
	return v, nil
}

func (v *Validator) addTenant(t Tenant) error {
	issuers, err := t.issuers()
	if err != nil {
		return err
	}
	if t.JWKSURL != "" {
		if err := checkAbsolute("JWKS URL", t.JWKSURL); err != nil {
			return err
		}
	}
	for _, iss := range issuers {
		if v.trust[iss] != nil {
			return fmt.Errorf("middleware: issuer %q is configured twice", iss)
		}
	}
	var onFetch func(error)
	if h := v.cfg.Hooks.KeyFetch; h != nil {
		onFetch = func(err error) { h(issuers[0], err) }
	}
	set, err := jwks.New(context.Background(), jwks.Options{
		Issuer:          issuers[0],
		URL:             t.JWKSURL,
		Client:          v.cfg.HTTPClient,
		RefreshInterval: v.cfg.RefreshInterval,
		RefetchInterval: v.cfg.RefetchInterval,
		FetchTimeout:    v.cfg.FetchTimeout,
		Logger:          v.cfg.Logger,
		OnFetch:         onFetch,

		// The configured URLs passed checkTransports; this carries the rule
		// to discovered URLs and redirects.
		AllowInsecureHTTP: v.cfg.AllowInsecureHTTP,
	})
	if err != nil {
		return fmt.Errorf("middleware: %w", err)
	}
	v.sets = append(v.sets, set)
	for _, iss := range issuers {
		v.trust[iss] = set
	}
	return nil
}

// Close stops the background key refresh. Verify must not be called after.
func (v *Validator) Close() error {
	for _, s := range v.sets {
		s.Close()
	}
	return nil
}

// Ready reports whether the keys of every trusted issuer are loaded.
func (v *Validator) Ready() bool {
	for _, s := range v.sets {
		if !s.Ready() {
			return false
		}
	}
	return true
}

// WaitReady waits until the keys of every trusted issuer are loaded or ctx
// ends.
func (v *Validator) WaitReady(ctx context.Context) error {
	for _, s := range v.sets {
		if err := s.WaitReady(ctx); err != nil {
			return fmt.Errorf("middleware: %w", err)
		}
	}
	return nil
}

// Audiences returns the configured audiences.
func (v *Validator) Audiences() []string { return slices.Clone(v.cfg.Audiences) }

// Issuers returns every trusted issuer.
func (v *Validator) Issuers() []string {
	out := make([]string, 0, len(v.trust))
	for iss := range v.trust {
		out = append(out, iss)
	}
	slices.Sort(out)
	return out
}

// Verify checks a raw access token (without the "Bearer " prefix) and
// returns its claims. The checks, cheapest first: size; the verified-token
// cache; shape; decoding (claims of the right JSON types) and the algorithm
// allowlist; member names, crit, typ, kid, iss (one of the trusted issuers)
// and aud, all before any key is fetched; the key by kid from that issuer's
// key set, which must fit the algorithm; the signature; exp (required), iat
// and nbf with the leeway; sub (required).
//
// Every error matches one of this package's sentinels with errors.Is and is
// an *[Error] carrying a description for the caller and detail for the log.
func (v *Validator) Verify(ctx context.Context, token string) (*Claims, error) {
	now := v.cfg.Now()
	// The cache holds only tokens that passed every check, keyed by the
	// exact string: a hit needs no precheck, only the size bound first.
	if v.cache != nil && len(token) <= v.cfg.MaxTokenBytes {
		if c, ok := v.cache.get(token, now); ok {
			if h := v.cfg.Hooks.Verified; h != nil {
				h(c, true)
			}
			return c, nil
		}
	}
	if err := v.precheck(token); err != nil {
		if !errors.Is(err, ErrNoToken) { // reported by WriteError
			v.rejected(err, nil, "")
		}
		return nil, err
	}
	c, set, key, err := v.verify(ctx, token, now)
	if err != nil {
		return nil, err
	}
	if v.cache != nil {
		v.cache.put(token, &cacheEntry{claims: c, set: set, key: key, expires: c.ExpiresAt.Add(v.cfg.Leeway)}, now)
	}
	if h := v.cfg.Hooks.Verified; h != nil {
		h(c, false)
	}
	return c, nil
}

// notCompactJWS is 1 for every byte that a compact JWS cannot hold: all
// but base64url and the dot.
var notCompactJWS = func() (t [256]byte) {
	for i := range t {
		t[i] = 1
	}
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_." {
		t[c] = 0
	}
	return t
}()

// precheck rejects what is not a compact JWS before any decoding.
func (v *Validator) precheck(token string) error {
	if token == "" {
		return newError(ErrNoToken, "")
	}
	if len(token) > v.cfg.MaxTokenBytes {
		return fail(CheckSize, ErrMalformed, fmt.Sprintf("token is larger than %d bytes", v.cfg.MaxTokenBytes))
	}
	var bad byte
	for i := 0; i < len(token); i++ {
		bad |= notCompactJWS[token[i]]
	}
	if bad != 0 {
		return fail(CheckCharacters, ErrMalformed, "token is not a JWT (characters outside base64url)")
	}
	dots := strings.Count(token, ".")
	switch dots {
	case 2:
	case 0:
		return newError(ErrOpaqueToken, "token is opaque, not a JWT: request the access token with resource=<your API identifier>")
	case 4:
		return fail(CheckParts, ErrMalformed, "encrypted tokens (JWE) are not accepted")
	default:
		return fail(CheckParts, ErrMalformed, "token is not a JWT (expected three dot-separated parts)")
	}
	first, last := strings.IndexByte(token, '.'), strings.LastIndexByte(token, '.')
	if first == 0 || last == first+1 || last == len(token)-1 {
		return fail(CheckParts, ErrMalformed, "token has an empty part")
	}
	return nil
}

// tokenClaims is what the payload is decoded into; a claim of the wrong JSON
// type fails decoding.
type tokenClaims struct {
	Issuer         string      `json:"iss"`
	Subject        string      `json:"sub"`
	Audience       audience    `json:"aud"`
	ExpiresAt      numericDate `json:"exp"`
	IssuedAt       numericDate `json:"iat"`
	NotBefore      numericDate `json:"nbf"`
	ID             string      `json:"jti"`
	Scope          string      `json:"scope"`
	ClientID       string      `json:"client_id"`
	OrganizationID string      `json:"organization_id"`
}

// tokenClaims implements jwt.Claims; the parser's own claim validation is
// off (see checkLifetime).
func (c *tokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.ExpiresAt.jwt(), nil }
func (c *tokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.IssuedAt.jwt(), nil }
func (c *tokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.NotBefore.jwt(), nil }
func (c *tokenClaims) GetIssuer() (string, error)                   { return c.Issuer, nil }
func (c *tokenClaims) GetSubject() (string, error)                  { return c.Subject, nil }
func (c *tokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings(c.Audience), nil
}

func (v *Validator) verify(ctx context.Context, token string, now time.Time) (*Claims, *jwks.Set, *jwks.Key, error) {
	var (
		tc   tokenClaims
		set  *jwks.Set
		key  *jwks.Key
		kid  string
		kerr *Error
	)
	tok, err := v.parser.ParseWithClaims(token, &tc, func(t *jwt.Token) (any, error) {
		kid, _ = t.Header["kid"].(string)
		kerr = v.checkUnverified(t, &tc)
		if kerr != nil {
			return nil, kerr
		}
		set = v.trust[tc.Issuer]
		var ferr error
		key, ferr = set.Key(ctx, kid, t.Method.Alg())
		switch {
		case ferr == nil:
			return key.Public(), nil
		case errors.Is(ferr, jwks.ErrNotReady):
			kerr = &Error{Kind: ErrKeysUnavailable, Check: CheckKey, Description: "the issuer's signing keys could not be loaded yet", Err: ferr}
		case errors.Is(ferr, jwks.ErrKeyMismatch):
			kerr = &Error{Kind: ErrUnknownKey, Check: CheckKey, Description: "the signing key does not fit the token's algorithm", Err: ferr}
		default:
			kerr = &Error{Kind: ErrUnknownKey, Check: CheckKey, Description: "the token is signed with a key the issuer does not publish", Detail: "kid " + quote(kid), Err: ferr}
		}
		return nil, kerr
	})
	if err == nil {
		if kerr = checkLifetime(&tc, now, v.cfg.Leeway); kerr != nil {
			err = kerr
		} else if tc.Subject == "" {
			err = fail(CheckSub, ErrMalformed, "the sub claim is missing")
		}
	}
	if err != nil {
		e := kerr
		if e == nil {
			e = classify(tok, err, v.cfg.Algorithms)
		}
		v.rejected(e, &tc, kid)
		return nil, nil, nil, e
	}
	c := &Claims{
		Issuer:         tc.Issuer,
		Subject:        tc.Subject,
		Audience:       tc.Audience,
		ClientID:       tc.ClientID,
		Scopes:         scopes.Parse(tc.Scope),
		OrganizationID: tc.OrganizationID,
		ExpiresAt:      tc.ExpiresAt.time(),
		IssuedAt:       tc.IssuedAt.time(),
		JWTID:          tc.ID,
		KeyID:          kid,
		payload:        token[strings.IndexByte(token, '.')+1 : strings.LastIndexByte(token, '.')],
	}
	return c, set, key, nil
}

// checkUnverified runs the checks that need no key, before any key is
// looked up or fetched: member names (no duplicates, no registered claim in
// another case), no critical headers, typ, kid,
// iss and aud.
func (v *Validator) checkUnverified(t *jwt.Token, tc *tokenClaims) *Error {
	if e := v.checkMembers(t.Raw); e != nil {
		return e
	}
	if _, ok := t.Header["crit"]; ok {
		return fail(CheckCrit, ErrMalformed, "the crit header is not supported")
	}
	if !v.cfg.SkipTypeCheck {
		typ, _ := t.Header["typ"].(string)
		if !IsAccessTokenType(typ) {
			e := newError(ErrTokenType, "the token is not an access token (typ "+quote(typ)+", want at+jwt)")
			if strings.EqualFold(typ, "JWT") || typ == "" {
				e.Description += ": is it an ID token? Send the access token requested with resource=<your API identifier>"
			}
			return e
		}
	}
	if kid, ok := t.Header["kid"].(string); !ok || kid == "" {
		return fail(CheckKID, ErrMalformed, "the kid header is missing")
	}
	if v.trust[tc.Issuer] == nil {
		e := newError(ErrIssuer, "the token's issuer "+quote(tc.Issuer)+" is not trusted by this API")
		if strings.HasSuffix(tc.Issuer, "/oidc") {
			e.Description += ": if it is your Logto tenant on a custom domain, add it to the trusted issuers"
		}
		e.Detail = "trusted issuers: " + strings.Join(v.Issuers(), ", ")
		return e
	}
	if !v.audienceOK(tc.Audience) {
		e := newError(ErrAudience, "the token's audience "+quote(strings.Join(tc.Audience, " "))+" is not this API")
		for _, a := range tc.Audience {
			if IsManagementAudience(a) {
				e.Description = "the token is for Logto's Management API, not this API: request it with resource=<your API identifier>"
			}
		}
		if len(tc.Audience) == 0 {
			e.Description = "the token has no audience: request it with resource=<your API identifier>"
		}
		e.Detail = "expected one of [" + strings.Join(v.cfg.Audiences, ", ") + "], received [" + strings.Join(tc.Audience, ", ") + "]"
		return e
	}
	return nil
}

func (v *Validator) audienceOK(aud []string) bool {
	for _, a := range aud {
		if slices.Contains(v.cfg.Audiences, a) {
			return true
		}
		if v.cfg.AcceptOrganizationTokens && len(a) > len(OrganizationAudiencePrefix) && strings.HasPrefix(a, OrganizationAudiencePrefix) {
			return true
		}
	}
	return false
}

// classify turns a golang-jwt error into one of ours.
func classify(tok *jwt.Token, err error, allowed []string) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if tok != nil && tok.Header != nil {
		if alg, _ := tok.Header["alg"].(string); !slices.Contains(allowed, alg) {
			return &Error{Kind: ErrAlgorithm, Check: CheckAlgorithm, Description: "algorithm " + quote(alg) + " is not allowed", Err: err}
		}
	}
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return &Error{Kind: ErrSignature, Check: CheckSignature, Description: "the token's signature is invalid", Err: err}
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return &Error{Kind: ErrAlgorithm, Check: CheckAlgorithm, Description: "the token's algorithm is not supported", Err: err}
	case errors.As(err, new(base64.CorruptInputError)):
		return &Error{Kind: ErrMalformed, Check: CheckEncoding, Description: "the token is not valid base64url", Err: err}
	default:
		return &Error{Kind: ErrMalformed, Check: CheckJSON, Description: "the token is malformed", Err: err}
	}
}

// quote returns s quoted and cut short, safe to embed in a description.
func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// rejected logs a rejection and calls the Rejected hook. tc holds the
// unverified claims when the token got that far.
func (v *Validator) rejected(err error, tc *tokenClaims, kid string) {
	if h := v.cfg.Hooks.Rejected; h != nil {
		h(err)
	}
	level := slog.LevelDebug
	switch {
	case errors.Is(err, ErrAudience), errors.Is(err, ErrIssuer), errors.Is(err, ErrTokenType),
		errors.Is(err, ErrOpaqueToken), errors.Is(err, ErrKeysUnavailable):
		level = slog.LevelInfo
	}
	ctx := context.Background()
	if !v.cfg.Logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{slog.String("reason", err.Error()), slog.String("check", CheckOf(err).String())}
	if tc != nil {
		attrs = append(attrs, slog.String("iss", tc.Issuer), slog.String("sub", tc.Subject),
			slog.String("client_id", tc.ClientID), slog.String("kid", kid))
	}
	v.cfg.Logger.LogAttrs(ctx, level, "logtoguard: token rejected", attrs...)
}
