// Package rpcapp holds what the gRPC and Connect example servers share, so
// that they answer alike and as the HTTP example servers do: what each
// method of shop.v1.Products requires of the caller's token, and the
// service itself, on the catalogue of package app.
package rpcapp

import (
	"context"

	shopv1 "github.com/logtoguard/logtoguard/examples/gen/shop/v1"
	"github.com/logtoguard/logtoguard/examples/internal/app"
	"github.com/logtoguard/logtoguard/middleware"
)

// OrgField is the field of ListOrgProductsRequest that names the
// organization a call addresses: the Organization of its requirement,
// which the interceptors read from the request message.
const OrgField = "org_id"

// Requirements maps each full method name of shop.v1.Products
// ("/shop.v1.Products/List", the same as the Connect procedure) to what it
// requires, as the HTTP examples' routes do:
//
//	List             read:products                        (GET /products)
//	Create           write:products                       (POST /products)
//	WhoAmI           any valid token                      (GET /whoami)
//	ListOrgProducts  org_id's organization, read:products (GET /orgs/{org}/products)
//	Watch            read:products
//	Sync             a machine-to-machine app of SyncApps (POST /sync)
func Requirements(s app.Settings) map[string]middleware.Requirement {
	return map[string]middleware.Requirement{
		shopv1.Products_List_FullMethodName:            middleware.Scopes(app.ReadProducts),
		shopv1.Products_Create_FullMethodName:          middleware.Scopes(app.WriteProducts),
		shopv1.Products_WhoAmI_FullMethodName:          {},
		shopv1.Products_ListOrgProducts_FullMethodName: {Organization: OrgField, Scopes: []string{app.ReadProducts}},
		shopv1.Products_Watch_FullMethodName:           middleware.Scopes(app.ReadProducts),
		shopv1.Products_Sync_FullMethodName:            s.SyncRequirement(),
	}
}

// Service answers the methods of shop.v1.Products, with the claims that the
// interceptors put in the context. Its unary methods have the signatures
// of the generated gRPC server interface; a Connect handler wraps them.
type Service struct{}

// Products is the catalogue as messages.
func Products() []*shopv1.Product {
	list := make([]*shopv1.Product, len(app.Products))
	for i, p := range app.Products {
		list[i] = &shopv1.Product{Id: p.ID, Name: p.Name, Price: int64(p.Price)}
	}
	return list
}

// List returns the catalogue.
func (Service) List(context.Context, *shopv1.ListRequest) (*shopv1.ListResponse, error) {
	return &shopv1.ListResponse{Products: Products()}, nil
}

// Create answers as POST /products does; the example keeps nothing.
func (Service) Create(_ context.Context, req *shopv1.CreateRequest) (*shopv1.CreateResponse, error) {
	return &shopv1.CreateResponse{
		Status:  app.Created["status"],
		Product: &shopv1.Product{Name: req.GetName(), Price: req.GetPrice()},
	}, nil
}

// WhoAmI describes the caller, as GET /whoami does.
func (Service) WhoAmI(ctx context.Context, _ *shopv1.WhoAmIRequest) (*shopv1.WhoAmIResponse, error) {
	claims, _ := middleware.ClaimsFromContext(ctx)
	w := app.NewWhoAmI(claims)
	return &shopv1.WhoAmIResponse{Sub: w.Sub, ClientId: w.ClientID, M2M: w.M2M, Scopes: w.Scopes, OrganizationId: w.OrganizationID, Act: w.Act}, nil
}

// ListOrgProducts returns the organization's view of the catalogue.
func (Service) ListOrgProducts(_ context.Context, req *shopv1.ListOrgProductsRequest) (*shopv1.ListOrgProductsResponse, error) {
	return &shopv1.ListOrgProductsResponse{OrganizationId: req.GetOrgId(), Products: Products()}, nil
}

// Sync names the calling app, as POST /sync does.
func (Service) Sync(ctx context.Context, _ *shopv1.SyncRequest) (*shopv1.SyncResponse, error) {
	claims, _ := middleware.ClaimsFromContext(ctx)
	s := app.NewSynced(claims)
	return &shopv1.SyncResponse{Status: s.Status, AppId: s.AppID}, nil
}

// Watch sends the catalogue through send, one product per message, and
// stops early if ctx ends.
func (Service) Watch(ctx context.Context, send func(*shopv1.WatchResponse) error) error {
	for _, p := range Products() {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := send(&shopv1.WatchResponse{Product: p}); err != nil {
			return err
		}
	}
	return nil
}
