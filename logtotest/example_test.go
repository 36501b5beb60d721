package logtotest_test

import (
	"crypto/elliptic"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/logtoguard/logtoguard/logtotest"
)

const api = "https://api.example.com"

// In a test, New takes the test's *testing.T and closes the issuer when the
// test ends.
func ExampleNew() {
	logto := logtotest.New(t) // t is the test's *testing.T
	token := logto.M2MToken("inventory-sync", api, "read:products")

	// Send "Authorization: Bearer "+token to the API under test, configured
	// with the Logto endpoint logto.Endpoint() and the audience api.
	parsed, _, _ := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	claims := parsed.Claims.(jwt.MapClaims)
	fmt.Println(claims["sub"], claims["aud"], claims["scope"])
	fmt.Println(claims["iss"] == logto.Endpoint()+"/oidc")
	// Output:
	// inventory-sync https://api.example.com read:products
	// true
}

// Outside tests, such as in a demo program, Start returns the issuer and the
// caller closes it.
func ExampleStart() {
	logto, err := logtotest.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer logto.Close()

	resp, err := http.Get(logto.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var discovery struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&discovery); err != nil {
		log.Fatal(err)
	}
	fmt.Println(resp.StatusCode, discovery.Issuer == logto.Issuer(), discovery.JWKSURI == logto.JWKSURL())
	// Output: 200 true true
}

// A machine-to-machine token has Logto's exact shape.
func ExampleIssuer_M2MToken() {
	logto := logtotest.New(t)
	token := logto.M2MToken("inventory-sync", api, "read:products", "write:products")

	parsed, _, _ := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	h, c := parsed.Header, parsed.Claims.(jwt.MapClaims)
	fmt.Println(h["alg"], h["typ"], h["kid"] == logto.SigningKey().ID())
	fmt.Println(c["sub"], c["client_id"], c["aud"])
	fmt.Println(c["scope"])
	_, nbf := c["nbf"]
	fmt.Println(c["exp"].(float64)-c["iat"].(float64), nbf)
	// Output:
	// ES384 at+jwt true
	// inventory-sync inventory-sync https://api.example.com
	// read:products write:products
	// 3600 false
}

// The published keys verify the tokens: fetch the JWKS, parse it with
// jwkset, and check the signature with golang-jwt.
func ExampleIssuer_JWKSURL() {
	logto := logtotest.New(t, logtotest.WithRSA())
	token := logto.M2MToken("inventory-sync", api)

	resp, err := http.Get(logto.JWKSURL())
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	var set jwkset.JWKSMarshal
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		log.Fatal(err)
	}
	keys, err := set.JWKSlice()
	if err != nil {
		log.Fatal(err)
	}
	parsed, err := jwt.Parse(token, func(tok *jwt.Token) (any, error) {
		for _, k := range keys {
			if k.Marshal().KID == tok.Header["kid"] {
				return k.Key(), nil
			}
		}
		return nil, fmt.Errorf("no key %v", tok.Header["kid"])
	}, jwt.WithValidMethods([]string{"ES384", "RS256"}))
	fmt.Println(resp.Header.Get("Content-Type"), len(keys), parsed.Method.Alg(), err)
	// Output: application/jwk-set+json 1 RS256 <nil>
}

