package middleware

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/logtoguard/logtoguard/internal/plainhttp"
)

// ResourceMetadataPath is where RFC 9728 places the metadata of a protected
// resource: for the resource https://api.example.com/v1 it is served at
// https://api.example.com/.well-known/oauth-protected-resource/v1.
const ResourceMetadataPath = "/.well-known/oauth-protected-resource"

// ResourceMetadata is an OAuth 2.0 Protected Resource Metadata document (RFC
// 9728, section 2). Clients that discover authorization from a 401 (MCP
// clients, for one) read it to learn which authorization server issues
// tokens for the API, and which resource and scopes to ask for.
type ResourceMetadata struct {
	// Resource is the API identifier: the resource indicator that clients
	// send to Logto as resource=.
	Resource string `json:"resource"`
	// AuthorizationServers are the issuers that can issue tokens for it.
	AuthorizationServers []string `json:"authorization_servers,omitempty"`
	// ScopesSupported are the scopes the API defines.
	ScopesSupported []string `json:"scopes_supported,omitempty"`
	// BearerMethodsSupported is ["header"]: tokens are accepted in the
	// Authorization header only.
	BearerMethodsSupported []string `json:"bearer_methods_supported,omitempty"`
	// ResourceName is a human-readable name of the API.
	ResourceName string `json:"resource_name,omitempty"`
	// ResourceDocumentation is the URL of the API's documentation.
	ResourceDocumentation string `json:"resource_documentation,omitempty"`
}

// ResourceMetadata returns the metadata document of the API the validator
// protects: its first audience as the resource, its trusted issuers as the
// authorization servers, the header as the only bearer method, and the
// scopes given. Set ResourceName and ResourceDocumentation on the result
// if wanted, and serve it with [ResourceMetadataHandler].
func (v *Validator) ResourceMetadata(scopes ...string) ResourceMetadata {
	return ResourceMetadata{
		Resource:               v.cfg.Audiences[0],
		AuthorizationServers:   v.Issuers(),
		ScopesSupported:        slices.Clone(scopes),
		BearerMethodsSupported: []string{"header"},
	}
}

// ResourceMetadataHandler serves md as JSON to GET and HEAD requests, with
// CORS open to every origin since the document is public. Mount it at the
// path that [ResourceMetadataURL] gives for md.Resource (for a resource
// without a path, [ResourceMetadataPath]), and set
// [Config].ResourceMetadataURL to its URL so that 401 and 403 challenges point to
// it.
func ResourceMetadataHandler(md ResourceMetadata) http.Handler {
	body, err := json.Marshal(md)
	if err != nil { // a struct of strings always encodes
		panic(err)
	}
	body = append(body, '\n')
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

// ResourceMetadataURL returns where RFC 9728 (section 3.1) places the
// metadata of resource: the well-known path inserted between the host and
// the resource's path. The resource must be an absolute https URL (or http
// on a loopback host, for tests) without query or fragment.
func ResourceMetadataURL(resource string) (string, error) {
	u, err := url.Parse(resource)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("middleware: resource %q is not an absolute URL without query or fragment", resource)
	}
	if u.Scheme != "https" && (u.Scheme != "http" || !plainhttp.Loopback(u.Hostname())) {
		return "", fmt.Errorf("middleware: resource %q is not an https URL", resource)
	}
	u.Path = ResourceMetadataPath + strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	return u.String(), nil
}
