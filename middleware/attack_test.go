package middleware_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/logtoguard/logtoguard/adapters/nethttp"
	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
)

// The attack suite: one row per attack on a JWT access token or on the
// request that carries it (RFC 8725 and the JWT attack literature). Every
// row goes through a real HTTP server guarded by adapters/nethttp, whose
// validator trusts three tenants:
//
//   - a: a logtotest issuer with an EC P-384 key (Logto's default, ES384);
//   - c: a logtotest issuer with an RSA key (RS256);
//   - r: a tenant served by the test itself, whose private keys the test
//     holds, for tokens that must be signed over exact bytes (duplicate JSON
//     members, non-canonical base64, unusual JSON).
//
// b is a logtotest issuer that is not trusted (another Logto tenant), and
// evil is the attacker: a key pair and a web site publishing it.
//
// A row asserts the HTTP status and WWW-Authenticate error code that RFC 6750
// prescribes for its sentinel, the sentinel itself (errors.Is on the error
// the request produced), that no issuer's JWKS was fetched unless the row
// names a kid the set lacks, and that the attacker's site was never called.
// The rows that expect acceptance show that the harness accepts genuine
// tokens, so that every rejection is the work of one check.

// attackEnv is what the rows build tokens from.
type attackEnv struct {
	now  time.Time
	a    *logtotest.Issuer
	b    *logtotest.Issuer
	c    *logtotest.Issuer
	r    *rawTenant
	evil *attacker

	aPub *ecdsa.PublicKey // a's published key, as anyone can fetch it
	aJWK []byte           // its JWK, as published
	cPub *rsa.PublicKey   // c's published key
}

// rawTenant is a Logto-like tenant (discovery and JWKS under /oidc) whose
// private keys the tests hold, so that they can sign any bytes.
type rawTenant struct {
	srv     *httptest.Server
	es384   *ecdsa.PrivateKey // kid "r-es384", JWK with alg ES384, like Logto's EC keys
	p384    *ecdsa.PrivateKey // kid "r-p384", JWK without alg
	rsa     *rsa.PrivateKey   // kid "r-rsa", JWK without alg, like Logto's RSA keys
	fetches atomic.Int64
}

func newRawTenant(t testing.TB) *rawTenant {
	t.Helper()
	r := &rawTenant{}
	var err error
	if r.es384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if r.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if r.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	set := jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{
		publicJWKOf(t, &r.es384.PublicKey, "r-es384", jwkset.AlgES384),
		publicJWKOf(t, &r.p384.PublicKey, "r-p384", ""),
		publicJWKOf(t, &r.rsa.PublicKey, "r-rsa", ""),
	}}
	doc, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /oidc/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": r.Issuer(), "jwks_uri": r.srv.URL + "/oidc/jwks"})
	})
	mux.HandleFunc("GET /oidc/jwks", func(w http.ResponseWriter, _ *http.Request) {
		r.fetches.Add(1)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(doc)
	})
	r.srv = httptest.NewServer(mux)
	t.Cleanup(r.srv.Close)
	return r
}

// Issuer is the tenant's iss.
func (r *rawTenant) Issuer() string { return r.srv.URL + "/oidc" }

func publicJWKOf(t testing.TB, pub any, kid string, alg jwkset.ALG) jwkset.JWKMarshal {
	t.Helper()
	jwk, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: alg, USE: jwkset.UseSig}})
	if err != nil {
		t.Fatal(err)
	}
	return jwk.Marshal()
}

// attacker holds a key pair of its own and a site that publishes it (for
// jku and x5u), counting every request the site receives.
type attacker struct {
	key  *ecdsa.PrivateKey
	jwk  jwkset.JWKMarshal // kid "attacker"
	cert []byte            // a self-signed certificate of key, DER
	srv  *httptest.Server
	hits atomic.Int64
}

func newAttacker(t testing.TB) *attacker {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "logto.app"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	a := &attacker{key: key, jwk: publicJWKOf(t, &key.PublicKey, "attacker", jwkset.AlgES384), cert: cert}
	a.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		a.hits.Add(1)
		_ = json.NewEncoder(w).Encode(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{a.jwk}})
	}))
	t.Cleanup(a.srv.Close)
	return a
}

func newAttackEnv(t *testing.T) *attackEnv {
	t.Helper()
	now := time.Unix(time.Now().Unix(), 0)
	clock := func() time.Time { return now }
	e := &attackEnv{
		now:  now,
		a:    logtotest.New(t, logtotest.WithClock(clock)),
		b:    logtotest.New(t, logtotest.WithClock(clock)),
		c:    logtotest.New(t, logtotest.WithClock(clock), logtotest.WithRSA()),
		r:    newRawTenant(t),
		evil: newAttacker(t),
	}
	// The public keys, as an attacker fetches them from the JWKS.
	var aKey any
	aKey, e.aJWK = fetchPublicKey(t, e.a.JWKSURL())
	cKey, _ := fetchPublicKey(t, e.c.JWKSURL())
	var ok bool
	if e.aPub, ok = aKey.(*ecdsa.PublicKey); !ok {
		t.Fatalf("tenant a publishes a %T", aKey)
	}
	if e.cPub, ok = cKey.(*rsa.PublicKey); !ok {
		t.Fatalf("tenant c publishes a %T", cKey)
	}
	e.a.ResetJWKSFetches()
	e.c.ResetJWKSFetches()
	return e
}

// fetchPublicKey reads the first key of a JWKS over HTTP.
func fetchPublicKey(t testing.TB, jwksURL string) (any, []byte) {
	t.Helper()
	resp, err := http.Get(jwksURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct{ Keys []json.RawMessage }
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || len(doc.Keys) == 0 {
		t.Fatalf("JWKS %s: %v (%d keys)", jwksURL, err, len(doc.Keys))
	}
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(doc.Keys[0], &m); err != nil {
		t.Fatal(err)
	}
	jwk, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return jwk.Key(), doc.Keys[0]
}

// seg encodes one part of a compact JWS.
func seg(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return raw
}

// signParts signs header.payload as given (already encoded) with method and
// key, and returns the compact JWS.
func signParts(method jwt.SigningMethod, key any, header, payload string) string {
	sig, err := method.Sign(header+"."+payload, key)
	if err != nil {
		panic(fmt.Sprintf("signing with %s: %v", method.Alg(), err))
	}
	return header + "." + payload + "." + seg(sig)
}

// craft signs header and claims JSON with method and key.
func craft(method jwt.SigningMethod, key any, header, claims []byte) string {
	return signParts(method, key, seg(header), seg(claims))
}

// with returns m with overrides applied; a nil value deletes the member.
func with(m map[string]any, overrides map[string]any) map[string]any {
	out := make(map[string]any, len(m)+len(overrides))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range overrides {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// claimsFor returns the claims of a valid M2M access token of issuer iss.
func (e *attackEnv) claimsFor(iss string) map[string]any {
	return map[string]any{
		"jti": "jti-1", "sub": "app-1", "client_id": "app-1", "aud": api, "scope": "read:products",
		"iss": iss, "iat": e.now.Unix(), "exp": e.now.Unix() + 3600,
	}
}

// rHeader is the header of a valid token of tenant r.
func rHeader(overrides map[string]any) []byte {
	return mustJSON(with(map[string]any{"alg": "ES384", "typ": "at+jwt", "kid": "r-es384"}, overrides))
}

// rToken signs header and claims with r's ES384 key.
func (e *attackEnv) rToken(header, claims []byte) string {
	return craft(jwt.SigningMethodES384, e.r.es384, header, claims)
}

// rClaims returns r's valid claims with overrides, as JSON.
func (e *attackEnv) rClaims(overrides map[string]any) []byte {
	return mustJSON(with(e.claimsFor(e.r.Issuer()), overrides))
}

// rRawClaims returns r's valid claims as JSON, with extra raw members
// appended inside the object (for JSON that encoding/json cannot write).
func (e *attackEnv) rRawClaims(omit []string, extra string) []byte {
	m := e.claimsFor(e.r.Issuer())
	for _, k := range omit {
		delete(m, k)
	}
	raw := mustJSON(m)
	if extra == "" {
		return raw
	}
	return append(append(raw[:len(raw)-1:len(raw)-1], ","+extra...), '}')
}

// mintA mints a valid M2M token of tenant a with claim and header overrides
// (nil deletes), signed by a's key.
func (e *attackEnv) mintA(extra, header map[string]any) string {
	return e.a.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api,
		Scopes: []string{"read:products"}, Extra: extra, Header: header})
}

// aClaimsToken signs a's valid claims with a header of the caller's choice
// and a key that is not a's (a's private key is never at hand).
func (e *attackEnv) aClaimsToken(method jwt.SigningMethod, key any, header map[string]any) string {
	return craft(method, key, mustJSON(header), mustJSON(e.claimsFor(e.a.Issuer())))
}

// part returns part i of a compact token.
func part(tok string, i int) string { return strings.Split(tok, ".")[i] }

// replacePart returns tok with part i replaced.
func replacePart(tok string, i int, s string) string {
	parts := strings.Split(tok, ".")
	parts[i] = s
	return strings.Join(parts, ".")
}

func decodeSeg(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// nonCanonical flips the lowest bit of the last character of a base64url
// segment whose length leaves unused bits: a lenient decoder yields the same
// bytes, a strict one refuses it (RFC 4648, section 3.5).
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(s)%4 == 0 {
		panic("segment has no unused bits")
	}
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i^1])
}

