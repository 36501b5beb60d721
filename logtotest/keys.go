package logtotest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// defaultRSABits is the size of generated RSA keys. Logto's console
// generates RSA-4096 keys; 2048 bits verify the same way and generate much
// faster.
const defaultRSABits = 2048

// Key is a signing key with its kid, as Logto keeps them: an EC key that
// signs with its curve's algorithm (P-384 ES384, Logto's default; P-256
// ES256; P-521 ES512) or an RSA key that signs RS256. The kid
// is the key's RFC 7638 SHA-256 thumbprint, as in Logto.
//
// Keys come from [NewKey], [Issuer.SigningKey] and key rotation. A Key that
// is not published by an [Issuer] (see [Issuer.KIDs]) is a foreign key: sign
// a token with it through [Token].Key to test a token that no JWKS verifies.
type Key struct {
	kid    string
	method jwt.SigningMethod
	signer crypto.Signer
	jwk    jwkset.JWKMarshal // the public JWK, as the JWKS publishes it
}

// NewKey generates a key: EC P-384 for ES384 (Logto's default), or, when rsa
// is true, a 2048-bit RSA key for RS256 (Logto generates RSA-4096; the
// smaller size keeps tests fast and verifies the same way).
func NewKey(rsa bool) (*Key, error) {
	if rsa {
		return keySpec{rsaBits: defaultRSABits}.generate()
	}
	return keySpec{}.generate()
}

// NewECKey generates an EC key on curve (P-256, P-384 or P-521) that signs
// with the curve's algorithm (ES256, ES384, ES512), as Logto signs with
// the algorithm of its key's curve.
func NewECKey(curve elliptic.Curve) (*Key, error) {
	if _, _, ok := curveAlgorithm(curve); !ok {
		return nil, fmt.Errorf("logtotest: NewECKey: no JWS algorithm for curve %v", curveName(curve))
	}
	return keySpec{curve: curve}.generate()
}

// keySpec is the kind of key an issuer generates: RSA of rsaBits bits, or
// else EC on curve (P-384 when nil).
type keySpec struct {
	rsaBits int
	curve   elliptic.Curve
}

// algorithm is the JWS algorithm keys of s sign with.
func (s keySpec) algorithm() string {
	if s.rsaBits != 0 {
		return "RS256"
	}
	m, _, _ := curveAlgorithm(s.curve)
	return m.Alg()
}

func (s keySpec) generate() (*Key, error) {
	if s.rsaBits != 0 {
		return newRSAKey(s.rsaBits)
	}
	return newECKey(s.curve)
}

// curveAlgorithm returns the signing method of curve (nil: P-384).
func curveAlgorithm(curve elliptic.Curve) (jwt.SigningMethod, jwkset.ALG, bool) {
	switch curve {
	case nil, elliptic.P384():
		return jwt.SigningMethodES384, jwkset.AlgES384, true
	case elliptic.P256():
		return jwt.SigningMethodES256, jwkset.AlgES256, true
	case elliptic.P521():
		return jwt.SigningMethodES512, jwkset.AlgES512, true
	}
	return nil, "", false
}

func curveName(curve elliptic.Curve) string {
	if curve == nil {
		return "<nil>"
	}
	return curve.Params().Name
}

func newECKey(curve elliptic.Curve) (*Key, error) {
	if curve == nil {
		curve = elliptic.P384()
	}
	method, alg, _ := curveAlgorithm(curve)
	priv, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("logtotest: generating an EC %s key: %w", curveName(curve), err)
	}
	return newKey(priv, &priv.PublicKey, method, alg)
}

func newRSAKey(bits int) (*Key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("logtotest: generating an RSA key: %w", err)
	}
	// Logto's RSA JWKs carry no "alg".
	return newKey(priv, &priv.PublicKey, jwt.SigningMethodRS256, "")
}

// newKey builds the public JWK with jwkset twice: once to read the members
// that the thumbprint covers, once more with the thumbprint as its kid.
func newKey(priv crypto.Signer, pub any, method jwt.SigningMethod, alg jwkset.ALG) (*Key, error) {
	opts := jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{ALG: alg, USE: jwkset.UseSig}}
	draft, err := jwkset.NewJWKFromKey(pub, opts)
	if err != nil {
		return nil, fmt.Errorf("logtotest: serialising the public key: %w", err)
	}
	kid, err := thumbprint(draft.Marshal())
	if err != nil {
		return nil, err
	}
	opts.Metadata.KID = kid
	jwk, err := jwkset.NewJWKFromKey(pub, opts)
	if err != nil {
		return nil, fmt.Errorf("logtotest: serialising the public key: %w", err)
	}
	return &Key{kid: kid, method: method, signer: priv, jwk: jwk.Marshal()}, nil
}

// ID returns the key ID (kid): the RFC 7638 SHA-256 thumbprint of the public key,
// base64url without padding.
func (k *Key) ID() string { return k.kid }

