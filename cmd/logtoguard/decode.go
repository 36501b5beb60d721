package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/logtoguard/logtoguard/internal/logto"
)

// kind is what a token is, told from its shape, header and claims.
type kind int

const (
	kindGarbage      kind = iota // not a token at all
	kindOpaque                   // no dots: Logto's opaque access token
	kindJWE                      // five parts: an encrypted token
	kindAccess                   // a JWT access token for an API resource
	kindOrganization             // aud urn:logto:organization:<id>
	kindManagement               // aud is Logto's Management API
	kindID                       // an OpenID Connect ID token
	kindOtherJWT                 // a JWT that is none of the above
)

// decoded is a token read WITHOUT verifying anything.
type decoded struct {
	token  string
	parts  int            // dot-separated parts
	header map[string]any // nil when it could not be decoded
	claims jwt.MapClaims  // nil when it could not be decoded
	// err says why the token is not a decodable JWS (nil when it is). When
	// only the algorithm is unknown, header and claims are still set.
	err error
}

// unverifiedParser decodes tokens as strictly as the library does
// (golang-jwt with strict base64url), without checking anything.
var unverifiedParser = jwt.NewParser(jwt.WithStrictDecoding())

// decode reads token without verification, using golang-jwt's
// ParseUnverified: nothing it returns is trusted.
func decode(token string) *decoded {
	d := &decoded{token: token, parts: strings.Count(token, ".") + 1}
	for i, r := range token {
		if !isBase64URL(r) && r != '.' {
			d.err = fmt.Errorf("character %q at offset %d is not in the base64url alphabet", r, i)
			return d
		}
	}
	switch d.parts {
	case 1, 5:
		return d // opaque or JWE: told apart by kind
	case 3:
	default:
		d.err = fmt.Errorf("%d dot-separated parts (a JWT has 3)", d.parts)
		return d
	}
	claims := jwt.MapClaims{}
	tok, _, err := unverifiedParser.ParseUnverified(token, claims)
	if tok != nil && tok.Header != nil && (err == nil || errors.Is(err, jwt.ErrTokenUnverifiable)) {
		d.header, d.claims = tok.Header, claims
	}
	if err != nil {
		d.err = err
	}
	return d
}

func isBase64URL(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_'
}

// jwt reports whether the header and claims were decoded.
func (d *decoded) jwt() bool { return d.header != nil && d.claims != nil }

// kind tells what the token is.
func (d *decoded) kind() kind {
	switch {
	case d.parts == 1 && d.err == nil:
		return kindOpaque
	case d.parts == 5 && d.err == nil:
		return kindJWE
	case !d.jwt():
		return kindGarbage
	}
	typ := d.headerString("typ")
	if !logto.IsAccessTokenType(typ) {
		if strings.EqualFold(typ, "JWT") || typ == "" || d.has("nonce") || d.has("at_hash") || d.has("auth_time") {
			return kindID
		}
		return kindOtherJWT
	}
	aud := d.audience()
	for _, a := range aud {
		if logto.IsManagementAudience(a) {
			return kindManagement
		}
	}
	for _, a := range aud {
		if _, ok := logto.OrganizationAudience(a); ok {
			return kindOrganization
		}
	}
	return kindAccess
}

// headerString returns a string header parameter, "" when absent or not a
// string.
func (d *decoded) headerString(name string) string {
	s, _ := d.header[name].(string)
	return s
}

// str returns a string claim, "" when absent or not a string.
func (d *decoded) str(name string) string {
	s, _ := d.claims[name].(string)
	return s
}

func (d *decoded) has(name string) bool {
	_, ok := d.claims[name]
	return ok
}

// audience returns aud, a string or an array of strings; nil otherwise.
func (d *decoded) audience() []string {
	aud, err := d.claims.GetAudience()
	if err != nil {
		return nil
	}
	return aud
}

// time returns a NumericDate claim and whether it is present and valid.
func (d *decoded) time(get func() (*jwt.NumericDate, error)) (time.Time, bool) {
	nd, err := get()
	if err != nil || nd == nil {
		return time.Time{}, false
	}
	return nd.Time, true
}

func (d *decoded) expiresAt() (time.Time, bool) { return d.time(d.claims.GetExpirationTime) }
func (d *decoded) issuedAt() (time.Time, bool)  { return d.time(d.claims.GetIssuedAt) }
func (d *decoded) notBefore() (time.Time, bool) { return d.time(d.claims.GetNotBefore) }

// jweHeader decodes the protected header of an encrypted token with
// golang-jwt's segment decoder, for display only.
func (d *decoded) jweHeader() map[string]any {
	seg, _, _ := strings.Cut(d.token, ".")
	b, err := unverifiedParser.DecodeSegment(seg)
	if err != nil {
		return nil
	}
	var h map[string]any
	if json.Unmarshal(b, &h) != nil {
		return nil
	}
	return h
}

// endpointOf returns the Logto endpoint of an issuer (the issuer without
// /oidc) and whether the issuer has Logto's shape.
func endpointOf(iss string) (string, bool) {
	ep, ok := strings.CutSuffix(iss, "/oidc")
	if !ok || ep == "" {
		return "", false
	}
	u, err := url.Parse(ep)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", false
	}
	return ep, true
}

// actor returns act.sub, the actor of a delegated token, or "".
func (d *decoded) actor() string {
	act, _ := d.claims["act"].(map[string]any)
	sub, _ := act["sub"].(string)
	return sub
}