// sized returns a valid token of tenant a whose length is in [lo, hi].
func sized(e *attackEnv, lo, hi int) string {
	base := len(e.mintA(nil, nil))
	for n := max(0, (lo-base)*3/4-8); ; n++ {
		tok := e.mintA(map[string]any{"pad": strings.Repeat("a", n)}, nil)
		switch {
		case len(tok) > hi:
			panic(fmt.Sprintf("no token of %d to %d bytes", lo, hi))
		case len(tok) >= lo:
			return tok
		}
	}
}

// underMaxTokenBytes returns tok, which must not be refused for its size
// alone: the row is about what a token within the limit costs.
func underMaxTokenBytes(tok string) string {
	if len(tok) > middleware.DefaultMaxTokenBytes {
		panic(fmt.Sprintf("%d bytes, over MaxTokenBytes", len(tok)))
	}
	return tok
}

// extraMembers returns n members m0, m1, ..., each led by a comma, to put
// before the closing brace of a JSON object.
func extraMembers(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `,"m%d":%d`, i, i)
	}
	return b.String()
}

// audiences returns n audiences, this API's last.
func audiences(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("https://api-%d.example.com", i)
	}
	out[n-1] = api
	return out
}

// nested returns n nested JSON arrays.
func nested(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }

// nestedAct returns an act claim of depth objects, each the act of the one
// before, the innermost padded so that the whole takes about size bytes.
func nestedAct(depth, size int) string {
	var b strings.Builder
	for i := range depth - 1 {
		fmt.Fprintf(&b, `{"sub":"agent-%d","act":`, i)
	}
	b.WriteString(`{"sub":"agent","x":"` + strings.Repeat("p", max(0, size-b.Len()-30)) + `"}`)
	b.WriteString(strings.Repeat("}", depth-1))
	return b.String()
}

// ecSig builds an ES384 signature r||s of fixed length (RFC 7518, section 3.4).
func ecSig(r, s *big.Int) []byte {
	out := make([]byte, 96)
	r.FillBytes(out[:48])
	s.FillBytes(out[48:])
	return out
}

// attackRow is one attack. want is the sentinel the request must produce,
// nil for a token that must be accepted; the HTTP status and the
// WWW-Authenticate error code follow from it (RFC 6750).
type attackRow struct {
	name string
	// token builds the token; req, if set, builds the request carrying it
	// (default: GET with "Authorization: Bearer <token>").
	token func(e *attackEnv) string
	req   func(url, token string) *http.Request
	// cfg adjusts the validator's configuration.
	cfg  func(c *middleware.Config)
	want error
	// mayFetch marks rows whose kid the issuer's set lacks: they may cause
	// one unknown-kid refetch. Every other row must fetch nothing.
	mayFetch bool
	// direct rows carry bytes that cannot travel in an HTTP header (CR, LF):
	// they are given to Verify directly.
	direct bool
	// ref is the reference of the attack (RFC section, CVE).
	ref string
}

func authHeaders(values ...string) func(url, token string) *http.Request {
	return func(u, tok string) *http.Request {
		r, _ := http.NewRequest(http.MethodGet, u, nil)
		for _, v := range values {
			r.Header.Add("Authorization", strings.ReplaceAll(v, "<token>", tok))
		}
		return r
	}
}

// recorder keeps the last error the server saw for a request.
type recorder struct {
	mu  sync.Mutex
	err error
}

func (r *recorder) set(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

func (r *recorder) get() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// expectation returns the status, the WWW-Authenticate error code and the
// body's error member that RFC 6750 prescribes for a sentinel.
func expectation(want error) (status int, code, bodyError string) {
	switch {
	case want == nil:
		return http.StatusOK, "", ""
	case errors.Is(want, middleware.ErrNoToken):
		return http.StatusUnauthorized, "", "unauthorized"
	case errors.Is(want, middleware.ErrInvalidRequest):
		return http.StatusBadRequest, "invalid_request", "invalid_request"
	default:
		return http.StatusUnauthorized, "invalid_token", "invalid_token"
	}
}

// run plays one row against a fresh validator and server, and returns what
// went wrong, if anything.
func (row attackRow) run(t *testing.T, e *attackEnv) []string {
	t.Helper()
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	rec := &recorder{}
	cfg := middleware.Config{
		Endpoint:  e.a.Endpoint(),
		Tenants:   []middleware.Tenant{{Endpoint: e.c.Endpoint()}, {Endpoint: e.r.srv.URL}},
		Audiences: []string{api},
		Now:       func() time.Time { return e.now },
		Logger:    slog.New(slog.DiscardHandler),
		Hooks:     middleware.Hooks{Rejected: rec.set},
	}
	if row.cfg != nil {
		row.cfg(&cfg)
	}
	v, err := middleware.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := v.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	fetchesBefore := [3]int{e.a.JWKSFetches(), e.c.JWKSFetches(), int(e.r.fetches.Load())}
	hitsBefore := e.evil.hits.Load()

	token := row.token(e)
	var got error
	if row.direct {
		_, got = v.Verify(ctx, token)
	} else {
		guarded := nethttp.New(v).Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := middleware.ClaimsFromContext(r.Context())
			_, _ = io.WriteString(w, c.Subject)
		}))
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := middleware.BearerToken(r); err != nil {
				rec.set(err)
			}
			guarded.ServeHTTP(w, r)
		}))
		defer srv.Close()
		mk := row.req
		if mk == nil {
			mk = func(u, tok string) *http.Request {
				r, _ := http.NewRequest(http.MethodGet, u, nil)
				r.Header.Set("Authorization", "Bearer "+tok)
				return r
			}
		}
		req := mk(srv.URL+"/", token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got = rec.get()

		status, code, bodyError := expectation(row.want)
		if resp.StatusCode != status {
			fail("status %d, want %d (body %s)", resp.StatusCode, status, body)
		}
		challenge := resp.Header.Get("WWW-Authenticate")
		switch {
		case status == http.StatusOK:
			if challenge != "" {
				fail("WWW-Authenticate %q on success", challenge)
			}
			if string(body) != "app-1" && string(body) != "user-1" {
				fail("handler saw subject %q", body)
			}
		case !strings.HasPrefix(challenge, `Bearer realm="api"`):
			fail("WWW-Authenticate %q, want a Bearer challenge", challenge)
		case code == "" && strings.Contains(challenge, "error="):
			fail("WWW-Authenticate %q, want no error code", challenge)
		case code != "" && !strings.Contains(challenge, `error="`+code+`"`):
			fail("WWW-Authenticate %q, want error=%q", challenge, code)
		}
		if status != http.StatusOK {
			var b struct{ Error string }
			if err := json.Unmarshal(body, &b); err != nil || b.Error != bodyError {
				fail("body %s, want error %q", body, bodyError)
			}
		}
	}

	switch {
	case row.want == nil && got != nil:
		fail("rejected: %v", got)
	case row.want != nil && !errors.Is(got, row.want):
		fail("error %v, want %v", got, row.want)
	case row.want != nil && row.want != middleware.ErrNoToken && row.want != middleware.ErrInvalidRequest &&
		!errors.Is(got, middleware.ErrInvalidToken):
		fail("error %v does not match ErrInvalidToken", got)
	}
	if row.want != nil && middleware.CheckOf(got) == middleware.CheckNone {
		fail("error %v names no check", got)
	}
	fetchesAfter := [3]int{e.a.JWKSFetches(), e.c.JWKSFetches(), int(e.r.fetches.Load())}
	if !row.mayFetch && fetchesAfter != fetchesBefore {
		fail("JWKS fetches (a, c, r) went from %v to %v", fetchesBefore, fetchesAfter)
	}
	if h := e.evil.hits.Load(); h != hitsBefore {
		fail("the attacker's site was called %d times", h-hitsBefore)
	}
	return problems
}