// Algorithm returns the JWS algorithm the key signs with: ES256, ES384,
// ES512 or RS256.
func (k *Key) Algorithm() string { return k.method.Alg() }

// thumbprint computes the RFC 7638 JWK thumbprint with SHA-256: the hash of
// the JSON object of the key type's required members, in lexicographic order
// and without whitespace, encoded base64url without padding.
func thumbprint(jwk jwkset.JWKMarshal) (string, error) {
	var members map[string]string
	switch jwk.KTY {
	case jwkset.KtyEC:
		members = map[string]string{"crv": string(jwk.CRV), "kty": string(jwk.KTY), "x": jwk.X, "y": jwk.Y}
	case jwkset.KtyRSA:
		members = map[string]string{"e": jwk.E, "kty": string(jwk.KTY), "n": jwk.N}
	default:
		return "", fmt.Errorf("logtotest: no thumbprint for key type %q", jwk.KTY)
	}
	// encoding/json writes map keys sorted and adds no whitespace; HTML
	// escaping is turned off so that the bytes are exactly the members.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(members); err != nil {
		return "", fmt.Errorf("logtotest: thumbprint: %w", err)
	}
	sum := sha256.Sum256(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// mustNewKey generates a key for rotation, where a failure (which crypto/rand
// does not produce) cannot be returned.
func mustNewKey(spec keySpec) *Key {
	k, err := spec.generate()
	if err != nil {
		panic(err)
	}
	return k
}

// SigningKey returns the key that signs tokens now.
func (i *Issuer) SigningKey() *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.current
}

// RotateKeys simulates an immediate rotation in the Logto console (the
// default): a new key of the same type signs every token from now on and is
// the only key published. The previous signing key, and a key staged with
// [Issuer.StageRotation], are dropped from the JWKS at once, so tokens they
// signed stop verifying once a verifier refreshes its keys.
func (i *Issuer) RotateKeys() {
	k := mustNewKey(i.keys)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.current, i.currentPublished = k, true
	i.next, i.previous = nil, nil
}

// StageRotation simulates the first half of a staged rotation: a "next" key
// is published in the JWKS but signs nothing yet. [Issuer.CompleteRotation]
// starts signing with it. Staging again replaces the staged key.
func (i *Issuer) StageRotation() {
	k := mustNewKey(i.keys)
	i.mu.Lock()
	defer i.mu.Unlock()
	i.next = k
}

// CompleteRotation simulates the second half of a staged rotation: the staged
// key signs from now on, and the key that signed until now stays published as
// the "previous" key so that tokens it signed keep verifying. An older
// previous key is dropped, so the JWKS holds at most current, next and
// previous, as in Logto. Without a staged key, one is generated first.
func (i *Issuer) CompleteRotation() {
	i.mu.Lock()
	staged := i.next != nil
	i.mu.Unlock()
	var fresh *Key
	if !staged {
		fresh = mustNewKey(i.keys) // outside the lock: RSA takes a while
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	next := i.next
	if next == nil {
		if fresh == nil { // unstaged meanwhile by a concurrent call
			fresh = mustNewKey(i.keys)
		}
		next = fresh
	}
	i.previous = nil
	if i.currentPublished {
		i.previous = i.current
	}
	i.current, i.currentPublished = next, true
	i.next = nil
}

// RemoveKey takes the key with this kid out of the JWKS. Removing the signing
// key does not change which key signs: later tokens carry a kid that the JWKS
// no longer has, as when a key is deleted under a running tenant. Unknown
// kids are ignored.
func (i *Issuer) RemoveKey(kid string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.current.kid == kid {
		i.currentPublished = false
	}
	if i.next != nil && i.next.kid == kid {
		i.next = nil
	}
	if i.previous != nil && i.previous.kid == kid {
		i.previous = nil
	}
}

// KIDs returns the kids that the JWKS publishes now, in the order it lists
// them: the signing key, the staged next key, the previous key.
func (i *Issuer) KIDs() []string {
	i.mu.Lock()
	defer i.mu.Unlock()
	var kids []string
	for _, k := range i.publishedLocked() {
		kids = append(kids, k.kid)
	}
	return kids
}

// publishedLocked lists the published keys; i.mu must be held.
func (i *Issuer) publishedLocked() []*Key {
	var keys []*Key
	if i.currentPublished {
		keys = append(keys, i.current)
	}
	if i.next != nil {
		keys = append(keys, i.next)
	}
	if i.previous != nil {
		keys = append(keys, i.previous)
	}
	return keys
}

// foreignKey returns the issuer's key that is never published, generating it
// on first use.
func (i *Issuer) foreignKey() *Key {
	i.mu.Lock()
	k := i.foreign
	i.mu.Unlock()
	if k != nil {
		return k
	}
	k = mustNewKey(i.keys)
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.foreign == nil {
		i.foreign = k
	}
	return i.foreign
}
