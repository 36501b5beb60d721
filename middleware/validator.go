package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/logtoguard/logtoguard/internal/logto"
	"github.com/logtoguard/logtoguard/jwks"
	"github.com/logtoguard/logtoguard/revocation"
	"github.com/logtoguard/logtoguard/scopes"
)

// Validator verifies Logto access tokens. Create one with [New] at start-up,
// share it between all requests and routes, and [Validator.Close] it at
// shutdown. It is safe for concurrent use.
type Validator struct {
	cfg     Config
	parser  *jwt.Parser                  // decodes base64url, strictly
	methods map[string]jwt.SigningMethod // the allowed algorithms
	trust   map[string]*jwks.Set         // issuer -> its key set
	sets    []*jwks.Set
	cache   *cache
	// versioned is Config.Revocations when it counts its changes: a cache
	// hit then skips the lookup while the store is unchanged.
	versioned revocation.Versioned

	admission       *admission // nil when disabled
	flights         flights
	signatureChecks atomic.Int64 // for tests: every signature verified
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
		cfg:       cfg,
		trust:     make(map[string]*jwks.Set),
		cache:     newCache(cfg.Cache),
		admission: newAdmission(cfg.Admission),
	}
	v.versioned, _ = cfg.Revocations.(revocation.Versioned)
	// Strict: no padding, no non-canonical trailing bits.
	v.parser = jwt.NewParser(jwt.WithStrictDecoding())
	v.methods = make(map[string]jwt.SigningMethod, len(cfg.Algorithms))
	for _, alg := range cfg.Algorithms {
		v.methods[alg] = jwt.GetSigningMethod(alg) // every allowed alg is registered
	}
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
// returns its claims. The checks, cheapest first, so that a token that is
// not genuine costs little:
//
//   - size, then the verified-token cache, then characters and parts;
//   - header and claims decoded once each (strict base64url), their shape
//     bounded in one pass that allocates nothing (nesting depth, number of
//     members) before any JSON decoding, then decoded: claims of the right
//     JSON types;
//   - without a key: alg in the allowlist, member names (none twice, no
//     registered name in another case), no crit, typ, kid, iss (one of the
//     trusted issuers), aud, exp and iat (required), nbf, sub (required);
//   - the key by kid from that issuer's key set (which must fit alg; an
//     unknown kid may cause one rate-limited refetch), and the signature,
//     admitted by [AdmissionConfig]. Concurrent requests with the same
//     token share one signature check;
//   - last, after a signature check and after a cache hit alike, the
//     revocations of Config.Revocations ([ErrRevoked]).
//
// Every error matches one of this package's sentinels with errors.Is and is
// an *[Error] carrying the failed [Check], a description for the caller and
// detail for the log. A nil ctx is taken as context.Background().
func (v *Validator) Verify(ctx context.Context, token string) (*Claims, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	now := v.cfg.Now()
	// The cache holds only tokens that passed every check, keyed by the
	// exact string: a hit needs no precheck, only the size bound first.
	if v.cache != nil && len(token) <= v.cfg.MaxTokenBytes {
		if e, ok := v.cache.get(token, now); ok {
			if err := v.checkRevokedHit(e); err != nil {
				v.rejected(err, nil)
				return nil, err
			}
			v.verified(e.claims, true)
			return e.claims, nil
		}
	}
	if err := v.precheck(token); err != nil {
		if !errors.Is(err, ErrNoToken) { // reported by WriteError
			v.rejected(err, nil)
		}
		return nil, err
	}
	u := &unverified{}
	if err := v.decode(token, u); err != nil {
		v.rejected(err, nil)
		return nil, err
	}
	if err := v.checkUnverified(u, now); err != nil {
		v.rejected(err, u)
		return nil, err
	}
	c, shared, err := v.verifyShared(ctx, token, u, now)
	if err != nil {
		v.rejected(err, u)
		return nil, err
	}
	if err := v.checkRevoked(c); err != nil {
		v.rejected(err, u)
		return nil, err
	}
	v.verified(c, shared)
	return c, nil
}