// attacks is the catalogue; SECURITY.md lists the same rows.
func attacks() []attackRow {
	var (
		malformed   = middleware.ErrMalformed
		algorithm   = middleware.ErrAlgorithm
		signature   = middleware.ErrSignature
		unknownKey  = middleware.ErrUnknownKey
		tokenType   = middleware.ErrTokenType
		issuer      = middleware.ErrIssuer
		audience    = middleware.ErrAudience
		expired     = middleware.ErrExpired
		notYetValid = middleware.ErrNotYetValid
		noToken     = middleware.ErrNoToken
		badRequest  = middleware.ErrInvalidRequest
	)
	aKID := func(e *attackEnv) string { return e.a.SigningKey().ID() }
	hmacKey := func(alg string, keyBytes func(e *attackEnv) []byte) func(e *attackEnv) string {
		return func(e *attackEnv) string {
			return e.aClaimsToken(jwt.GetSigningMethod(alg), keyBytes(e), map[string]any{"alg": alg, "typ": "at+jwt", "kid": aKID(e)})
		}
	}
	aDER := func(e *attackEnv) []byte {
		der, err := x509.MarshalPKIXPublicKey(e.aPub)
		if err != nil {
			panic(err)
		}
		return der
	}
	aPEM := func(e *attackEnv) []byte { return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: aDER(e)}) }
	aPoint := func(e *attackEnv) []byte {
		b, err := e.aPub.Bytes()
		if err != nil {
			panic(err)
		}
		return b
	}
	cToken := func(e *attackEnv, header map[string]any) string {
		return e.c.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, Header: header})
	}
	// evilToken is a's valid claims signed by the attacker's key, with the
	// attacker's material in the header.
	evilToken := func(kid func(e *attackEnv) string, extra func(e *attackEnv) map[string]any) func(e *attackEnv) string {
		return func(e *attackEnv) string {
			h := with(map[string]any{"alg": "ES384", "typ": "at+jwt", "kid": kid(e)}, extra(e))
			return e.aClaimsToken(jwt.SigningMethodES384, e.evil.key, h)
		}
	}
	evilKID := func(*attackEnv) string { return "attacker" }
	jwkHeader := func(e *attackEnv) map[string]any { return map[string]any{"jwk": e.evil.jwk} }
	jkuHeader := func(e *attackEnv) map[string]any { return map[string]any{"jku": e.evil.srv.URL + "/jwks"} }
	x5uHeader := func(e *attackEnv) map[string]any { return map[string]any{"x5u": e.evil.srv.URL + "/cert.pem"} }
	x5cHeader := func(e *attackEnv) map[string]any {
		return map[string]any{"x5c": []string{base64.StdEncoding.EncodeToString(e.evil.cert)}}
	}
	exp := func(d time.Duration) func(e *attackEnv) string {
		return func(e *attackEnv) string { return e.mintA(map[string]any{"exp": e.now.Add(d).Unix()}, nil) }
	}
	claim := func(name string, v any) func(e *attackEnv) string {
		return func(e *attackEnv) string { return e.mintA(map[string]any{name: v}, nil) }
	}
	rawClaim := func(name, raw string) func(e *attackEnv) string {
		return func(e *attackEnv) string {
			return e.rToken(rHeader(nil), e.rRawClaims([]string{name}, `"`+name+`":`+raw))
		}
	}
	header := func(h map[string]any) func(e *attackEnv) string {
		return func(e *attackEnv) string { return e.mintA(nil, h) }
	}
	iss := func(f func(e *attackEnv) string) func(e *attackEnv) string {
		return func(e *attackEnv) string {
			return e.a.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, Issuer: f(e)})
		}
	}
	genuine := func(e *attackEnv) string { return e.a.M2MToken("app-1", api, "read:products") }
	leeway := func(d time.Duration) func(c *middleware.Config) {
		return func(c *middleware.Config) { c.Leeway = d }
	}

	acceptOrgs := func(c *middleware.Config) { c.AcceptOrganizationTokens = true }
	dupClaim := func(raw func(e *attackEnv) string) func(e *attackEnv) string {
		return func(e *attackEnv) string { return e.rToken(rHeader(nil), e.rRawClaims(nil, raw(e))) }
	}
	return []attackRow{
		// The harness accepts genuine tokens of each trusted tenant.
		{name: "genuine/ES384 token of tenant a", token: genuine, ref: "RFC 9068 §4"},
		{name: "genuine/RS256 token of tenant c", token: func(e *attackEnv) string { return e.c.M2MToken("app-1", api) }, ref: "RFC 9068 §4"},
		{name: "genuine/ES384 token of tenant r", token: func(e *attackEnv) string { return e.rToken(rHeader(nil), e.rClaims(nil)) }, ref: "RFC 9068 §4"},
		{name: "genuine/user token", token: func(e *attackEnv) string { return e.a.UserToken("user-1", "spa", api) }, ref: "RFC 9068 §4"},

		// alg: none and symmetric algorithms.
		{name: "alg/none", token: header(map[string]any{"alg": "none"}), want: algorithm, ref: "RFC 8725 §2.1, §3.1; CVE-2015-9235"},
		{name: "alg/None", token: header(map[string]any{"alg": "None"}), want: algorithm, ref: "RFC 8725 §3.1"},
		{name: "alg/NONE", token: header(map[string]any{"alg": "NONE"}), want: algorithm, ref: "RFC 8725 §3.1"},
		{name: "alg/nOnE", token: header(map[string]any{"alg": "nOnE"}), want: algorithm, ref: "RFC 8725 §3.1"},
		{name: "alg/none with an empty signature", token: func(e *attackEnv) string {
			return seg(mustJSON(map[string]any{"alg": "none", "typ": "at+jwt", "kid": aKID(e)})) + "." +
				seg(mustJSON(e.claimsFor(e.a.Issuer()))) + "."
		}, want: malformed, ref: "RFC 8725 §3.1; RFC 7515 §5.2"},
		{name: "alg/missing", token: header(map[string]any{"alg": nil}), want: algorithm, ref: "RFC 7515 §4.1.1"},
		{name: "alg/number", token: header(map[string]any{"alg": 256}), want: algorithm, ref: "RFC 7515 §4.1.1"},
		{name: "alg/empty", token: header(map[string]any{"alg": ""}), want: algorithm, ref: "RFC 7515 §4.1.1"},
		{name: "alg/RS384 outside the allowlist, validly signed", token: func(e *attackEnv) string {
			return craft(jwt.SigningMethodRS384, e.r.rsa, rHeader(map[string]any{"alg": "RS384", "kid": "r-rsa"}), e.rClaims(nil))
		}, want: algorithm, ref: "RFC 8725 §3.1, §3.2"},
		{name: "alg/EdDSA signed by an Ed25519 key", token: func(e *attackEnv) string {
			_, priv, _ := ed25519.GenerateKey(rand.Reader)
			return e.aClaimsToken(jwt.SigningMethodEdDSA, priv, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": aKID(e)})
		}, want: algorithm, ref: "RFC 8725 §3.1; RFC 8037"},
		{name: "key confusion/HS256 keyed with the PEM public key", token: hmacKey("HS256", aPEM), want: algorithm, ref: "RFC 8725 §2.1, §3.1; CVE-2015-9235, CVE-2016-10555, CVE-2017-11424"},
		{name: "key confusion/HS384 keyed with the PEM public key", token: hmacKey("HS384", aPEM), want: algorithm, ref: "RFC 8725 §3.1; CVE-2016-10555"},
		{name: "key confusion/HS512 keyed with the PEM public key", token: hmacKey("HS512", aPEM), want: algorithm, ref: "RFC 8725 §3.1; CVE-2016-10555"},
		{name: "key confusion/HS256 keyed with the DER public key", token: hmacKey("HS256", aDER), want: algorithm, ref: "RFC 8725 §3.1"},
		{name: "key confusion/HS256 keyed with the JWK JSON", token: hmacKey("HS256", func(e *attackEnv) []byte { return e.aJWK }), want: algorithm, ref: "RFC 8725 §3.1"},
		{name: "key confusion/HS256 keyed with the EC point", token: hmacKey("HS256", aPoint), want: algorithm, ref: "RFC 8725 §3.1"},
		{name: "key confusion/HS256 keyed with the RSA modulus", token: func(e *attackEnv) string {
			return craft(jwt.SigningMethodHS256, e.cPub.N.Bytes(), mustJSON(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": e.c.SigningKey().ID()}),
				mustJSON(e.claimsFor(e.c.Issuer())))
		}, want: algorithm, ref: "RFC 8725 §3.1; CVE-2016-10555"},
		{name: "key confusion/HS256 keyed with the RSA PKCS#1 PEM", token: func(e *attackEnv) string {
			key := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(e.cPub)})
			return craft(jwt.SigningMethodHS256, key, mustJSON(map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": e.c.SigningKey().ID()}),
				mustJSON(e.claimsFor(e.c.Issuer())))
		}, want: algorithm, ref: "RFC 8725 §3.1; CVE-2017-11424"},

		// The key must fit the algorithm.
		{name: "key type/RS256 token naming the EC key's kid", token: func(e *attackEnv) string {
			return e.a.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, Key: e.c.SigningKey(),
				Header: map[string]any{"kid": aKID(e)}})
		}, want: unknownKey, ref: "RFC 8725 §3.1; RFC 7518 §3.1"},
		{name: "key type/ES384 token naming the RSA key's kid", token: func(e *attackEnv) string {
			return e.c.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, Key: e.a.SigningKey(),
				Header: map[string]any{"kid": e.c.SigningKey().ID()}})
		}, want: unknownKey, ref: "RFC 8725 §3.1"},
		{name: "key type/PS256 header on an RS256 signature", token: func(e *attackEnv) string { return cToken(e, map[string]any{"alg": "PS256"}) }, want: signature, ref: "RFC 8725 §3.1; RFC 7518 §3.5"},
		{name: "key type/RS256 header on a PS256 signature", token: func(e *attackEnv) string {
			return craft(jwt.SigningMethodPS256, e.r.rsa, rHeader(map[string]any{"alg": "RS256", "kid": "r-rsa"}), e.rClaims(nil))
		}, want: signature, ref: "RFC 8725 §3.1; RFC 7518 §3.3, §3.5"},
		{name: "key type/ES256 on a P-384 key whose JWK says ES384", token: header(map[string]any{"alg": "ES256"}), want: unknownKey, ref: "RFC 8725 §3.1; RFC 7518 §3.4"},
		{name: "key type/ES512 on a P-384 key whose JWK says ES384", token: header(map[string]any{"alg": "ES512"}), want: unknownKey, ref: "RFC 8725 §3.1; RFC 7518 §3.4"},
		{name: "key type/ES256 on a P-384 key without alg (wrong curve)", token: func(e *attackEnv) string {
			return e.rToken(rHeader(map[string]any{"alg": "ES256", "kid": "r-p384"}), e.rClaims(nil))
		}, want: unknownKey, ref: "RFC 8725 §3.4; RFC 7518 §3.4"},
		{name: "key type/ES512 on a P-384 key without alg (wrong curve)", token: func(e *attackEnv) string {
			return e.rToken(rHeader(map[string]any{"alg": "ES512", "kid": "r-p384"}), e.rClaims(nil))
		}, want: unknownKey, ref: "RFC 8725 §3.4; RFC 7518 §3.4"},
		{name: "key type/ES384 on the P-384 key without alg", token: func(e *attackEnv) string {
			return craft(jwt.SigningMethodES384, e.r.p384, rHeader(map[string]any{"kid": "r-p384"}), e.rClaims(nil))
		}, ref: "RFC 7518 §3.4"},

		// Keys carried by the token itself are never used, nor fetched.
		{name: "embedded key/jwk header, real kid", token: evilToken(aKID, jwkHeader), want: signature, ref: "RFC 8725 §3.10; RFC 7515 §4.1.3; CVE-2018-0114"},
		{name: "embedded key/jwk header, attacker kid", token: evilToken(evilKID, jwkHeader), want: unknownKey, mayFetch: true, ref: "RFC 8725 §3.10; CVE-2018-0114"},
		{name: "embedded key/jku header, real kid", token: evilToken(aKID, jkuHeader), want: signature, ref: "RFC 8725 §3.10; RFC 7515 §4.1.2"},
		{name: "embedded key/jku header, attacker kid", token: evilToken(evilKID, jkuHeader), want: unknownKey, mayFetch: true, ref: "RFC 8725 §3.10; RFC 7515 §4.1.2"},
		{name: "embedded key/x5u header, real kid", token: evilToken(aKID, x5uHeader), want: signature, ref: "RFC 8725 §3.10; RFC 7515 §4.1.5"},
		{name: "embedded key/x5u header, attacker kid", token: evilToken(evilKID, x5uHeader), want: unknownKey, mayFetch: true, ref: "RFC 8725 §3.10; RFC 7515 §4.1.5"},
		{name: "embedded key/x5c header, real kid", token: evilToken(aKID, x5cHeader), want: signature, ref: "RFC 8725 §3.10; RFC 7515 §4.1.6"},
		{name: "embedded key/x5c header, attacker kid", token: evilToken(evilKID, x5cHeader), want: unknownKey, mayFetch: true, ref: "RFC 8725 §3.10; RFC 7515 §4.1.6"},

		// Signatures.
		{name: "signature/empty", token: func(e *attackEnv) string { return replacePart(genuine(e), 2, "") }, want: malformed, ref: "RFC 8725 §3.3; RFC 7515 §5.2"},
		{name: "signature/zeros, ES384 length (psychic signature)", token: func(e *attackEnv) string {
			return replacePart(genuine(e), 2, seg(make([]byte, 96)))
		}, want: signature, ref: "RFC 8725 §3.3, §3.4; CVE-2022-21449"},
		{name: "signature/r = s = curve order", token: func(e *attackEnv) string {
			n := elliptic.P384().Params().N
			return replacePart(genuine(e), 2, seg(ecSig(n, n)))
		}, want: signature, ref: "RFC 8725 §3.4; CVE-2022-21449"},
		{name: "signature/ECDSA twin (r, n-s) of a genuine token", token: func(e *attackEnv) string {
			// Not a forgery: the same header and claims, signed by the issuer;
			// a second string for one token (SECURITY.md, malleability).
			tok := genuine(e)
			sig := decodeSeg(part(tok, 2))
			n := elliptic.P384().Params().N
			r, s := new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])
			twin := replacePart(tok, 2, seg(ecSig(r, new(big.Int).Sub(n, s))))
			if twin == tok {
				panic("the twin is the same string")
			}
			return twin
		}, ref: "RFC 7518 §3.4; SECURITY.md (ECDSA malleability)"},
		{name: "signature/zeros, RSA length", token: func(e *attackEnv) string {
			return replacePart(e.c.M2MToken("app-1", api), 2, seg(make([]byte, 256)))
		}, want: signature, ref: "RFC 8725 §3.3"},
		{name: "signature/truncated", token: func(e *attackEnv) string {
			tok := genuine(e)
			return replacePart(tok, 2, seg(decodeSeg(part(tok, 2))[:95]))
		}, want: signature, ref: "RFC 7518 §3.4"},
		{name: "signature/extended", token: func(e *attackEnv) string {
			tok := genuine(e)
			return replacePart(tok, 2, seg(append(decodeSeg(part(tok, 2)), 0)))
		}, want: signature, ref: "RFC 7518 §3.4"},
		{name: "signature/ASN.1 DER instead of fixed-length r, s", token: func(e *attackEnv) string {
			tok := genuine(e)
			raw := decodeSeg(part(tok, 2))
			type ecdsaSig struct{ R, S *big.Int }
			der, err := asn1.Marshal(ecdsaSig{new(big.Int).SetBytes(raw[:48]), new(big.Int).SetBytes(raw[48:])})
			if err != nil {
				panic(err)
			}
			return replacePart(tok, 2, seg(der))
		}, want: signature, ref: "RFC 7518 §3.4"},
		{name: "signature/taken from another token", token: func(e *attackEnv) string {
			other := e.a.M2MToken("app-2", api, "write:products")
			return replacePart(genuine(e), 2, part(other, 2))
		}, want: signature, ref: "RFC 7515 §5.2"},
		{name: "signature/one bit flipped", token: func(e *attackEnv) string {
			tok := genuine(e)
			sig := decodeSeg(part(tok, 2))
			sig[10] ^= 1
			return replacePart(tok, 2, seg(sig))
		}, want: signature, ref: "RFC 7515 §5.2"},
		{name: "signature/payload bit flipped (sub changed)", token: func(e *attackEnv) string {
			tok := genuine(e)
			payload := strings.Replace(string(decodeSeg(part(tok, 1))), `"app-1"`, `"app-3"`, 2)
			return replacePart(tok, 1, seg([]byte(payload)))
		}, want: signature, ref: "RFC 7515 §5.2"},
		{name: "signature/header changed (typ)", token: func(e *attackEnv) string {
			tok := e.a.IDToken("user-1", api)
			h := strings.Replace(string(decodeSeg(part(tok, 0))), `"JWT"`, `"at+jwt"`, 1)
			return replacePart(tok, 0, seg([]byte(h)))
		}, want: signature, ref: "RFC 7515 §5.2; RFC 8725 §3.11"},

		// Structure and encoding.
		{name: "structure/opaque token", token: func(e *attackEnv) string { return e.a.OpaqueToken() }, want: middleware.ErrOpaqueToken, ref: "RFC 9068 §1"},
		{name: "structure/two parts", token: func(e *attackEnv) string {
			tok := genuine(e)
			return tok[:strings.LastIndexByte(tok, '.')]
		}, want: malformed, ref: "RFC 7515 §7.1"},
		{name: "structure/four parts", token: func(e *attackEnv) string { return genuine(e) + "." + seg([]byte("x")) }, want: malformed, ref: "RFC 7515 §7.1"},
		{name: "structure/JWE, five parts", token: func(e *attackEnv) string {
			h := seg(mustJSON(map[string]any{"alg": "RSA-OAEP-256", "enc": "A256GCM", "typ": "at+jwt", "kid": aKID(e)}))
			return h + "." + seg(make([]byte, 256)) + "." + seg(make([]byte, 12)) + "." + seg([]byte("ciphertext")) + "." + seg(make([]byte, 16))
		}, want: malformed, ref: "RFC 8725 §2.3; RFC 7516 §9"},
		{name: "structure/JWE alg in a three-part token", token: header(map[string]any{"alg": "RSA-OAEP-256", "enc": "A256GCM"}), want: algorithm, ref: "RFC 7516 §9"},
		{name: "structure/empty header part", token: func(e *attackEnv) string { return replacePart(genuine(e), 0, "") }, want: malformed, ref: "RFC 7515 §7.1"},
		{name: "structure/empty payload part", token: func(e *attackEnv) string { return replacePart(genuine(e), 1, "") }, want: malformed, ref: "RFC 7515 §7.1"},
		{name: "structure/dots only", token: func(*attackEnv) string { return ".." }, want: malformed, ref: "RFC 7515 §7.1"},
		{name: "encoding/padding, signed as sent", token: func(e *attackEnv) string {
			claims := e.rClaims(nil)
			for len(claims)%3 == 0 {
				claims = append(claims, ' ')
			}
			return signParts(jwt.SigningMethodES384, e.r.es384, seg(rHeader(nil)), base64.URLEncoding.EncodeToString(claims))
		}, want: malformed, ref: "RFC 7515 §2, §7.1; RFC 8725 §2.6"},
		{name: "encoding/standard alphabet (+ and /), signed as sent", token: func(e *attackEnv) string {
			for i := 0; ; i++ {
				claims := e.rClaims(map[string]any{"x": strings.Repeat("?", i) + "??????~~~~~~"})
				p := base64.RawStdEncoding.EncodeToString(claims)
				if strings.ContainsAny(p, "+") && strings.ContainsAny(p, "/") {
					return signParts(jwt.SigningMethodES384, e.r.es384, seg(rHeader(nil)), p)
				}
			}
		}, want: malformed, ref: "RFC 7515 §2; RFC 4648 §5"},
		{name: "encoding/space inside the token", token: func(e *attackEnv) string {
			tok := genuine(e)
			return tok[:20] + " " + tok[20:]
		}, want: badRequest, ref: "RFC 6750 §2.1"},
		{name: "encoding/LF inside a segment, signed as sent", direct: true, token: func(e *attackEnv) string {
			h, p := seg(rHeader(nil)), seg(e.rClaims(nil))
			return signParts(jwt.SigningMethodES384, e.r.es384, h, p[:10]+"\n"+p[10:])
		}, want: malformed, ref: "RFC 7515 §7.1; RFC 4648 §3.3"},
		{name: "encoding/CR inside a segment, signed as sent", direct: true, token: func(e *attackEnv) string {
			h, p := seg(rHeader(nil)), seg(e.rClaims(nil))
			return signParts(jwt.SigningMethodES384, e.r.es384, h[:5]+"\r"+h[5:], p)
		}, want: malformed, ref: "RFC 7515 §7.1; RFC 4648 §3.3"},
		{name: "encoding/non-canonical trailing bits, signed as sent", token: func(e *attackEnv) string {
			claims := e.rClaims(nil)
			for len(claims)%3 == 0 {
				claims = append(claims, ' ')
			}
			return signParts(jwt.SigningMethodES384, e.r.es384, seg(rHeader(nil)), nonCanonical(seg(claims)))
		}, want: malformed, ref: "RFC 4648 §3.5; RFC 8725 §2.6"},
		{name: "encoding/non-canonical header, signed as sent", token: func(e *attackEnv) string {
			h := rHeader(nil)
			for len(h)%3 == 0 {
				h = append(h, ' ')
			}
			return signParts(jwt.SigningMethodES384, e.r.es384, nonCanonical(seg(h)), seg(e.rClaims(nil)))
		}, want: malformed, ref: "RFC 4648 §3.5; RFC 8725 §2.6"},
		{name: "encoding/non-ASCII in the token", token: func(e *attackEnv) string { return genuine(e) + "\u00e9" }, want: malformed, ref: "RFC 6750 §2.1; RFC 8725 §3.7"},

		// Header and claims that are not JSON objects.
		{name: "JSON/header not JSON", token: func(e *attackEnv) string {
			return signParts(jwt.SigningMethodES384, e.r.es384, seg([]byte("alg=ES384")), seg(e.rClaims(nil)))
		}, want: malformed, ref: "RFC 7515 §5.2"},
		{name: "JSON/header an array", token: func(e *attackEnv) string { return e.rToken([]byte(`["ES384","at+jwt"]`), e.rClaims(nil)) }, want: malformed, ref: "RFC 7515 §5.2"},
		{name: "JSON/header a number", token: func(e *attackEnv) string { return e.rToken([]byte(`384`), e.rClaims(nil)) }, want: malformed, ref: "RFC 7515 §5.2"},
		{name: "JSON/header null", token: func(e *attackEnv) string { return e.rToken([]byte(`null`), e.rClaims(nil)) }, want: algorithm, ref: "RFC 7515 §5.2"},
		{name: "JSON/claims not JSON", token: func(e *attackEnv) string { return e.rToken(rHeader(nil), []byte("sub=app-1")) }, want: malformed, ref: "RFC 7519 §7.2"},
		{name: "JSON/claims an array", token: func(e *attackEnv) string { return e.rToken(rHeader(nil), []byte(`[{"sub":"app-1"}]`)) }, want: malformed, ref: "RFC 7519 §7.2"},
		{name: "JSON/claims a number", token: func(e *attackEnv) string { return e.rToken(rHeader(nil), []byte(`1`)) }, want: malformed, ref: "RFC 7519 §7.2"},
		{name: "JSON/claims a string", token: func(e *attackEnv) string { return e.rToken(rHeader(nil), []byte(`"app-1"`)) }, want: malformed, ref: "RFC 7519 §7.2"},
		{name: "JSON/claims null", token: func(e *attackEnv) string { return e.rToken(rHeader(nil), []byte(`null`)) }, want: issuer, ref: "RFC 7519 §7.2"},
		{name: "JSON/claims with trailing data", token: func(e *attackEnv) string {
			return e.rToken(rHeader(nil), append(e.rClaims(nil), `{"sub":"x"}`...))
		}, want: malformed, ref: "RFC 7519 §7.2"},
		{name: "JSON/claims not UTF-8", token: func(e *attackEnv) string {
			return e.rToken(rHeader(nil), e.rRawClaims(nil, "\"x\":\"\xff\xfe\""))
		}, ref: "RFC 8725 §3.7 (invalid UTF-8 in a custom claim is replaced, never used)"},
		{name: "JSON/10k nested arrays, over the size limit", token: func(e *attackEnv) string {
			return e.rToken(rHeader(nil), e.rRawClaims(nil, `"x":`+nested(10_001)))
		}, want: malformed, ref: "RFC 8725 §2.9"},
		{name: "JSON/10k nested arrays, size limit raised", cfg: func(c *middleware.Config) { c.MaxTokenBytes = 1 << 20 }, token: func(e *attackEnv) string {
			return e.rToken(rHeader(nil), e.rRawClaims(nil, `"x":`+nested(10_001)))
		}, want: malformed, ref: "RFC 8725 §2.9"},
		{name: "JSON/100k nested arrays, size limit raised", cfg: func(c *middleware.Config) { c.MaxTokenBytes = 1 << 20 }, token: func(e *attackEnv) string {
			return e.rToken(rHeader(nil), e.rRawClaims(nil, `"x":`+nested(100_000)))
		}, want: malformed, ref: "RFC 8725 §2.9"},
		// Shapes no Logto token has, refused in one pass before any JSON
		// decoding, so that a forged token costs little (RFC 8725 §2.9).
		{name: "structure/1,000 members in the header, forged signature", token: func(e *attackEnv) string {
			h := `{"alg":"ES384","typ":"at+jwt","kid":"` + aKID(e) + `"` + extraMembers(1000) + `}`
			return underMaxTokenBytes(craft(jwt.SigningMethodES384, e.evil.key, []byte(h), mustJSON(e.claimsFor(e.a.Issuer()))))
		}, want: malformed, ref: "RFC 8725 §2.9"},
		{name: "structure/1,000 members in the claims, forged signature", token: func(e *attackEnv) string {
			c := mustJSON(e.claimsFor(e.a.Issuer()))
			c = append(append(c[:len(c)-1:len(c)-1], extraMembers(1000)...), '}')
			return underMaxTokenBytes(craft(jwt.SigningMethodES384, e.evil.key, mustJSON(map[string]any{"alg": "ES384", "typ": "at+jwt", "kid": aKID(e)}), c))
		}, want: malformed, ref: "RFC 8725 §2.9"},
		{name: "structure/33 members in the header, signed by the issuer", token: func(e *attackEnv) string {
			return e.rToken([]byte(`{"alg":"ES384","typ":"at+jwt","kid":"r-es384"`+extraMembers(30)+`}`), e.rClaims(nil))
		}, want: malformed, ref: "RFC 8725 §2.9"},
		{name: "structure/32 members in the header, signed by the issuer", token: func(e *attackEnv) string {
			return e.rToken([]byte(`{"alg":"ES384","typ":"at+jwt","kid":"r-es384"`+extraMembers(29)+`}`), e.rClaims(nil))
		}, ref: "RFC 8725 §2.9"},
		{name: "structure/257 members in the claims, signed by the issuer", token: func(e *attackEnv) string {
			return e.rToken(rHeader(nil), e.rRawClaims(nil, extraMembers(257 - len(e.claimsFor("")))[1:]))
		}, want: malformed, ref: "RFC 8725 §2.9"},
		{name: "structure/256 members in the claims, signed by the issuer", token: func(e *attackEnv) string {
			return e.rToken(rHeader(nil), e.rRawClaims(nil, extraMembers(256 - len(e.claimsFor("")))[1:]))
		}, ref: "RFC 8725 §2.9"},
		{name: "structure/33 levels of nesting in a claim, signed by the issuer", token: func(e *attackEnv) string {
			return e.rToken(rHeader(nil), e.rRawClaims(nil, `"x":`+nested(32)))
		}, want: malformed, ref: "RFC 8725 §2.9"},
		{name: "structure/32 levels of nesting in a claim, signed by the issuer", token: func(e *attackEnv) string {
			return e.rToken(rHeader(nil), e.rRawClaims(nil, `"x":`+nested(31)))
		}, ref: "RFC 8725 §2.9"},
		// A delegated token's act nested as deep as the bound allows, the
		// innermost padded: only the outer act is decoded, so it costs what
		// a flat act of the same size does (BenchmarkReject/act-nested-31).
		{name: "structure/act nested 31 deep, forged signature", token: func(e *attackEnv) string {
			c := mustJSON(e.claimsFor(e.a.Issuer()))
			c = append(append(c[:len(c)-1:len(c)-1], `,"act":`+nestedAct(31, 11_000)...), '}')
			return underMaxTokenBytes(craft(jwt.SigningMethodES384, e.evil.key, mustJSON(map[string]any{"alg": "ES384", "typ": "at+jwt", "kid": aKID(e)}), c))
		}, want: signature, ref: "RFC 8725 §2.9; RFC 8693 §4.1"},
		{name: "structure/act nested 31 deep, signed by the issuer", token: func(e *attackEnv) string {
			return e.rToken(rHeader(nil), e.rRawClaims(nil, `"act":`+nestedAct(31, 11_000)))
		}, ref: "RFC 8693 §4.1"},
		{name: "structure/act holding an act that is not an object, signed by the issuer", token: func(e *attackEnv) string {
			return e.rToken(rHeader(nil), e.rRawClaims(nil, `"act":{"sub":"agent-1","act":"agent-0"}`))
		}, want: malformed, ref: "RFC 8693 §4.1"},
		{name: "structure/aud array of 65 values, signed by the issuer", token: func(e *attackEnv) string {
			return e.rToken(rHeader(nil), e.rClaims(map[string]any{"aud": audiences(65)}))
		}, want: malformed, ref: "RFC 8725 §2.9; RFC 7519 §4.1.3"},
		{name: "structure/aud array of 64 values, ours last, signed by the issuer", token: func(e *attackEnv) string {
			return e.rToken(rHeader(nil), e.rClaims(map[string]any{"aud": audiences(64)}))
		}, ref: "RFC 7519 §4.1.3"},
		{name: "structure/ALG in capitals beside alg, signed by the issuer", token: func(e *attackEnv) string {
			return e.rToken([]byte(`{"ALG":"none","alg":"ES384","typ":"at+jwt","kid":"r-es384"}`), e.rClaims(nil))
		}, want: malformed, ref: "RFC 7515 §4; RFC 8725 §2.6"},
		{name: "size/over MaxTokenBytes, validly signed", token: func(e *attackEnv) string {
			return e.mintA(map[string]any{"pad": strings.Repeat("a", 13_000)}, nil)
		}, want: malformed, ref: "RFC 8725 §2.9"},
		{name: "size/under MaxTokenBytes", token: func(e *attackEnv) string {
			return e.mintA(map[string]any{"pad": strings.Repeat("a", 11_000)}, nil)
		}, ref: "RFC 8725 §2.9"},
		{name: "size/just over a configured MaxTokenBytes", cfg: func(c *middleware.Config) { c.MaxTokenBytes = 1000 }, token: func(e *attackEnv) string {
			return sized(e, 1001, 1002)
		}, want: malformed, ref: "RFC 8725 §2.9"},
		{name: "size/at a configured MaxTokenBytes", cfg: func(c *middleware.Config) { c.MaxTokenBytes = 1000 }, token: func(e *attackEnv) string {
			return sized(e, 999, 1000)
		}, ref: "RFC 8725 §2.9"},

		// typ (RFC 9068): ID tokens and other JWTs of the same issuer.
		{name: "typ/ID token of the same issuer", token: func(e *attackEnv) string { return e.a.IDToken("user-1", "spa") }, want: tokenType, ref: "RFC 8725 §2.8, §3.11, §3.12; RFC 9068 §4"},
		{name: "typ/ID token whose aud is the API", token: func(e *attackEnv) string { return e.a.IDToken("user-1", api) }, want: tokenType, ref: "RFC 8725 §3.11; RFC 9068 §4"},
		{name: "typ/missing", token: header(map[string]any{"typ": nil}), want: tokenType, ref: "RFC 9068 §2.1, §4"},
		{name: "typ/JWT", token: header(map[string]any{"typ": "JWT"}), want: tokenType, ref: "RFC 9068 §4"},
		{name: "typ/application/jwt", token: header(map[string]any{"typ": "application/jwt"}), want: tokenType, ref: "RFC 9068 §4"},
		{name: "typ/at+jwt with a trailing space", token: header(map[string]any{"typ": "at+jwt "}), want: tokenType, ref: "RFC 9068 §4"},
		{name: "typ/number", token: header(map[string]any{"typ": 1}), want: tokenType, ref: "RFC 7515 §4.1.9"},
		{name: "typ/logout token type", token: header(map[string]any{"typ": "logout+jwt"}), want: tokenType, ref: "RFC 8725 §3.11"},
		{name: "typ/at+JWT (case-insensitive)", token: header(map[string]any{"typ": "at+JWT"}), ref: "RFC 9068 §2.1; RFC 7515 §4.1.9"},
		{name: "typ/AT+JWT (case-insensitive)", token: header(map[string]any{"typ": "AT+JWT"}), ref: "RFC 9068 §2.1"},
		{name: "typ/application/at+jwt", token: header(map[string]any{"typ": "application/at+jwt"}), ref: "RFC 9068 §2.1"},

		// crit and b64 (RFC 7797).
		{name: "crit/unknown member", token: header(map[string]any{"crit": []string{"x-logto"}, "x-logto": true}), want: malformed, ref: "RFC 7515 §4.1.11"},
		{name: "crit/empty list", token: header(map[string]any{"crit": []string{}}), want: malformed, ref: "RFC 7515 §4.1.11"},
		{name: "crit/b64 false, encoded payload signed as RFC 7515", token: func(e *attackEnv) string {
			return e.rToken(rHeader(map[string]any{"b64": false, "crit": []string{"b64"}}), e.rClaims(nil))
		}, want: malformed, ref: "RFC 7797 §3, §6; RFC 7515 §4.1.11"},
		{name: "crit/b64 false, unencoded payload", direct: true, token: func(e *attackEnv) string {
			h := seg(rHeader(map[string]any{"b64": false, "crit": []string{"b64"}}))
			p := string(e.rClaims(nil))
			sig, _ := jwt.SigningMethodES384.Sign(h+"."+p, e.r.es384)
			return h + "." + p + "." + seg(sig)
		}, want: malformed, ref: "RFC 7797 §5.2"},

		// kid.
		{name: "kid/missing", token: header(map[string]any{"kid": nil}), want: malformed, ref: "RFC 7515 §4.1.4"},
		{name: "kid/empty", token: header(map[string]any{"kid": ""}), want: malformed, ref: "RFC 7515 §4.1.4"},
		{name: "kid/number", token: header(map[string]any{"kid": 1}), want: malformed, ref: "RFC 8725 §3.10"},
		{name: "kid/object", token: header(map[string]any{"kid": map[string]any{"$ne": ""}}), want: malformed, ref: "RFC 8725 §3.10"},
		{name: "kid/path traversal", token: header(map[string]any{"kid": "../../../../dev/null"}), want: unknownKey, mayFetch: true, ref: "RFC 8725 §3.10"},
		{name: "kid/SQL injection", token: header(map[string]any{"kid": "x' UNION SELECT 'secret"}), want: unknownKey, mayFetch: true, ref: "RFC 8725 §3.10"},
		{name: "kid/10 000 characters", token: header(map[string]any{"kid": strings.Repeat("k", 10_000)}), want: unknownKey, mayFetch: true, ref: "RFC 8725 §3.10"},
		{name: "kid/a key of another trusted tenant", token: func(e *attackEnv) string {
			return e.a.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, Issuer: e.c.Issuer(), Key: e.a.SigningKey()})
		}, want: unknownKey, mayFetch: true, ref: "RFC 8725 §2.7, §3.8"},

		// iss.
		{name: "iss/another tenant, same audience", token: func(e *attackEnv) string { return e.b.M2MToken("app-1", api, "read:products") }, want: issuer, ref: "RFC 8725 §2.7, §3.8; RFC 7519 §4.1.1"},
		{name: "iss/another tenant's iss, our kid and key", token: iss(func(e *attackEnv) string { return e.b.Issuer() }), want: issuer, ref: "RFC 8725 §3.8"},
		{name: "iss/ours, signed by another tenant's key (foreign kid)", token: func(e *attackEnv) string { return e.a.ForeignKeyToken("app-1", api) }, want: unknownKey, mayFetch: true, ref: "RFC 8725 §2.7, §3.8"},
		{name: "iss/ours, signed by another tenant's key with our kid", token: func(e *attackEnv) string {
			return e.a.Mint(logtotest.Token{Subject: "app-1", ClientID: "app-1", Audience: api, Key: e.b.SigningKey(), Header: map[string]any{"kid": aKID(e)}})
		}, want: signature, ref: "RFC 8725 §2.7"},
		{name: "iss/trailing slash", token: iss(func(e *attackEnv) string { return e.a.Issuer() + "/" }), want: issuer, ref: "RFC 8725 §3.8; RFC 7519 §4.1.1"},
		{name: "iss/different case", token: iss(func(e *attackEnv) string { return strings.ToUpper(e.a.Issuer()) }), want: issuer, ref: "RFC 8725 §3.8"},
		{name: "iss/different case of the path", token: iss(func(e *attackEnv) string { return strings.TrimSuffix(e.a.Issuer(), "oidc") + "OIDC" }), want: issuer, ref: "RFC 8725 §3.8"},
		{name: "iss/leading whitespace", token: iss(func(e *attackEnv) string { return " " + e.a.Issuer() }), want: issuer, ref: "RFC 8725 §3.8"},
		{name: "iss/trailing newline", token: iss(func(e *attackEnv) string { return e.a.Issuer() + "\n" }), want: issuer, ref: "RFC 8725 §3.8"},
		{name: "iss/Cyrillic look-alike", token: iss(func(e *attackEnv) string { return strings.TrimSuffix(e.a.Issuer(), "oidc") + "\u043eidc" }), want: issuer, ref: "RFC 8725 §3.7, §3.8"},
		{name: "iss/array", token: claim("iss", []string{"ISSUER"}), want: malformed, ref: "RFC 7519 §4.1.1"},
		{name: "iss/number", token: claim("iss", 1), want: malformed, ref: "RFC 7519 §4.1.1"},
		{name: "iss/missing", token: claim("iss", nil), want: issuer, ref: "RFC 8725 §3.8"},

		// aud.
		{name: "aud/Management API", token: func(e *attackEnv) string { return e.a.WrongAudienceToken("app-1") }, want: audience, ref: "RFC 8725 §3.9; RFC 8707"},
		{name: "aud/organization token", token: func(e *attackEnv) string { return e.a.OrganizationToken("user-1", "spa", "org-1") }, want: audience, ref: "RFC 8725 §3.9"},
		{name: "aud/another API", token: claim("aud", "https://other.example.com"), want: audience, ref: "RFC 8725 §3.9; RFC 7519 §4.1.3"},
		{name: "aud/trailing slash", token: claim("aud", api+"/"), want: audience, ref: "RFC 8725 §3.9"},
		{name: "aud/different case", token: claim("aud", strings.ToUpper(api)), want: audience, ref: "RFC 8725 §3.9"},
		{name: "aud/number", token: claim("aud", 1), want: malformed, ref: "RFC 7519 §4.1.3; CVE-2020-26160"},
		{name: "aud/object", token: claim("aud", map[string]any{"aud": api}), want: malformed, ref: "RFC 7519 §4.1.3"},
		{name: "aud/empty array", token: claim("aud", []string{}), want: audience, ref: "RFC 7519 §4.1.3; CVE-2020-26160"},
		{name: "aud/empty string", token: claim("aud", ""), want: audience, ref: "RFC 7519 §4.1.3"},
		{name: "aud/array with a non-string", token: claim("aud", []any{api, 1}), want: malformed, ref: "RFC 7519 §4.1.3"},
		{name: "aud/array of arrays", token: claim("aud", []any{[]string{api}}), want: malformed, ref: "RFC 7519 §4.1.3"},
		{name: "aud/missing", token: claim("aud", nil), want: audience, ref: "RFC 8725 §3.9"},
		{name: "aud/array holding ours", token: claim("aud", []string{"https://other.example.com", api}), ref: "RFC 7519 §4.1.3"},
		{name: "aud/organization and API audiences mixed, organization tokens accepted", cfg: acceptOrgs,
			token: claim("aud", []string{"urn:logto:organization:org-1", api}), want: audience, ref: "RFC 8725 §3.9 (Logto never mixes them)"},
		{name: "aud/API and organization audiences mixed", token: claim("aud", []string{api, "urn:logto:organization:org-1"}), want: audience, ref: "RFC 8725 §3.9"},
		{name: "aud/organization audience without an id, organization tokens accepted", cfg: acceptOrgs,
			token: claim("aud", "urn:logto:organization:"), want: audience, ref: "RFC 8725 §3.9"},
		{name: "aud/organization token, organization tokens accepted", cfg: acceptOrgs,
			token: func(e *attackEnv) string { return e.a.OrganizationToken("user-1", "spa", "org-1") }, ref: "RFC 8725 §3.9"},

		// Other claims of the wrong type.
		{name: "scope/array", token: claim("scope", []string{"read:products"}), want: malformed, ref: "RFC 8693 §4.2; RFC 9068 §2.2.3"},
		{name: "scope/number", token: claim("scope", 1), want: malformed, ref: "RFC 9068 §2.2.3"},
		{name: "sub/missing", token: claim("sub", nil), want: malformed, ref: "RFC 9068 §2.2"},
		{name: "sub/empty", token: claim("sub", ""), want: malformed, ref: "RFC 9068 §2.2"},
		{name: "sub/number", token: claim("sub", 1), want: malformed, ref: "RFC 7519 §4.1.2"},
		{name: "client_id/array", token: claim("client_id", []string{"app-1"}), want: malformed, ref: "RFC 9068 §2.2"},
		{name: "organization_id/object", token: claim("organization_id", map[string]any{}), want: malformed, ref: "RFC 7519 §7.2"},

		// exp, iat, nbf: types.
		{name: "exp/non-numeric string", token: claim("exp", "tomorrow"), want: malformed, ref: "RFC 7519 §2, §4.1.4"},
		{name: "exp/\"NaN\"", token: claim("exp", "NaN"), want: malformed, ref: "RFC 7519 §2"},
		{name: "exp/bare NaN", token: rawClaim("exp", "NaN"), want: malformed, ref: "RFC 8259 §6"},
		{name: "exp/bare Infinity", token: rawClaim("exp", "Infinity"), want: malformed, ref: "RFC 8259 §6"},
		{name: "exp/bool", token: claim("exp", true), want: malformed, ref: "RFC 7519 §2"},
		{name: "exp/array", token: func(e *attackEnv) string { return e.mintA(map[string]any{"exp": []int64{e.now.Unix() + 3600}}, nil) }, want: malformed, ref: "RFC 7519 §2"},
		{name: "exp/object", token: claim("exp", map[string]any{}), want: malformed, ref: "RFC 7519 §2"},
		{name: "exp/1e309", token: claim("exp", json.RawMessage("1e309")), want: malformed, ref: "RFC 8259 §6"},
		{name: "exp/negative", token: claim("exp", -1), want: expired, ref: "RFC 7519 §4.1.4"},
		{name: "exp/zero", token: claim("exp", 0), want: expired, ref: "RFC 7519 §4.1.4"},
		{name: "exp/null", token: claim("exp", json.RawMessage("null")), want: malformed, ref: "RFC 8725 §3.8; RFC 9068 §2.2"},
		{name: "exp/missing", token: claim("exp", nil), want: malformed, ref: "RFC 9068 §2.2"},
		{name: "exp/non-integer", token: func(e *attackEnv) string {
			return e.mintA(map[string]any{"exp": json.RawMessage(strconv.FormatInt(e.now.Unix()+600, 10) + ".25")}, nil)
		}, ref: "RFC 7519 §2 (NumericDate may be non-integer)"},
		{name: "exp/year 33 000 000 (signed by the issuer)", token: claim("exp", 1e15), want: malformed, ref: "RFC 7519 §4.1.4 (NumericDates after the year 9999 are refused: no time.Time overflow)"},
		{name: "iat/string", token: claim("iat", "now"), want: malformed, ref: "RFC 7519 §4.1.6"},
		// Without iat, MaxTokenLifetime would not bound the token, and a
		// distant exp would outlive every revocation that refuses it.
		{name: "iat/missing, exp a year ahead", token: func(e *attackEnv) string {
			return e.mintA(map[string]any{"iat": nil, "exp": e.now.Unix() + 365*86400}, nil)
		}, want: malformed, ref: "RFC 9068 §2.2"},
		{name: "iat/null", token: claim("iat", json.RawMessage("null")), want: malformed, ref: "RFC 9068 §2.2"},
		{name: "iat/array", token: claim("iat", []int{1}), want: malformed, ref: "RFC 7519 §4.1.6"},
		{name: "nbf/string", token: claim("nbf", "now"), want: malformed, ref: "RFC 7519 §4.1.5"},
		{name: "nbf/bool", token: claim("nbf", false), want: malformed, ref: "RFC 7519 §4.1.5"},

		// Lifetime edges with the default leeway (30 s) on a fixed clock.
		{name: "lifetime/expired an hour ago", token: func(e *attackEnv) string { return e.a.ExpiredToken("app-1", api) }, want: expired, ref: "RFC 7519 §4.1.4"},
		{name: "lifetime/exp = now - leeway - 1", token: exp(-31 * time.Second), want: expired, ref: "RFC 7519 §4.1.4; RFC 8725 §3.8"},
		{name: "lifetime/exp = now - leeway", token: exp(-30 * time.Second), want: expired, ref: "RFC 7519 §4.1.4"},
		{name: "lifetime/exp = now - leeway + 1", token: exp(-29 * time.Second), ref: "RFC 7519 §4.1.4"},
		{name: "lifetime/exp = now, no leeway", cfg: leeway(-1), token: exp(0), want: expired, ref: "RFC 7519 §4.1.4"},
		{name: "lifetime/exp = now + 1, no leeway", cfg: leeway(-1), token: exp(time.Second), ref: "RFC 7519 §4.1.4"},
		{name: "lifetime/iat = now + leeway + 1", token: func(e *attackEnv) string { return e.mintA(map[string]any{"iat": e.now.Unix() + 31}, nil) }, want: notYetValid, ref: "RFC 7519 §4.1.6"},
		{name: "lifetime/iat = now + leeway", token: func(e *attackEnv) string { return e.mintA(map[string]any{"iat": e.now.Unix() + 30}, nil) }, ref: "RFC 7519 §4.1.6"},
		{name: "lifetime/iat a day ahead", token: func(e *attackEnv) string {
			return e.mintA(map[string]any{"iat": e.now.Unix() + 86400, "exp": e.now.Unix() + 90000}, nil)
		}, want: notYetValid, ref: "RFC 7519 §4.1.6"},
		{name: "lifetime/nbf = now + leeway + 1", token: func(e *attackEnv) string { return e.mintA(map[string]any{"nbf": e.now.Unix() + 31}, nil) }, want: notYetValid, ref: "RFC 7519 §4.1.5"},
		{name: "lifetime/nbf = now + leeway", token: func(e *attackEnv) string { return e.mintA(map[string]any{"nbf": e.now.Unix() + 30}, nil) }, ref: "RFC 7519 §4.1.5"},
		{name: "lifetime/nbf = now + 1, no leeway", cfg: leeway(-1), token: func(e *attackEnv) string { return e.mintA(map[string]any{"nbf": e.now.Unix() + 1}, nil) }, want: notYetValid, ref: "RFC 7519 §4.1.5"},

		// The Authorization header (RFC 6750, section 2.1).
		{name: "header/bearer lowercase", token: genuine, req: authHeaders("bearer <token>"), ref: "RFC 6750 §2.1; RFC 9110 §11.1"},
		{name: "header/BEARER uppercase", token: genuine, req: authHeaders("BEARER <token>"), ref: "RFC 9110 §11.1"},
		{name: "header/two spaces after Bearer", token: genuine, req: authHeaders("Bearer  <token>"), ref: "RFC 6750 §2.1 (1*SP)"},
		{name: "header/leading and trailing spaces", token: genuine, req: authHeaders("  Bearer <token>  "), ref: "RFC 9110 §5.5"},
		{name: "header/tab after Bearer", token: genuine, req: authHeaders("Bearer\t<token>"), want: noToken, ref: "RFC 6750 §2.1"},
		{name: "header/no space after Bearer", token: genuine, req: authHeaders("Bearer<token>"), want: noToken, ref: "RFC 6750 §2.1"},
		{name: "header/Basic", token: genuine, req: authHeaders("Basic YXBwLTE6c2VjcmV0"), want: noToken, ref: "RFC 6750 §3"},
		{name: "header/DPoP scheme", token: genuine, req: authHeaders("DPoP <token>"), want: noToken, ref: "RFC 9449 §7.1"},
		{name: "header/none", token: genuine, req: authHeaders(), want: noToken, ref: "RFC 6750 §3.1"},
		{name: "header/Bearer without a token", token: genuine, req: authHeaders("Bearer"), want: badRequest, ref: "RFC 6750 §3.1"},
		{name: "header/empty", token: genuine, req: authHeaders(""), want: badRequest, ref: "RFC 6750 §3.1"},
		{name: "header/two Authorization headers", token: genuine, req: authHeaders("Bearer <token>", "Bearer <token>"), want: badRequest, ref: "RFC 6750 §3.1; RFC 9110 §5.3"},
		{name: "header/two tokens, comma", token: genuine, req: authHeaders("Bearer <token>, Bearer <token>"), want: badRequest, ref: "RFC 6750 §3.1"},
		{name: "header/token then junk", token: genuine, req: authHeaders("Bearer <token> x"), want: badRequest, ref: "RFC 6750 §3.1"},
		{name: "header/non-ASCII scheme", token: genuine, req: authHeaders("B\u00e9arer <token>"), want: noToken, ref: "RFC 6750 §2.1"},
		{name: "header/token in the query string", token: genuine, req: func(u, tok string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, u+"?access_token="+url.QueryEscape(tok), nil)
			return r
		}, want: badRequest, ref: "RFC 6750 §2.3, §5.3"},
		{name: "header/token in the query string and the header", token: genuine, req: func(u, tok string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, u+"?access_token="+url.QueryEscape(tok), nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		}, want: badRequest, ref: "RFC 6750 §2, §3.1"},
		{name: "header/query parameter name percent-encoded (access%5Ftoken), token in the header too", token: genuine, req: func(u, tok string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, u+"?access%5Ftoken="+url.QueryEscape(tok), nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		}, want: badRequest, ref: "RFC 6750 §2.3, §5.3; RFC 3986 §2.1"},
		{name: "header/query parameter name percent-encoded (acc%65ss_token)", token: genuine, req: func(u, tok string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, u+"?acc%65ss_token="+url.QueryEscape(tok), nil)
			return r
		}, want: badRequest, ref: "RFC 6750 §2.3, §5.3"},
		{name: "header/bare access_token in the query string, token in the header", token: genuine, req: func(u, tok string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, u+"?x=1&access_token", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		}, want: badRequest, ref: "RFC 6750 §2.3"},
		{name: "header/other query parameters, token in the header", token: genuine, req: func(u, tok string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, u+"?my_access_token=1&access_tokens=2&q=access_token%3D", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		}, ref: "RFC 6750 §2.3"},
		{name: "header/token in a form body", token: genuine, req: func(u, tok string) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, u, strings.NewReader("access_token="+url.QueryEscape(tok)))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, want: noToken, ref: "RFC 6750 §2.2"},
		{name: "header/token in a cookie", token: genuine, req: func(u, tok string) *http.Request {
			r, _ := http.NewRequest(http.MethodGet, u, nil)
			r.AddCookie(&http.Cookie{Name: "access_token", Value: tok})
			return r
		}, want: noToken, ref: "RFC 6750 §2"},
		// Parser differentials: member names (RFC 7515 §4, RFC 7519 §4, RFC 8725 §3.11).
		{name: "duplicate/alg twice (none, then ES384)", token: func(e *attackEnv) string {
			return e.rToken([]byte(`{"alg":"none","alg":"ES384","typ":"at+jwt","kid":"r-es384"}`), e.rClaims(nil))
		}, want: middleware.ErrMalformed, ref: "RFC 7515 §4; RFC 8725 §2.6"},
		{name: "duplicate/kid twice (unknown, then ours)", token: func(e *attackEnv) string {
			return e.rToken([]byte(`{"alg":"ES384","typ":"at+jwt","kid":"attacker","kid":"r-es384"}`), e.rClaims(nil))
		}, want: middleware.ErrMalformed, ref: "RFC 7515 §4"},
		{name: "duplicate/typ twice (JWT, then at+jwt)", token: func(e *attackEnv) string {
			return e.rToken([]byte(`{"alg":"ES384","typ":"JWT","kid":"r-es384","typ":"at+jwt"}`), e.rClaims(nil))
		}, want: middleware.ErrMalformed, ref: "RFC 7515 §4; RFC 8725 §3.11"},
		{name: "duplicate/iss twice (another tenant, then ours)", token: func(e *attackEnv) string {
			claims := e.rRawClaims([]string{"iss"}, fmt.Sprintf(`"iss":%q,"iss":%q`, e.b.Issuer(), e.r.Issuer()))
			return e.rToken(rHeader(nil), claims)
		}, want: middleware.ErrMalformed, ref: "RFC 7519 §4; RFC 8725 §2.6"},
		{name: "duplicate/aud twice (another API, then ours)", token: dupClaim(func(*attackEnv) string {
			return `"aud":"https://other.example.com","aud":"` + api + `"`
		}), want: middleware.ErrMalformed, ref: "RFC 7519 §4; RFC 8725 §2.6"},
		{name: "duplicate/exp twice (expired, then valid)", token: dupClaim(func(e *attackEnv) string {
			return fmt.Sprintf(`"exp":%d,"exp":%d`, e.now.Unix()-3600, e.now.Unix()+3600)
		}), want: middleware.ErrMalformed, ref: "RFC 7519 §4; RFC 8725 §2.6"},
		{name: "claim names/AUD instead of aud", token: func(e *attackEnv) string {
			claims := e.rRawClaims([]string{"aud"}, `"AUD":"`+api+`"`)
			return e.rToken(rHeader(nil), claims)
		}, want: middleware.ErrMalformed, ref: "RFC 7519 §4 (claim names are case-sensitive)"},
		{name: "claim names/iss, then ISS of ours", token: func(e *attackEnv) string {
			claims := e.rRawClaims([]string{"iss"}, fmt.Sprintf(`"iss":%q,"ISS":%q`, e.b.Issuer(), e.r.Issuer()))
			return e.rToken(rHeader(nil), claims)
		}, want: middleware.ErrMalformed, ref: "RFC 7519 §4; RFC 8725 §2.6"},
		{name: "exp/numeric string", token: func(e *attackEnv) string {
			return e.mintA(map[string]any{"exp": strconv.FormatInt(e.now.Unix()+3600, 10)}, nil)
		}, want: middleware.ErrMalformed, ref: "RFC 7519 §2 (NumericDate is a JSON number)"},
		{name: "exp/beyond int64 seconds (1e19)", token: func(e *attackEnv) string {
			return e.mintA(map[string]any{"exp": json.RawMessage("1e19")}, nil)
		}, want: middleware.ErrMalformed, ref: "RFC 7519 §2"},
	}
}

func TestAttacks(t *testing.T) {
	e := newAttackEnv(t)
	seen := map[string]bool{}
	for _, row := range attacks() {
		if seen[row.name] {
			t.Fatalf("row %q twice", row.name)
		}
		seen[row.name] = true
		if row.ref == "" {
			t.Fatalf("row %q has no reference", row.name)
		}
		t.Run(row.name, func(t *testing.T) {
			for _, p := range row.run(t, e) {
				t.Error(p)
			}
		})
	}
}

// TestSecurityCatalogue keeps SECURITY.md's attack catalogue and the suite
// in step: every row is listed there, by name.
func TestSecurityCatalogue(t *testing.T) {
	doc, err := os.ReadFile("../SECURITY.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range attacks() {
		if !strings.Contains(string(doc), "| "+row.name+" |") {
			t.Errorf("SECURITY.md does not list %q", row.name)
		}
	}
}
