package jwks

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/MicahParks/jwkset"
)

// jwksSeeds returns key sets shaped like Logto's (EC P-384 with alg ES384,
// RSA without alg; current, next and previous keys) and documents that must
// be refused or partly skipped.
func jwksSeeds(f testing.TB) [][]byte {
	ec := ecKey(f, elliptic.P384(), "XGB2DXNFeU2dEJC_CK_i1RMWW4Nl")
	ec.ALG = jwkset.AlgES384
	ec2 := ecKey(f, elliptic.P384(), "next")
	ec2.ALG = jwkset.AlgES384
	p256 := ecKey(f, elliptic.P256(), "p256")
	p521 := ecKey(f, elliptic.P521(), "p521")
	rsa2048 := rsaKey(f, 2048, "rsa")
	rsa1024 := rsaKey(f, 1024, "weak")
	enc := ecKey(f, elliptic.P384(), "enc")
	enc.USE = jwkset.UseEnc
	badAlg := ecKey(f, elliptic.P384(), "hs")
	badAlg.ALG = jwkset.AlgHS256
	withX5U := ecKey(f, elliptic.P384(), "x5u")
	withX5U.X5U = "http://127.0.0.1:1/cert.pem"

	var out [][]byte
	for _, keys := range [][]jwkset.JWKMarshal{
		{ec},
		{ec, ec2},
		{rsa2048},
		{ec, rsa2048, p256, p521},
		{ec, rsa1024, enc, badAlg, withX5U},
		{ec, ec},
	} {
		raw, err := json.Marshal(jwkset.JWKSMarshal{Keys: keys})
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, raw)
	}
	for _, s := range []string{
		`{"keys":[]}`, `{"keys":null}`, `{}`, `[]`, `null`, ``, `{"keys":[{}]}`,
		`{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-384","kid":"k","x":"AA","y":"AA"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-384","kid":"k","x":"","y":""}]}`,
		`{"keys":[{"kty":"RSA","kid":"k","n":"AQAB","e":"AQAB"}]}`,
		`{"keys":[{"kty":"RSA","kid":"k","n":"AQAB","e":""}]}`,
		`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-384","kid":"k","x":"AA","y":"AA","d":"AA"}]}`,
		`{"keys":[{"kty":"EC","crv":"P-384","kid":"k","key_ops":["sign"]}]}`,
		`{"keys":"not a list"}`, `{"keys":[1,2,3]}`,
		// Found by this target: alg ES384 on a P-521 key, member names in
		// other cases (encoding/json matches them case-insensitively).
		`{"keYs":[{"ktY":"EC","Alg":"ES384","kid":"0","Crv":"P-521","X":"AQitupI-z5-L6DsNDtumVD2AVd-4f2NEzbhXVHNEoKWagiCL9rV75mGDHJbE44kAhictO8MPImTAu2LOqjTOp8JY","Y":"AIObD3eqBwfV2VRdTQIuzcwp8XJdXh3z1wefMrkP0J_P2hRNU4W_JyFNqRLaEcN6ajiEPv66lOqIy6Fv15KQU1cf"}]}`,
	} {
		out = append(out, []byte(s))
	}
	return out
}

