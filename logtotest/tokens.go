package logtotest

import (
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultTTL is the lifetime of Logto's access tokens unless an API resource
// sets another.
const DefaultTTL = 3600 * time.Second

// ManagementAPI is the resource of the Logto Management API on a self-hosted
// tenant (on Logto Cloud it is https://<tenant-id>.logto.app/api). An API
// must never accept tokens for it.
const ManagementAPI = "https://default.logto.app/api"

// Token describes a token for [Issuer.Mint]. The zero value of each field
// picks what Logto would issue.
type Token struct {
	// Subject is the sub claim: the user ID, or the app ID of a
	// machine-to-machine app. Left out when empty.
	Subject string
	// ClientID is the client_id claim: the app that requested the token.
	// Left out when empty.
	ClientID string
	// Audience is the aud claim: a string (what Logto issues) or a []string
	// (which the spec allows). Any other value is written as it is, for
	// tests of malformed tokens. Left out when nil.
	Audience any
	// Scopes become the space-separated scope claim, which is left out when
	// there are none, as Logto does.
	Scopes []string
	// OrganizationID is the organization_id claim, which Logto adds to
	// tokens for organization-level API resources. Left out when empty.
	OrganizationID string
	// Actor makes the token a delegated (or impersonation) token, as
	// Logto's token exchange issues it: act is {"sub": Actor}, the actor
	// that calls on behalf of Subject. Left out when empty.
	Actor string
	// Issuer is the iss claim. Default [Issuer.Issuer].
	Issuer string
	// IssuedAt is the iat claim. Default: now, by the clock of [WithClock].
	IssuedAt time.Time
	// TTL is the lifetime: exp is iat plus TTL, in whole seconds. Default
	// [DefaultTTL]; a negative TTL makes a token that expired before it was
	// issued.
	TTL time.Duration
	// Extra claims are added after the standard ones and win over them: a
	// test can overwrite a standard claim, or delete it with a nil value.
	Extra map[string]any
	// Header entries overwrite the header (alg, typ, kid, or others); a nil
	// value deletes the entry. The signature is always made with the key's
	// own algorithm, whatever the header then says.
	Header map[string]any
	// Key signs the token and gives the kid. Default [Issuer.SigningKey].
	Key *Key
}

// Mint returns a signed JWT access token shaped exactly like Logto's, for
// what spec describes. The header is {"alg":"ES384"|"RS256","typ":"at+jwt",
// "kid":<thumbprint>}; the claims are jti, sub, iat, exp, scope, client_id,
// iss, aud, and organization_id and act when set, and never nbf. Mint panics if the
// token cannot be encoded, such as when Extra holds a value that JSON cannot
// represent.
func (i *Issuer) Mint(spec Token) string {
	key := spec.Key
	if key == nil {
		key = i.SigningKey()
	}
	iat := spec.IssuedAt
	if iat.IsZero() {
		iat = i.now()
	}
	ttl := spec.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	iss := spec.Issuer
	if iss == "" {
		iss = i.issuer
	}

	claims := jwt.MapClaims{
		"jti": randomID(21),
		"iat": iat.Unix(),
		"exp": iat.Unix() + int64(ttl/time.Second),
		"iss": iss,
	}
	if spec.Subject != "" {
		claims["sub"] = spec.Subject
	}
	if len(spec.Scopes) > 0 {
		claims["scope"] = strings.Join(spec.Scopes, " ")
	}
	if spec.ClientID != "" {
		claims["client_id"] = spec.ClientID
	}
	if spec.Audience != nil {
		claims["aud"] = spec.Audience
	}
	if spec.OrganizationID != "" {
		claims["organization_id"] = spec.OrganizationID
	}
	if spec.Actor != "" {
		claims["act"] = map[string]any{"sub": spec.Actor}
	}
	setOrDelete(claims, spec.Extra)

	tok := jwt.NewWithClaims(key.method, claims)
	tok.Header["typ"] = "at+jwt"
	tok.Header["kid"] = key.kid
	setOrDelete(tok.Header, spec.Header)
	signed, err := tok.SignedString(key.signer)
	if err != nil {
		panic(fmt.Sprintf("logtotest: minting a token: %v", err))
	}
	return signed
}

// MintRaw signs header and claims exactly as given, bytes for bytes, with
// the issuer's signing key (or key, when not nil) and its algorithm, for
// tokens that Mint cannot express: duplicate members, odd whitespace or
// number forms. The header should name the key's alg and kid for the token
// to verify. It panics if signing fails, which crypto/rand does not cause.
func (i *Issuer) MintRaw(key *Key, header, claims []byte) string {
	if key == nil {
		key = i.SigningKey()
	}
	tok := &jwt.Token{}
	signing := tok.EncodeSegment(header) + "." + tok.EncodeSegment(claims)
	sig, err := key.method.Sign(signing, key.signer)
	if err != nil {
		panic(fmt.Sprintf("logtotest: signing a token: %v", err))
	}
	return signing + "." + tok.EncodeSegment(sig)
}

// setOrDelete copies overrides into m; a nil value deletes the key.
func setOrDelete(m, overrides map[string]any) {
	for _, k := range slices.Sorted(maps.Keys(overrides)) {
		if v := overrides[k]; v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
}

// M2MToken returns the token that Logto issues to a machine-to-machine app
// through the client credentials grant: sub and client_id are both appID,
// which is how Logto marks such tokens, and aud is resource. The lifetime is
// the resource's (see [Issuer.AddResourceTTL]), else [DefaultTTL].
//
// The scopes are written as given: neither the app nor the resource needs to
// be registered. To test what Logto grants, request a token from
// [Issuer.TokenURL] instead.
func (i *Issuer) M2MToken(appID, resource string, scopes ...string) string {
	return i.Mint(Token{Subject: appID, ClientID: appID, Audience: resource, Scopes: scopes, TTL: i.resourceTTL(resource)})
}

// UserToken returns the token that Logto issues to userID signed in to the
// app clientID, for the API resource: aud is resource. The lifetime is the
// resource's, else [DefaultTTL].
func (i *Issuer) UserToken(userID, clientID, resource string, scopes ...string) string {
	return i.Mint(Token{Subject: userID, ClientID: clientID, Audience: resource, Scopes: scopes, TTL: i.resourceTTL(resource)})
}

// DelegatedToken returns the token that Logto's token exchange issues when
// the app clientID presents userID's subject token with actorID's actor
// token, for the API resource: sub is userID, client_id is clientID, and
// act is {"sub": actorID}, the actor that calls on behalf of the user. The
// lifetime is the resource's, else [DefaultTTL].
func (i *Issuer) DelegatedToken(userID, actorID, clientID, resource string, scopes ...string) string {
	return i.Mint(Token{Subject: userID, ClientID: clientID, Actor: actorID, Audience: resource, Scopes: scopes, TTL: i.resourceTTL(resource)})
}

// OrganizationToken returns an organization token: the token Logto issues
// for organization permissions (no API resource). Its aud is
// urn:logto:organization:<orgID>, it has no organization_id claim, and its
// scope is "" rather than absent when there are no scopes, as in Logto. For a
// token of an organization-level API resource (aud is the API, and
// organization_id is set), use [Issuer.Mint] with [Token].OrganizationID.
func (i *Issuer) OrganizationToken(userID, clientID, orgID string, scopes ...string) string {
	spec := Token{Subject: userID, ClientID: clientID, Audience: "urn:logto:organization:" + orgID, Scopes: scopes}
	if len(scopes) == 0 {
		spec.Extra = map[string]any{"scope": ""}
	}
	return i.Mint(spec)
}

// OpaqueToken returns a token like the opaque access token that Logto issues
// when a user's token is requested without a resource: 43 characters of the
// base64url alphabet, no dots, so not a JWT. It is the most common reason an
// API cannot verify a Logto token.
func (i *Issuer) OpaqueToken() string { return randomID(43) }

// ExpiredToken returns [Issuer.M2MToken] issued two hours ago with a
// one-hour lifetime: it expired an hour ago, far beyond any clock-skew
// leeway, and is otherwise valid.
func (i *Issuer) ExpiredToken(appID, resource string, scopes ...string) string {
	return i.Mint(Token{
		Subject: appID, ClientID: appID, Audience: resource, Scopes: scopes,
		IssuedAt: i.now().Add(-2 * time.Hour), TTL: time.Hour,
	})
}

// WrongAudienceToken returns a valid machine-to-machine token for the Logto
// Management API ([ManagementAPI], scope "all"), as when an app sends the
// token it got for Logto's own API to yours. Your API must refuse it.
func (i *Issuer) WrongAudienceToken(appID string) string {
	return i.M2MToken(appID, ManagementAPI, "all")
}

// IDToken returns an OpenID Connect ID token, as Logto issues to the app
// clientID when userID signs in: signed by the same key and with the same iss
// as access tokens, but with typ "JWT", aud clientID, and no jti, client_id
// or scope. An API must not accept it as an access token.
func (i *Issuer) IDToken(userID, clientID string) string {
	return i.Mint(Token{
		Subject:  userID,
		Audience: clientID,
		Extra:    map[string]any{"jti": nil},
		Header:   map[string]any{"typ": "JWT"},
	})
}

// ForeignKeyToken returns [Issuer.M2MToken] signed by a key that the JWKS
// never publishes, with that key's kid, which the JWKS does not have either:
// a forgery, or a token from another tenant. The key has the issuer's key
// type and is the same for every call.
func (i *Issuer) ForeignKeyToken(appID, resource string, scopes ...string) string {
	return i.Mint(Token{
		Subject: appID, ClientID: appID, Audience: resource, Scopes: scopes,
		TTL: i.resourceTTL(resource), Key: i.foreignKey(),
	})
}

// idAlphabet is the alphabet of Logto's random IDs and opaque tokens
// (nanoid's): the 64 characters of base64url.
const idAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// randomID returns n random characters of idAlphabet.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails, by crypto/rand's contract
	for j := range b {
		b[j] = idAlphabet[b[j]&63]
	}
	return string(b)
}
