package middleware_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/logtoguard/logtoguard/logtotest"
	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/revocation"
)

func ExampleNew() {
	logto, err := logtotest.Start() // stands in for https://your-tenant.logto.app
	if err != nil {
		log.Fatal(err)
	}
	defer logto.Close()

	v, err := middleware.New(middleware.Config{
		Endpoint:  logto.Endpoint(),
		Audiences: []string{"https://api.example.com"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	if err := v.WaitReady(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Ready(), v.Issuers()[0] == logto.Issuer())
	// Output: true true
}

func ExampleValidator_Verify() {
	logto, _ := logtotest.Start()
	defer logto.Close()
	v, _ := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{"https://api.example.com"}})
	defer v.Close()

	token := logto.M2MToken("inventory-sync", "https://api.example.com", "read:products")
	claims, err := v.Verify(context.Background(), token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject, claims.IsM2M(), claims.Scopes)

	_, err = v.Verify(context.Background(), logto.ExpiredToken("inventory-sync", "https://api.example.com"))
	fmt.Println(errors.Is(err, middleware.ErrExpired), errors.Is(err, middleware.ErrInvalidToken))
	// Output:
	// inventory-sync true [read:products]
	// true true
}

func ExampleBearerToken() {
	r := httptest.NewRequest(http.MethodGet, "/products", nil)
	r.Header.Set("Authorization", "bearer eyJhbGciOiJFUzM4NCJ9.e30.c2ln")
	token, err := middleware.BearerToken(r)
	fmt.Println(token, err)

	r.Header.Add("Authorization", "Bearer another")
	_, err = middleware.BearerToken(r)
	fmt.Println(errors.Is(err, middleware.ErrInvalidRequest))
	// Output:
	// eyJhbGciOiJFUzM4NCJ9.e30.c2ln <nil>
	// true
}

func ExampleAuthorize() {
	claims := &middleware.Claims{Subject: "app-1", ClientID: "app-1", Scopes: []string{"read:products"}}
	fmt.Println(middleware.Authorize(claims, middleware.Scopes("read:products"), nil))
	err := middleware.Authorize(claims, middleware.Scopes("read:products", "write:products"), nil)
	var se *middleware.ScopeError
	fmt.Println(errors.As(err, &se), se.Missing)
	// Output:
	// <nil>
	// true [write:products]
}

func ExampleAuthorize_organization() {
	// A token of an organization-level API resource carries organization_id;
	// a route for one organization compares it with the organization named
	// in the request, here the {org} wildcard of the path.
	claims := &middleware.Claims{Subject: "user-1", ClientID: "spa", OrganizationID: "org-a"}
	req := middleware.Requirement{Organization: "org"}
	r := httptest.NewRequest(http.MethodGet, "/orgs/org-a/members", nil)
	r.SetPathValue("org", "org-a")
	fmt.Println(middleware.Authorize(claims, req, r.PathValue))
	r.SetPathValue("org", "org-b")
	err := middleware.Authorize(claims, req, r.PathValue)
	fmt.Println(errors.Is(err, middleware.ErrOrganization))
	// Output:
	// <nil>
	// true
}

func ExampleAuthorize_organizationToken() {
	// An organization token whose organization permission is named like an
	// API scope.
	claims := &middleware.Claims{Subject: "user-1", ClientID: "spa",
		Audience: []string{"urn:logto:organization:org-a"}, Scopes: []string{"read:products"}}

	// On a route that names no organization, it is refused.
	err := middleware.Authorize(claims, middleware.Scopes("read:products"), nil)
	fmt.Println(errors.Is(err, middleware.ErrOrganization))

	// On a route for its organization, its scopes count.
	req := middleware.Requirement{Organization: "org", Scopes: []string{"read:products"}}
	fmt.Println(middleware.Authorize(claims, req, func(string) string { return "org-a" }))
	// Output:
	// true
	// <nil>
}

func ExampleAuthorize_m2m() {
	inventory := &middleware.Claims{Subject: "inventory-sync", ClientID: "inventory-sync"}
	user := &middleware.Claims{Subject: "user-1", ClientID: "spa"}
	fmt.Println(middleware.Authorize(inventory, middleware.Requirement{AppIDs: []string{"inventory-sync", "billing"}}, nil))
	fmt.Println(middleware.Authorize(user, middleware.Requirement{M2M: true}, nil))
	fmt.Println(middleware.Authorize(user, middleware.Requirement{User: true}, nil))
	// Output:
	// <nil>
	// middleware: client not allowed: this route accepts machine-to-machine apps only
	// <nil>
}

func ExampleAuthorize_delegation() {
	// A token from Logto's token exchange: the support agent acts for the
	// user, through the helpdesk app.
	delegated := &middleware.Claims{Subject: "user-1", ClientID: "helpdesk", Actor: "support-agent"}
	own := &middleware.Claims{Subject: "user-1", ClientID: "web"}

	// A payment wants the user's own hand.
	payment := middleware.Requirement{NoDelegation: true}
	fmt.Println(middleware.Authorize(own, payment, nil))
	fmt.Println(middleware.Authorize(delegated, payment, nil))

	// Reading orders admits listed apps, and of delegated calls only
	// those of listed actors.
	orders := middleware.Requirement{Clients: []string{"web", "helpdesk"}, Actors: []string{"support-agent"}}
	fmt.Println(middleware.Authorize(delegated, orders, nil))
	// Output:
	// <nil>
	// middleware: client not allowed: this route accepts only the subject's own tokens, not one acting for it (act "support-agent")
	// <nil>
}

func ExampleWithClaims() {
	// A handler test without a token: put claims in the context directly.
	handler := func(w http.ResponseWriter, r *http.Request) {
		c, ok := middleware.ClaimsFromContext(r.Context())
		fmt.Fprintln(w, ok, c.Subject, c.IsM2M())
	}
	r := httptest.NewRequest(http.MethodGet, "/whoami", nil)
	r = r.WithContext(middleware.WithClaims(r.Context(), &middleware.Claims{Subject: "user-1", ClientID: "spa"}))
	rec := httptest.NewRecorder()
	handler(rec, r)
	fmt.Print(rec.Body.String())
	// Output: true user-1 false
}

func ExampleValidator_WriteError() {
	v, _ := middleware.New(middleware.Config{Endpoint: "https://your-tenant.logto.app", Audiences: []string{"https://api.example.com"}})
	defer v.Close()
	rec := httptest.NewRecorder()
	v.WriteError(rec, httptest.NewRequest(http.MethodGet, "/", nil), &middleware.ScopeError{Required: "write:products", Missing: []string{"write:products"}})
	fmt.Println(rec.Code)
	fmt.Println(rec.Header().Get("WWW-Authenticate"))
	fmt.Print(rec.Body.String())
	// Output:
	// 403
	// Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="write:products"
	// {"error":"insufficient_scope","error_description":"the token lacks the scopes: write:products"}
}

func ExampleClaims_Decode() {
	logto, _ := logtotest.Start()
	defer logto.Close()
	v, _ := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{"https://api.example.com"}})
	defer v.Close()

	token := logto.Mint(logtotest.Token{
		Subject: "user-1", ClientID: "spa", Audience: "https://api.example.com",
		Extra: map[string]any{"plan": "pro"}, // added by a Logto custom JWT script
	})
	claims, _ := v.Verify(context.Background(), token)
	var custom struct {
		Plan string `json:"plan"`
	}
	_ = claims.Decode(&custom)
	fmt.Println(custom.Plan)
	// Output: pro
}