// FuzzJWKS feeds arbitrary documents to the parser of fetched key sets:
// nothing may panic; a set is either refused with an error or holds only
// usable keys (kid set, EC on a known curve or RSA of at least 2048 bits, an
// allowed alg), each filed under its own kid; and parsing the same document
// again keeps the same *Key values, as a refresh does.
func FuzzJWKS(f *testing.F) {
	for _, s := range jwksSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		s := &Set{log: slog.New(slog.DiscardHandler)}
		snap, err := s.parse(body)
		if err != nil {
			if snap != nil {
				t.Fatal("snapshot with an error")
			}
			return
		}
		if snap == nil || len(snap.keys) == 0 {
			t.Fatal("no error and no keys")
		}
		var unusable []string
		for kid, k := range snap.keys {
			if kid == "" || k.ID() != kid {
				t.Fatalf("key %q filed under %q", k.ID(), kid)
			}
			switch pub := k.Public().(type) {
			case *ecdsa.PublicKey:
				switch pub.Curve {
				case elliptic.P256(), elliptic.P384(), elliptic.P521():
				default:
					t.Fatalf("key %q on curve %v", kid, pub.Curve.Params().Name)
				}
			case *rsa.PublicKey:
				if pub.N.BitLen() < minRSABits {
					t.Fatalf("key %q: RSA of %d bits", kid, pub.N.BitLen())
				}
			default:
				t.Fatalf("key %q of type %T", kid, pub)
			}
			fits := 0
			for _, alg := range []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "HS256", "none", "EdDSA", ""} {
				if !k.Fits(alg) {
					continue
				}
				fits++
				_, ec := k.Public().(*ecdsa.PublicKey)
				switch {
				case k.Algorithm() != "" && alg != k.Algorithm():
					t.Fatalf("key %q with alg %q fits %s", kid, k.Algorithm(), alg)
				case strings.HasPrefix(alg, "ES") != ec:
					t.Fatalf("key %q (%T) fits %s", kid, k.Public(), alg)
				case alg == "HS256" || alg == "none" || alg == "EdDSA" || alg == "":
					t.Fatalf("key %q fits %q", kid, alg)
				}
			}
			if fits == 0 {
				unusable = append(unusable, kid)
			}
		}
		s.snap.Store(snap)
		again, err := s.parse(body)
		if err != nil {
			t.Fatalf("second parse: %v", err)
		}
		if len(again.keys) != len(snap.keys) {
			t.Fatalf("second parse: %d keys, first %d", len(again.keys), len(snap.keys))
		}
		for kid, k := range again.keys {
			if snap.keys[kid] != k {
				t.Fatalf("key %q is a new *Key after an unchanged refresh", kid)
			}
		}
		if len(unusable) > 0 {
			t.Fatalf("keys %q fit no algorithm, yet were kept", unusable)
		}
	})
}

// FuzzSameOrigin checks the jwks_uri of a discovery document, which comes
// from the network: a URI accepted is absolute, on the issuer's host, and
// https when the issuer is.
func FuzzSameOrigin(f *testing.F) {
	for _, s := range [][2]string{
		{"https://tenant.logto.app/oidc", "https://tenant.logto.app/oidc/jwks"},
		{"https://tenant.logto.app/oidc", "http://tenant.logto.app/oidc/jwks"},
		{"https://tenant.logto.app/oidc", "https://evil.example.com/oidc/jwks"},
		{"https://tenant.logto.app/oidc", "https://tenant.logto.app.evil.com/jwks"},
		{"https://tenant.logto.app/oidc", "https://tenant.logto.app@evil.com/jwks"},
		{"https://tenant.logto.app/oidc", "//evil.com/jwks"},
		{"https://tenant.logto.app/oidc", "/oidc/jwks"},
		{"http://localhost:3001/oidc", "http://localhost:3001/oidc/jwks"},
		{"http://127.0.0.1:3001/oidc", "http://127.0.0.1:9999/oidc/jwks"},
		{"https://TENANT.logto.app/oidc", "https://tenant.LOGTO.app/oidc/jwks"},
		{"https://tenant.logto.app/oidc", "javascript:alert(1)"},
		{"https://tenant.logto.app/oidc", "file:///etc/passwd"},
		{"https://[::1]/oidc", "https://[::1]:443/jwks"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, issuer, jwksURI string) {
		iu, err := url.Parse(issuer)
		if err != nil || iu.Host == "" || (iu.Scheme != "https" && iu.Scheme != "http") {
			return // New refuses such issuers before any discovery
		}
		got, err := sameOrigin(issuer, jwksURI)
		if err != nil {
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("sameOrigin(%q, %q) = %q, which does not parse: %v", issuer, jwksURI, got, err)
		}
		if u.Scheme != "https" && u.Scheme != "http" {
			t.Fatalf("sameOrigin(%q, %q) = %q: scheme %q", issuer, jwksURI, got, u.Scheme)
		}
		if !strings.EqualFold(u.Hostname(), iu.Hostname()) {
			t.Fatalf("sameOrigin(%q, %q) = %q: host %q, issuer's %q", issuer, jwksURI, got, u.Hostname(), iu.Hostname())
		}
		if iu.Scheme == "https" && u.Scheme != "https" {
			t.Fatalf("sameOrigin(%q, %q) = %q: not https under an https issuer", issuer, jwksURI, got)
		}
	})
}