func (v *Validator) verified(c *Claims, cached bool) {
	if h := v.cfg.Hooks.Verified; h != nil {
		h(c, cached)
	}
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
func (v *Validator) precheck(token string) *Error {
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

// unverified is a token decoded, before its signature is checked.
type unverified struct {
	header joseHeader
	claims tokenClaims
	// rawHeader and rawClaims are the decoded JSON, for the member-name
	// check.
	rawHeader, rawClaims []byte
	// signed is what the signature covers (header.payload as sent), payload
	// the claims part and sig the signature part, still encoded.
	signed, payload, sig string
}

// joseHeader holds the header members this package reads; the others are
// skipped by the decoder, never built into values. A member of another
// JSON type than the one it must have is kept as absent-or-wrong, so that
// the check that reads it says what is wrong.
type joseHeader struct {
	Alg  jsonString `json:"alg"`
	Typ  jsonString `json:"typ"`
	Kid  jsonString `json:"kid"`
	Crit jsonAny    `json:"crit"`
}

// headerNames are the members of joseHeader: like claimNames, a member
// that folds to one of them but is not exactly it is refused.
var headerNames = []string{"alg", "typ", "kid", "crit"}

// jsonString is a member that must be a string: s holds it when it is one.
type jsonString struct {
	s  string
	ok bool
}

func (j *jsonString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		j.ok = json.Unmarshal(b, &j.s) == nil
	} else {
		*j = jsonString{}
	}
	return nil
}

// jsonAny records that a member is present, whatever its value (null too).
type jsonAny struct{ present bool }

func (j *jsonAny) UnmarshalJSON([]byte) error {
	j.present = true
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
	Act            actClaim    `json:"act"`
}

// decode decodes the header and the claims once each. Before the JSON
// decoding of each, structureProblem bounds its shape in one pass that
// allocates nothing, so that the decoder's work stays linear and small.
func (v *Validator) decode(token string, u *unverified) *Error {
	first, last := strings.IndexByte(token, '.'), strings.LastIndexByte(token, '.')
	u.signed, u.payload, u.sig = token[:last], token[first+1:last], token[last+1:]
	hb, err := v.parser.DecodeSegment(token[:first])
	if err != nil {
		return &Error{Kind: ErrMalformed, Check: CheckEncoding, Description: "the token is not valid base64url", Detail: "header", Err: err}
	}
	if p := structureProblem(hb, maxHeaderMembers); p != "" {
		return fail(CheckStructure, ErrMalformed, "the token's header "+p)
	}
	if err := json.Unmarshal(hb, &u.header); err != nil {
		return &Error{Kind: ErrMalformed, Check: CheckJSON, Description: "the token is malformed", Detail: "the header is not a JSON object", Err: err}
	}
	cb, err := v.parser.DecodeSegment(u.payload)
	if err != nil {
		return &Error{Kind: ErrMalformed, Check: CheckEncoding, Description: "the token is not valid base64url", Detail: "claims", Err: err}
	}
	if p := structureProblem(cb, maxClaimMembers); p != "" {
		return fail(CheckStructure, ErrMalformed, "the token's claims "+p)
	}
	if err := json.Unmarshal(cb, &u.claims); err != nil {
		if errors.Is(err, errTooManyAudiences) {
			return &Error{Kind: ErrMalformed, Check: CheckStructure, Description: fmt.Sprintf("the token's aud claim holds more than %d values", maxAudiences), Err: err}
		}
		return &Error{Kind: ErrMalformed, Check: CheckJSON, Description: "the token is malformed", Detail: "the claims are not a JSON object of claims of the right types", Err: err}
	}
	u.rawHeader, u.rawClaims = hb, cb
	return nil
}

// checkUnverified runs every check that needs no key, before any key is
// looked up or fetched: alg, member names (a duplicate is named as such,
// whichever copy the decoder kept), crit, typ, kid, iss, aud, lifetime and
// sub. Each is linear in the token's size and small next to a signature
// check, which only a token that passes them all reaches.
func (v *Validator) checkUnverified(u *unverified, now time.Time) *Error {
	h, tc := &u.header, &u.claims
	if !h.Alg.ok || v.methods[h.Alg.s] == nil {
		if !h.Alg.ok {
			return fail(CheckAlgorithm, ErrAlgorithm, "the token names no algorithm (alg)")
		}
		return fail(CheckAlgorithm, ErrAlgorithm, "algorithm "+quote(h.Alg.s)+" is not allowed")
	}
	if p := memberProblem(u.rawHeader, headerNames); p != "" {
		return fail(CheckMembers, ErrMalformed, "the token's header "+p)
	}
	if p := memberProblem(u.rawClaims, claimNames[:]); p != "" {
		return fail(CheckMembers, ErrMalformed, "the token's claims "+p)
	}
	if h.Crit.present {
		return fail(CheckCrit, ErrMalformed, "the crit header is not supported")
	}
	if !v.cfg.SkipTypeCheck && !logto.IsAccessTokenType(h.Typ.s) {
		e := newError(ErrTokenType, "the token is not an access token (typ "+quote(h.Typ.s)+", want at+jwt)")
		if strings.EqualFold(h.Typ.s, "JWT") || h.Typ.s == "" {
			e.Description += ": is it an ID token? Send the access token requested with resource=<your API identifier>"
		}
		return e
	}
	if !h.Kid.ok || h.Kid.s == "" {
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
	if e := v.checkAudience(tc.Audience); e != nil {
		return e
	}
	if e := checkLifetime(tc, now, v.cfg.Leeway, v.cfg.MaxTokenLifetime); e != nil {
		return e
	}
	if tc.Subject == "" {
		return fail(CheckSub, ErrMalformed, "the sub claim is missing")
	}
	if tc.Subject == tc.ClientID && isURLClientID(tc.ClientID) {
		// sub == client_id marks a machine-to-machine token, and Logto
		// gives those only to apps with an App ID: a URL client ID (a
		// Client ID Metadata Document) names a public client, which has
		// no client credentials grant, and no Logto user ID is a URL.
		return fail(CheckSub, ErrMalformed, "the sub claim equals a URL client_id, which Logto never issues")
	}
	if p := tc.Act.problem; tc.Act.present && p != "" {
		return fail(CheckAct, ErrMalformed, "the token's act claim "+p)
	}
	return nil
}

// checkAudience accepts aud when it names one of the configured audiences,
// or, with AcceptOrganizationTokens, when every value is an organization
// audience (see [OrganizationAudience]). A token whose audiences mix the two is
// refused: Logto never issues one, and it would be an organization token
// to Verify and an API token to [Claims.IsOrganizationToken].
func (v *Validator) checkAudience(aud []string) *Error {
	orgs := organizationAudiences(aud)
	detail := func() string {
		return "expected one of [" + strings.Join(v.cfg.Audiences, ", ") + "], received " + textList(aud)
	}
	switch {
	case len(aud) == 0:
		return newError(ErrAudience, "the token has no audience: request it with resource=<your API identifier>")
	case orgs > 0 && orgs < len(aud):
		e := newError(ErrAudience, "the token's audiences mix organization and other values")
		e.Detail = detail()
		return e
	case orgs > 0 && v.cfg.AcceptOrganizationTokens:
		return nil
	case orgs == 0:
		for _, a := range aud {
			if slices.Contains(v.cfg.Audiences, a) {
				return nil
			}
		}
	}
	// What the error says is capped: the first audiences only.
	first := aud[:min(len(aud), 5)]
	e := newError(ErrAudience, "the token's audience "+quote(strings.Join(first, " "))+" is not this API")
	for _, a := range first {
		if logto.IsManagementAudience(a) {
			e.Description = "the token is for Logto's Management API, not this API: request it with resource=<your API identifier>"
			break
		}
	}
	e.Detail = detail()
	return e
}

// verifySignature finds the key by kid in the issuer's set and checks the
// signature, once admitted; it returns the verified claims.
func (v *Validator) verifySignature(ctx context.Context, u *unverified) (*Claims, *jwks.Set, *jwks.Key, *Error) {
	alg, kid := u.header.Alg.s, u.header.Kid.s
	set := v.trust[u.claims.Issuer]
	key, err := set.Key(ctx, kid, alg)
	switch {
	case err == nil:
	case errors.Is(err, jwks.ErrNotReady):
		return nil, nil, nil, &Error{Kind: ErrKeysUnavailable, Check: CheckKey, Description: "the issuer's signing keys could not be loaded yet", Err: err}
	case errors.Is(err, jwks.ErrKeyMismatch):
		return nil, nil, nil, &Error{Kind: ErrUnknownKey, Check: CheckKey, Description: "the signing key does not fit the token's algorithm", Err: err}
	default:
		return nil, nil, nil, &Error{Kind: ErrUnknownKey, Check: CheckKey, Description: "the token is signed with a key the issuer does not publish", Detail: "kid " + quote(kid), Err: err}
	}
	sig, err := v.parser.DecodeSegment(u.sig)
	if err != nil {
		return nil, nil, nil, &Error{Kind: ErrMalformed, Check: CheckEncoding, Description: "the token's signature is not base64url", Err: err}
	}
	release, e := v.admit(ctx)
	if e != nil {
		return nil, nil, nil, e
	}
	v.signatureChecks.Add(1)
	err = v.methods[alg].Verify(u.signed, sig, key.Public())
	release()
	if err != nil {
		return nil, nil, nil, &Error{Kind: ErrSignature, Check: CheckSignature, Description: "the token's signature is invalid", Err: err}
	}
	tc := &u.claims
	c := &Claims{
		Issuer:         tc.Issuer,
		Subject:        tc.Subject,
		Audience:       tc.Audience,
		ClientID:       tc.ClientID,
		Scopes:         scopes.Parse(tc.Scope),
		OrganizationID: tc.OrganizationID,
		Actor:          tc.Act.sub,
		ExpiresAt:      tc.ExpiresAt.time(),
		IssuedAt:       tc.IssuedAt.time(),
		JWTID:          tc.ID,
		KeyID:          kid,
		payload:        u.payload,
	}
	return c, set, key, nil
}

// quote returns s quoted (control and format characters, quotes and
// invalid UTF-8 escaped) and cut to at most 100 bytes of the original, on a
// character boundary: safe to embed in a description, an error message or
// a log line whatever s holds.
func quote(s string) string {
	return strconv.Quote(capText(s, 100))
}

// capText cuts s to at most n bytes, on a character boundary, marking the
// cut with "...".
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

// text returns s cut to at most 100 bytes, as it is when it is plain
// printable ASCII without quotes, backslashes, commas or brackets, else
// quoted: a value read from a token, fit for a log line or a list.
func text(s string) string {
	s = capText(s, 100)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' || c == ',' || c == '[' || c == ']' {
			return strconv.Quote(s)
		}
	}
	return s
}