func ExampleReason() {
	// Count rejections by reason, with a label of bounded cardinality.
	rejected := map[string]int{}
	hooks := middleware.Hooks{Rejected: func(err error) { rejected[middleware.Reason(err)]++ }}

	logto, _ := logtotest.Start()
	defer logto.Close()
	v, _ := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{"https://api.example.com"}, Hooks: hooks})
	defer v.Close()
	_, _ = v.Verify(context.Background(), logto.ExpiredToken("app-1", "https://api.example.com"))
	_, _ = v.Verify(context.Background(), logto.OpaqueToken())
	fmt.Println(rejected)
	// Output: map[expired:1 opaque_token:1]
}

func ExampleCheckOf() {
	// Name the check that refused each token: finer than Reason, and still
	// a label of bounded cardinality.
	logto, _ := logtotest.Start()
	defer logto.Close()
	v, _ := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{"https://api.example.com"}, Logger: slog.New(slog.DiscardHandler)})
	defer v.Close()
	for _, token := range []string{
		logto.OpaqueToken(),
		logto.Mint(logtotest.Token{Subject: "app-1", Audience: "https://api.example.com", Header: map[string]any{"crit": []string{"exp"}}}),
		logto.ExpiredToken("app-1", "https://api.example.com"),
		logto.WrongAudienceToken("app-1"),
	} {
		_, err := v.Verify(context.Background(), token)
		fmt.Println(middleware.Reason(err), middleware.CheckOf(err))
	}
	// Output:
	// opaque_token parts
	// malformed crit
	// expired exp
	// audience audience
}

