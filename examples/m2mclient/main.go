// Command m2mclient is a machine-to-machine client of the example APIs: it
// gets an access token from Logto with the client credentials grant, then
// calls GET /whoami and GET /products and prints each status and body.
//
//	LOGTO_ENDPOINT=https://your-tenant.logto.app LOGTO_APP_ID=... LOGTO_APP_SECRET=... \
//	LOGTO_API_RESOURCE=https://api.example.com LOGTO_SCOPES=read:products go run ./m2mclient
//
// API_URL is the example API (default http://127.0.0.1:8080).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2/clientcredentials"
)

const name = "m2mclient"

type settings struct {
	endpoint, appID, secret, resource, apiURL string
	scopes                                    []string
}

func fromEnv() (settings, error) {
	s := settings{apiURL: "http://127.0.0.1:8080"}
	get := func(key string) string { return strings.TrimSpace(os.Getenv(key)) }
	s.endpoint = strings.TrimRight(get("LOGTO_ENDPOINT"), "/")
	if s.endpoint == "" {
		return s, errors.New("LOGTO_ENDPOINT is required: the Logto endpoint, such as https://your-tenant.logto.app")
	}
	if err := absolute(s.endpoint); err != nil {
		return s, fmt.Errorf("LOGTO_ENDPOINT %q: %v", s.endpoint, err)
	}
	if s.appID = get("LOGTO_APP_ID"); s.appID == "" {
		return s, errors.New("LOGTO_APP_ID is required: the app ID of your machine-to-machine app in Logto")
	}
	if s.secret = get("LOGTO_APP_SECRET"); s.secret == "" {
		return s, errors.New("LOGTO_APP_SECRET is required: the app secret of your machine-to-machine app in Logto")
	}
	if s.resource = get("LOGTO_API_RESOURCE"); s.resource == "" {
		return s, errors.New("LOGTO_API_RESOURCE is required: the API identifier of your API resource in Logto")
	}
	s.scopes = strings.Fields(os.Getenv("LOGTO_SCOPES"))
	if u := get("API_URL"); u != "" {
		if err := absolute(u); err != nil {
			return s, fmt.Errorf("API_URL %q: %v", u, err)
		}
		s.apiURL = strings.TrimRight(u, "/")
	}
	return s, nil
}

func absolute(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("must be an absolute http(s) URL")
	}
	return nil
}

func main() {
	s, err := fromEnv()
	if err != nil {
		fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := clientcredentials.Config{
		ClientID:       s.appID,
		ClientSecret:   s.secret,
		TokenURL:       s.endpoint + "/oidc/token",
		Scopes:         s.scopes,
		EndpointParams: url.Values{"resource": {s.resource}},
	}
	if _, err := cfg.Token(ctx); err != nil {
		fatal(fmt.Errorf("token request to %s: %v", cfg.TokenURL, oneLine(err.Error())))
	}
	client := cfg.Client(ctx)
	for _, path := range []string{"/whoami", "/products"} {
		resp, err := client.Get(s.apiURL + path)
		if err != nil {
			fatal(fmt.Errorf("GET %s: %v", path, err))
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			fatal(fmt.Errorf("GET %s: %v", path, err))
		}
		fmt.Printf("GET %s: %d\n%s\n", path, resp.StatusCode, strings.TrimRight(string(body), "\n"))
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
	os.Exit(1)
}
