package examples_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	shopv1 "github.com/logtoguard/logtoguard/examples/gen/shop/v1"
	"github.com/logtoguard/logtoguard/examples/internal/rpcapp"
	"github.com/logtoguard/logtoguard/logtotest"
)

// rpcServers are the example servers of shop.v1.Products (examples/proto):
// they answer rpcRows, and the settings and shutdown tests of the HTTP
// servers.
var rpcServers = []string{"connect"}

// rpcRow is a call of the RPC servers' contract: the HTTP servers'
// contract (contractRows) asked of shop.v1.Products, answered in status
// codes named as adaptertest.Case.Code names them.
type rpcRow struct {
	name          string
	method        string // the full method name, such as /shop.v1.Products/List
	request       proto.Message
	authorization []string // the values of the authorization metadata
	code          string   // "OK", "InvalidArgument", "Unauthenticated", "PermissionDenied" or "Unavailable"
	message       string   // in the status message
	challenge     string   // the start of the www-authenticate value
	want          []proto.Message
}

// check fails t unless the answer of a server (its responses, or the code,
// message and challenge of its error) is the row's.
func (r rpcRow) check(t *testing.T, code, message, challenge string, got []proto.Message) {
	t.Helper()
	if code != r.code {
		t.Fatalf("code %s %q, want %s", code, message, r.code)
	}
	if !strings.Contains(message, r.message) {
		t.Errorf("message %q, want it to contain %q", message, r.message)
	}
	if !strings.HasPrefix(challenge, r.challenge) || (r.challenge == "" && challenge != "") {
		t.Errorf("www-authenticate %q, want prefix %q", challenge, r.challenge)
	}
	if r.code != "OK" {
		return
	}
	if len(got) != len(r.want) {
		t.Fatalf("%d responses, want %d: %v", len(got), len(r.want), got)
	}
	for i := range got {
		if !proto.Equal(got[i], r.want[i]) {
			t.Errorf("response %d: %v, want %v", i, got[i], r.want[i])
		}
	}
}