func ExampleAdmissionConfig() {
	// A server whose tokens are mostly new (machine-to-machine calls with
	// a fresh token each time): let signature checks take more of the CPU,
	// and fail faster when the line is long.
	v, err := middleware.New(middleware.Config{
		Endpoint:  "https://your-tenant.logto.app",
		Audiences: []string{"https://api.example.com"},
		Admission: middleware.AdmissionConfig{
			SignatureShare: 0.5,
			MaxWait:        2 * time.Second,
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer v.Close()
	fmt.Println("signature checks admitted")
	// Output: signature checks admitted
}

func ExampleResourceMetadataHandler() {
	v, _ := middleware.New(middleware.Config{
		Endpoint:  "https://your-tenant.logto.app",
		Audiences: []string{"https://api.example.com"},
		// 401 challenges point clients to the metadata.
		ResourceMetadataURL: "https://api.example.com/.well-known/oauth-protected-resource",
	})
	defer v.Close()

	mux := http.NewServeMux()
	mux.Handle("GET "+middleware.ResourceMetadataPath, middleware.ResourceMetadataHandler(v.ResourceMetadata("read:products", "write:products")))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, middleware.ResourceMetadataPath, nil))
	fmt.Print(rec.Body.String())
	// Output: {"resource":"https://api.example.com","authorization_servers":["https://your-tenant.logto.app/oidc"],"scopes_supported":["read:products","write:products"],"bearer_methods_supported":["header"]}
}

func ExampleAuthorizationToken() {
	// The values of gRPC's authorization metadata, for one.
	token, err := middleware.AuthorizationToken([]string{"Bearer eyJhbGciOiJFUzM4NCJ9.e30.c2ln"})
	fmt.Println(token, err)
	_, err = middleware.AuthorizationToken(nil)
	fmt.Println(errors.Is(err, middleware.ErrNoToken))
	_, err = middleware.AuthorizationToken([]string{"Bearer a", "Bearer b"})
	fmt.Println(errors.Is(err, middleware.ErrInvalidRequest))
	// Output:
	// eyJhbGciOiJFUzM4NCJ9.e30.c2ln <nil>
	// true
	// true
}

func ExampleValidator_Reject() {
	// The answer to a refused request, for a transport other than an
	// http.ResponseWriter: a gRPC status, a gateway decision.
	v, _ := middleware.New(middleware.Config{Endpoint: "https://your-tenant.logto.app", Audiences: []string{"https://api.example.com"}})
	defer v.Close()
	claims := &middleware.Claims{Subject: "user-1", ClientID: "spa"}
	rej := v.Reject(middleware.Authorize(claims, middleware.Scopes("write:products"), nil))
	fmt.Println(rej.Status, rej.Error)
	fmt.Println(rej.Description)
	fmt.Println(rej.Challenge)
	fmt.Print(string(rej.Body()))
	// Output:
	// 403 insufficient_scope
	// the token lacks the scopes: write:products
	// Bearer realm="api", error="insufficient_scope", error_description="the token lacks the scopes: write:products", scope="write:products"
	// {"error":"insufficient_scope","error_description":"the token lacks the scopes: write:products"}
}

func ExampleValidator_Revoke() {
	logto, _ := logtotest.Start()
	defer logto.Close()
	v, _ := middleware.New(middleware.Config{Endpoint: logto.Endpoint(), Audiences: []string{"https://api.example.com"}})
	defer v.Close()
	ctx := context.Background()

	token := logto.UserToken("user-123", "web", "https://api.example.com", "read:products")
	if _, err := v.Verify(ctx, token); err != nil {
		log.Fatal(err)
	}
	// The account was compromised: end every token it holds now. Until is
	// filled in (At plus MaxTokenLifetime plus leeway).
	err := v.Revoke(ctx, revocation.Entry{
		Kind:    revocation.Subject,
		Subject: "user-123",
		At:      time.Now(),
		Reason:  "account compromised",
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = v.Verify(ctx, token) // a cache hit, refused all the same
	fmt.Println(errors.Is(err, middleware.ErrRevoked), middleware.Reason(err))
	fmt.Println(v.Reject(err).Description)
	// Output:
	// true revoked
	// the token was revoked: account compromised
}