// textList lists at most 5 values of list, each as text writes it, and
// says how many were left out.
func textList(list []string) string {
	const most = 5
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range list {
		if i == most {
			fmt.Fprintf(&b, ", and %d more", len(list)-most)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(text(s))
	}
	b.WriteByte(']')
	return b.String()
}

// verifyShared checks the signature and caches the verdict, once for all
// the concurrent requests with this token: shared reports that another
// request's check answered. The check runs on the flight's context, which
// ends only when every request waiting on it has gone: the first request
// going away does not fail the others, and a check that no one waits for
// any more leaves admission control's line at once.
func (v *Validator) verifyShared(ctx context.Context, token string, u *unverified, now time.Time) (c *Claims, shared bool, err *Error) {
	fl, first, leave := v.flights.join(ctx, token)
	defer leave()
	if !first {
		select {
		case <-fl.done:
			return fl.c, true, fl.err
		case <-ctx.Done():
			return nil, true, overloaded("the request ended while the same token was being verified", ctx.Err())
		}
	}
	// A flight that landed between this request's cache miss and its
	// joining has put its verdict in the cache first.
	if v.cache != nil {
		if e, ok := v.cache.get(token, now); ok {
			v.flights.land(token, fl, e.claims, nil)
			return e.claims, true, nil
		}
	}
	c, set, key, err := v.verifySignature(fl.ctx, u)
	if err == nil && v.cache != nil {
		v.cache.put(token, &cacheEntry{claims: c, set: set, key: key, expires: v.expires(c)}, now)
	}
	v.flights.land(token, fl, c, err)
	return c, false, err
}

// rejected logs a rejection and calls the Rejected hook. u holds the
// unverified token when it was decoded.
func (v *Validator) rejected(err error, u *unverified) {
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
	if u != nil {
		// Unverified text: capped, and quoted by the handler as it needs.
		attrs = append(attrs, slog.String("iss", capText(u.claims.Issuer, 200)), slog.String("sub", capText(u.claims.Subject, 100)),
			slog.String("client_id", capText(u.claims.ClientID, 100)), slog.String("kid", capText(u.header.Kid.s, 100)))
		if u.claims.Act.sub != "" {
			attrs = append(attrs, slog.String("act", capText(u.claims.Act.sub, 100)))
		}
	}
	v.cfg.Logger.LogAttrs(ctx, level, "logtoguard: token rejected", attrs...)
}