// An app gets a token from the token endpoint with the client credentials
// grant, as golang.org/x/oauth2/clientcredentials does it, and gets only the
// scopes that both the app and the resource have.
func ExampleIssuer_TokenURL() {
	logto := logtotest.New(t)
	logto.AddResource(api, "read:products", "write:products")
	logto.AddM2MApp("inventory-sync", "s3cret", "read:products")

	request := func(secret string) *http.Response {
		form := url.Values{
			"grant_type": {"client_credentials"},
			"resource":   {api},
			"scope":      {"read:products write:products"},
		}
		req, _ := http.NewRequest(http.MethodPost, logto.TokenURL(), strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("inventory-sync", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		return resp
	}

	resp := request("s3cret")
	var ok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		TokenType   string `json:"token_type"`
		Scope       string `json:"scope"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&ok)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, ok.TokenType, ok.ExpiresIn, ok.Scope)
	parsed, _, _ := jwt.NewParser().ParseUnverified(ok.AccessToken, jwt.MapClaims{})
	claims := parsed.Claims.(jwt.MapClaims)
	fmt.Println(claims["sub"], claims["aud"], claims["scope"])

	resp = request("wrong")
	var failed struct {
		Error string `json:"error"`
		Code  string `json:"code"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&failed)
	resp.Body.Close()
	fmt.Println(resp.StatusCode, failed.Error, failed.Code, strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic "))
	// Output:
	// 200 Bearer 3600 read:products
	// inventory-sync https://api.example.com read:products
	// 401 invalid_client oidc.invalid_client true
}

// Mint makes any other token: here one for an organization-level API
// resource with a claim added by a custom JWT script, and one whose typ
// header is changed.
func ExampleIssuer_Mint() {
	logto := logtotest.New(t)
	token := logto.Mint(logtotest.Token{
		Subject:        "user-1",
		ClientID:       "spa",
		Audience:       api,
		Scopes:         []string{"read:members"},
		OrganizationID: "org-1",
		Extra:          map[string]any{"plan": "pro"},
		Header:         map[string]any{"typ": "application/at+jwt"},
	})

	parsed, _, _ := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	c := parsed.Claims.(jwt.MapClaims)
	fmt.Println(parsed.Header["typ"], c["organization_id"], c["plan"], c["scope"])
	// Output: application/at+jwt org-1 pro read:members
}

// An immediate rotation, Logto's default: the new key signs at once and the
// old key leaves the JWKS.
func ExampleIssuer_RotateKeys() {
	logto := logtotest.New(t)
	before := logto.SigningKey().ID()

	logto.RotateKeys()
	after := logto.SigningKey().ID()
	parsed, _, _ := jwt.NewParser().ParseUnverified(logto.M2MToken("inventory-sync", api), jwt.MapClaims{})
	fmt.Println(before != after, parsed.Header["kid"] == after)
	fmt.Println(slices.Equal(logto.KIDs(), []string{after}))
	// Output:
	// true true
	// true
}

// A staged rotation: the next key is published before it signs, and the
// previous one stays published after.
func ExampleIssuer_StageRotation() {
	logto := logtotest.New(t)
	first := logto.SigningKey().ID()

	logto.StageRotation()
	fmt.Println(len(logto.KIDs()), logto.SigningKey().ID() == first)

	logto.CompleteRotation()
	fmt.Println(len(logto.KIDs()), logto.SigningKey().ID() == first, logto.KIDs()[1] == first)
	// Output:
	// 2 true
	// 2 false true
}

// Faults make the JWKS fail as a network does; the fetch counter shows how
// often a verifier asked for keys.
func ExampleIssuer_SetJWKSDown() {
	logto := logtotest.New(t)
	logto.SetJWKSDown(true)

	resp, err := http.Get(logto.JWKSURL())
	if err != nil {
		log.Fatal(err)
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode, logto.JWKSFetches())
	// Output: 503 1
}

// The broken tokens an API meets in practice, each of which it must refuse.
func ExampleIssuer_OpaqueToken() {
	logto := logtotest.New(t)
	opaque := logto.OpaqueToken()
	fmt.Println(len(opaque), strings.Contains(opaque, "."))

	id, _, _ := jwt.NewParser().ParseUnverified(logto.IDToken("user-1", "spa"), jwt.MapClaims{})
	fmt.Println(id.Header["typ"], id.Claims.(jwt.MapClaims)["aud"])

	foreign, _, _ := jwt.NewParser().ParseUnverified(logto.ForeignKeyToken("inventory-sync", api), jwt.MapClaims{})
	fmt.Println(slices.Contains(logto.KIDs(), foreign.Header["kid"].(string)))
	// Output:
	// 43 false
	// JWT spa
	// false
}

// t stands for the *testing.T of the test that the examples' code would be
// in. It only offers what New uses; issuers are closed when the examples
// are done (see TestMain).
var t = &exampleT{}

type exampleT struct {
	testing.TB // nil: any other method panics
	cleanups   []func()
}

func (*exampleT) Helper()            {}
func (*exampleT) Fatal(args ...any)  { log.Fatal(args...) }
func (e *exampleT) Cleanup(f func()) { e.cleanups = append(e.cleanups, f) }
func (e *exampleT) runCleanups() {
	for _, f := range slices.Backward(e.cleanups) {
		f()
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	t.runCleanups()
	os.Exit(code)
}

// A token from Logto's token exchange: the actor calls on behalf of the
// user, and act names it.
func ExampleIssuer_DelegatedToken() {
	logto := logtotest.New(t)
	token := logto.DelegatedToken("user-1", "support-agent", "helpdesk", api, "read:orders")

	parsed, _, _ := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	c := parsed.Claims.(jwt.MapClaims)
	fmt.Println(c["sub"], c["client_id"], c["act"])
	// Output: user-1 helpdesk map[sub:support-agent]
}

// Logto signs with the algorithm of its key's curve.
func ExampleWithCurve() {
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		logto := logtotest.New(t, logtotest.WithCurve(curve))
		parsed, _, _ := jwt.NewParser().ParseUnverified(logto.M2MToken("inventory-sync", api), jwt.MapClaims{})
		fmt.Println(curve.Params().Name, parsed.Header["alg"])
	}
	// Output:
	// P-256 ES256
	// P-384 ES384
	// P-521 ES512
}

// A key that no issuer publishes, on the curve of a P-256 tenant, signs a
// token that no JWKS verifies.
func ExampleNewECKey() {
	logto := logtotest.New(t, logtotest.WithCurve(elliptic.P256()))
	key, err := logtotest.NewECKey(elliptic.P256())
	if err != nil {
		log.Fatal(err)
	}
	token := logto.Mint(logtotest.Token{Subject: "inventory-sync", ClientID: "inventory-sync", Audience: api, Key: key})
	parsed, _, _ := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	fmt.Println(key.Algorithm(), parsed.Header["alg"], slices.Contains(logto.KIDs(), key.ID()))
	// Output: ES256 ES256 false
}

// A program that wants the issuer at a known address gives it a listener.
func ExampleWithListener() {
	ln, err := net.Listen("tcp", "127.0.0.1:0") // logtoguard dev: 127.0.0.1:3001
	if err != nil {
		log.Fatal(err)
	}
	logto, err := logtotest.Start(logtotest.WithListener(ln))
	if err != nil {
		log.Fatal(err)
	}
	defer logto.Close() // closes ln too

	fmt.Println(logto.Endpoint() == "http://"+ln.Addr().String())
	// Output: true
}

// A middleware serves a route of its own beside Logto's.
func ExampleWithMiddleware() {
	logto, err := logtotest.Start(logtotest.WithMiddleware(func(next http.Handler) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /hello", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") })
		mux.Handle("/", next) // discovery, JWKS and token endpoint
		return mux
	}))
	if err != nil {
		log.Fatal(err)
	}
	defer logto.Close()

	for _, path := range []string{"/hello", "/oidc/jwks"} {
		resp, err := http.Get(logto.Endpoint() + path)
		if err != nil {
			log.Fatal(err)
		}
		_ = resp.Body.Close()
		fmt.Println(path, resp.StatusCode)
	}
	// Output:
	// /hello 200
	// /oidc/jwks 200
}

func ExampleSignWebhook() {
	// The logto-signature-sha-256 header of a delivery: hex HMAC-SHA256 of
	// the raw body with the webhook's signing key.
	fmt.Println(logtotest.SignWebhook("0123456789abcdefghijklmnopqrstuv", []byte(`{"event":"PostSignIn"}`)))
	// Output: 6d5a6f80d364dba8934a049fdb1d0db5ec25e89de68e211fcc153a5eaa10f7fb
}
