// Command managementapi calls Logto's Management API as a machine-to-machine
// app: it gets a token for the Management API resource with the "all" scope
// and lists the tenant's applications (GET /api/applications).
//
// In the Logto console, give the M2M app a role that has the Management API
// permission "all". The resource is https://<tenant-id>.logto.app/api on
// Logto Cloud and https://default.logto.app/api self-hosted.
//
//	LOGTO_ENDPOINT=https://your-tenant.logto.app LOGTO_APP_ID=... LOGTO_APP_SECRET=... \
//	LOGTO_MANAGEMENT_API=https://your-tenant.logto.app/api go run ./managementapi
package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

func main() {
	get := func(key string) string { return strings.TrimSpace(os.Getenv(key)) }
	endpoint := strings.TrimRight(get("LOGTO_ENDPOINT"), "/")
	appID, secret := get("LOGTO_APP_ID"), get("LOGTO_APP_SECRET")
	resource := get("LOGTO_MANAGEMENT_API")
	if resource == "" {
		resource = "https://default.logto.app/api"
	}
	for _, v := range []struct{ name, value string }{
		{"LOGTO_ENDPOINT", endpoint}, {"LOGTO_APP_ID", appID}, {"LOGTO_APP_SECRET", secret},
	} {
		if v.value == "" {
			fatal(fmt.Errorf("%s is required", v.name))
		}
	}
	if u, err := url.Parse(endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fatal(fmt.Errorf("LOGTO_ENDPOINT %q: must be an absolute http(s) URL", endpoint))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := clientcredentials.Config{
		ClientID:       appID,
		ClientSecret:   secret,
		TokenURL:       endpoint + "/oidc/token",
		Scopes:         []string{"all"},
		EndpointParams: url.Values{"resource": {resource}},
	}
	resp, err := cfg.Client(ctx).Get(endpoint + "/api/applications")
	if err != nil {
		fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	fmt.Printf("GET /api/applications: %d\n%s\n", resp.StatusCode, strings.TrimSpace(string(body)))
	if resp.StatusCode != 200 {
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "managementapi: %v\n", err)
	os.Exit(1)
}