// rpcRows are the calls of the contract, with tokens from iss; the servers
// run with PUBLIC_URL=publicURL and LOGTO_SYNC_APP_IDS=inventory-sync,
// inventory-admin.
func rpcRows(iss *logtotest.Issuer) []rpcRow {
	read := iss.M2MToken("inventory-sync", api, "read:products")
	write := iss.M2MToken("inventory-admin", api, "read:products", "write:products")
	user := iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa-app", Audience: api, Scopes: []string{"read:products"}, OrganizationID: "org-1"})
	noScopes := iss.M2MToken("bare-app", api)
	orgNoScope := iss.Mint(logtotest.Token{Subject: "user-1", ClientID: "spa-app", Audience: api, OrganizationID: "org-1"})
	badSignature, forgedScope := tampered(read)
	bearer := func(tok string) []string { return []string{"Bearer " + tok} }

	const (
		list   = shopv1.Products_List_FullMethodName
		create = shopv1.Products_Create_FullMethodName
		whoami = shopv1.Products_WhoAmI_FullMethodName
		orgs   = shopv1.Products_ListOrgProducts_FullMethodName
		watch  = shopv1.Products_Watch_FullMethodName
		sync   = shopv1.Products_Sync_FullMethodName
	)
	forbidden := `Bearer realm="api", error="insufficient_scope"`
	invalid := `Bearer realm="api", error="invalid_token"`
	catalogue := &shopv1.ListResponse{Products: rpcapp.Products()}
	var watched []proto.Message
	for _, p := range rpcapp.Products() {
		watched = append(watched, &shopv1.WatchResponse{Product: p})
	}
	org := func(id string) *shopv1.ListOrgProductsRequest { return &shopv1.ListOrgProductsRequest{OrgId: id} }
	lamp := &shopv1.CreateRequest{Name: "Lamp", Price: 2500}
	return []rpcRow{
		{"no token", list, &shopv1.ListRequest{}, nil, "Unauthenticated", "a bearer token is required",
			`Bearer realm="api", resource_metadata="` + publicURL + `/.well-known/oauth-protected-resource"`, nil},
		{"organization products", orgs, org("org-1"), bearer(user), "OK", "", "",
			[]proto.Message{&shopv1.ListOrgProductsResponse{OrganizationId: "org-1", Products: rpcapp.Products()}}},
		{"other organization", orgs, org("org-2"), bearer(user), "PermissionDenied", "the token is not for organization 'org-2'",
			forbidden + `, error_description="the token is not for organization 'org-2'"`, nil},
		{"no organization in the request", orgs, org(""), bearer(user), "PermissionDenied", "the request names no organization", forbidden, nil},
		{"organization without organization_id", orgs, org("org-1"), bearer(read), "PermissionDenied", "organization_id", forbidden, nil},
		{"organization without scope", orgs, org("org-1"), bearer(orgNoScope), "PermissionDenied", "the token lacks the scopes: read:products",
			forbidden + `, error_description="the token lacks the scopes: read:products", scope="read:products"`, nil},
		{"sync by a listed app", sync, &shopv1.SyncRequest{}, bearer(read), "OK", "", "",
			[]proto.Message{&shopv1.SyncResponse{Status: "synced", AppId: "inventory-sync"}}},
		{"sync by an unlisted app", sync, &shopv1.SyncRequest{}, bearer(noScopes), "PermissionDenied", "the app 'bare-app' may not use this route", forbidden, nil},
		{"sync by a user", sync, &shopv1.SyncRequest{}, bearer(user), "PermissionDenied", "machine-to-machine apps only", forbidden, nil},
		{"products", list, &shopv1.ListRequest{}, bearer(read), "OK", "", "", []proto.Message{catalogue}},
		{"lowercase scheme", list, &shopv1.ListRequest{}, []string{"bearer " + read}, "OK", "", "", []proto.Message{catalogue}},
		{"watch", watch, &shopv1.WatchRequest{}, bearer(read), "OK", "", "", watched},
		{"watch without a token", watch, &shopv1.WatchRequest{}, nil, "Unauthenticated", "a bearer token is required", `Bearer realm="api"`, nil},
		{"watch without the scope", watch, &shopv1.WatchRequest{}, bearer(noScopes), "PermissionDenied", "the token lacks the scopes: read:products",
			forbidden + `, error_description="the token lacks the scopes: read:products", scope="read:products"`, nil},
		{"create without write", create, lamp, bearer(read), "PermissionDenied", "the token lacks the scopes: write:products",
			forbidden + `, error_description="the token lacks the scopes: write:products", scope="write:products"`, nil},
		{"create", create, lamp, bearer(write), "OK", "", "",
			[]proto.Message{&shopv1.CreateResponse{Status: "created", Product: &shopv1.Product{Name: "Lamp", Price: 2500}}}},
		{"whoami m2m", whoami, &shopv1.WhoAmIRequest{}, bearer(read), "OK", "", "",
			[]proto.Message{&shopv1.WhoAmIResponse{Sub: "inventory-sync", ClientId: "inventory-sync", M2M: true, Scopes: []string{"read:products"}}}},
		{"whoami user", whoami, &shopv1.WhoAmIRequest{}, bearer(user), "OK", "", "",
			[]proto.Message{&shopv1.WhoAmIResponse{Sub: "user-1", ClientId: "spa-app", Scopes: []string{"read:products"}, OrganizationId: "org-1"}}},
		{"whoami no scopes", whoami, &shopv1.WhoAmIRequest{}, bearer(noScopes), "OK", "", "",
			[]proto.Message{&shopv1.WhoAmIResponse{Sub: "bare-app", ClientId: "bare-app", M2M: true}}},
		{"expired", list, &shopv1.ListRequest{}, bearer(iss.ExpiredToken("inventory-sync", api, "read:products")), "Unauthenticated", "expired", invalid, nil},
		{"tampered signature", list, &shopv1.ListRequest{}, bearer(badSignature), "Unauthenticated", "the token's signature is invalid",
			invalid + `, error_description="the token's signature is invalid"`, nil},
		{"tampered payload", create, lamp, bearer(forgedScope), "Unauthenticated", "the token's signature is invalid",
			invalid + `, error_description="the token's signature is invalid"`, nil},
		{"foreign key", list, &shopv1.ListRequest{}, bearer(iss.ForeignKeyToken("inventory-sync", api, "read:products")), "Unauthenticated", "", invalid, nil},
		{"opaque", list, &shopv1.ListRequest{}, bearer(iss.OpaqueToken()), "Unauthenticated", "resource=", invalid, nil},
		{"ID token", whoami, &shopv1.WhoAmIRequest{}, bearer(iss.IDToken("user-1", "spa-app")), "Unauthenticated", "access token", invalid, nil},
		{"management API token", whoami, &shopv1.WhoAmIRequest{}, bearer(iss.WrongAudienceToken("inventory-sync")), "Unauthenticated", "Management API", invalid, nil},
		{"two authorization values", list, &shopv1.ListRequest{}, []string{"Bearer " + read, "Bearer " + read}, "InvalidArgument",
			"more than one Authorization header", `Bearer realm="api", error="invalid_request"`, nil},
		{"basic auth", list, &shopv1.ListRequest{}, []string{"Basic YTpi"}, "Unauthenticated", "a bearer token is required", `Bearer realm="api"`, nil},
	}
}
