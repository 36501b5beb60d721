package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/logtoguard/logtoguard/middleware"
)

// serveConfig is the YAML file of logtoguard serve. Its field names are part
// of the command's contract (README.md, "Protect any API behind a proxy").
type serveConfig struct {
	Endpoint                 string        `yaml:"endpoint"`
	Issuers                  []string      `yaml:"issuers"`
	JWKSURI                  string        `yaml:"jwks_uri"`
	Audiences                []string      `yaml:"audiences"`
	AcceptOrganizationTokens bool          `yaml:"accept_organization_tokens"`
	AllowInsecureHTTP        bool          `yaml:"allow_insecure_http"`
	Listen                   string        `yaml:"listen"`
	GRPCListen               string        `yaml:"grpc_listen"`
	PublicURL                string        `yaml:"public_url"`
	Default                  string        `yaml:"default"`
	Routes                   []routeConfig `yaml:"routes"`
	// Webhooks receives Logto's webhooks; Revocation keeps revocations in
	// Redis (revocation.go).
	Webhooks   *webhooksConfig   `yaml:"webhooks"`
	Revocation *revocationConfig `yaml:"revocation"`
}

// routeConfig is one entry of routes: a ServeMux pattern and what it
// requires, field for field a middleware.Requirement.
type routeConfig struct {
	Match        string   `yaml:"match"`
	Scopes       []string `yaml:"scopes"`
	AnyScopes    []string `yaml:"any_scopes"`
	Organization string   `yaml:"organization"`
	M2M          bool     `yaml:"m2m"`
	AppIDs       []string `yaml:"app_ids"`
	User         bool     `yaml:"user"`
	Clients      []string `yaml:"clients"`
	NoDelegation bool     `yaml:"no_delegation"`
	Actors       []string `yaml:"actors"`
	Public       bool     `yaml:"public"`
}

// Values of default.
const (
	defaultDeny         = "deny"
	defaultAuthenticate = "authenticate"
)

// defaultListen is listen when the file leaves it out.
const defaultListen = "127.0.0.1:9090"

// maxConfigBytes bounds the configuration file.
const maxConfigBytes = 1 << 20

// loadConfig reads and checks the configuration file name.
func loadConfig(name string) (*serveConfig, error) {
	f, err := os.Open(name) //nolint:gosec // G304: the operator names the file to read (--config)
	if err != nil {
		return nil, fmt.Errorf("config: %v", err)
	}
	defer func() { _ = f.Close() }() // read only: Close has nothing to report
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config %s: %v", name, err)
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("config %s: larger than %d bytes", name, maxConfigBytes)
	}
	return parseConfig(name, data)
}

// parseConfig decodes data strictly (an unknown field or a value of the
// wrong type is an error naming the field) and checks it: every error is one
// line that starts with name and the field.
func parseConfig(name string, data []byte) (*serveConfig, error) {
	var cfg serveConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config %s: the file is empty", name)
		}
		return nil, decodeError(name, data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config %s: more than one YAML document", name)
	}
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("config %s: %w", name, err)
	}
	return &cfg, nil
}

// yamlLine finds the line number yaml.v3 puts at the start of its messages.
var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): `)

// decodeError turns a yaml.v3 error into one line naming the file, the line
// and the field.
func decodeError(name string, data []byte, err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.Join(strings.Fields(msg), " ")
	m := yamlLine.FindStringSubmatch(msg)
	if m == nil {
		return fmt.Errorf("config %s: %s", name, msg)
	}
	line, _ := strconv.Atoi(m[1])
	msg = msg[len(m[0]):]
	if f, ok := strings.CutPrefix(msg, "field "); ok {
		if field, _, ok := strings.Cut(f, " not found in type"); ok {
			return fmt.Errorf("config %s:%d: %s: unknown field", name, line, fieldAt(data, line, field))
		}
	}
	if te != nil {
		return fmt.Errorf("config %s:%d: %s: %s", name, line, fieldAt(data, line, ""), typeMessage(msg))
	}
	return fmt.Errorf("config %s:%d: %s", name, line, msg)
}

// typeMessage rewrites yaml.v3's "cannot unmarshal !!str `x` into bool" in
// the file's terms rather than Go's.
func typeMessage(msg string) string {
	got, want, ok := strings.Cut(strings.TrimPrefix(msg, "cannot unmarshal "), " into ")
	if !ok {
		return msg
	}
	names := map[string]string{
		"bool":                   "true or false",
		"string":                 "a string",
		"[]string":               "a list of strings",
		"[]serve.routeConfig":    "a list of routes",
		"serve.routeConfig":      "a route (a mapping with match and its requirement)",
		"serve.serveConfig":      "a mapping of settings",
		"serve.webhooksConfig":   "a mapping (path, signing_key_env, signing_key_file)",
		"serve.revocationConfig": "a mapping (redis_url or redis_url_env, fail_closed)",
	}
	if n, ok := names[want]; ok {
		want = n
	}
	return "want " + want + ", got " + strings.TrimPrefix(strings.TrimPrefix(got, "!!"), "seq")
}

// fieldAt names the field of data at line: "routes[2].scopes". When key is
// set, it is the name of an unknown key on that line.
func fieldAt(data []byte, line int, key string) string {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil || len(root.Content) == 0 {
		return key
	}
	if p, ok := findLine(root.Content[0], "", line, key); ok {
		return p
	}
	if key != "" {
		return key
	}
	return "line " + strconv.Itoa(line)
}

// findLine walks n for the deepest field at line.
func findLine(n *yaml.Node, path string, line int, key string) (string, bool) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			if k.Line == line && (key == "" || k.Value == key) {
				if sub, ok := findLine(v, p, line, key); ok && key == "" {
					return sub, true
				}
				return p, true
			}
			if sub, ok := findLine(v, p, line, key); ok {
				return sub, true
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			if sub, ok := findLine(c, p, line, key); ok {
				return sub, true
			}
			if c.Line == line && key == "" && c.Kind == yaml.ScalarNode {
				return p, true
			}
		}
	}
	return "", false
}

// check validates what decoding cannot: required fields, the values of
// enumerations, addresses and every route's requirement.
func (c *serveConfig) check() error {
	switch {
	case len(c.Audiences) == 0:
		return errors.New("audiences: required (the API identifier of your API resource in Logto)")
	case c.Endpoint == "" && len(c.Issuers) == 0:
		return errors.New("endpoint: required (such as https://your-tenant.logto.app), or issuers")
	}
	switch c.Default {
	case "":
		c.Default = defaultDeny
	case defaultDeny, defaultAuthenticate:
	default:
		return fmt.Errorf("default: %q is not deny or authenticate", c.Default)
	}
	if c.Listen == "" {
		c.Listen = defaultListen
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen: %q is not host:port", c.Listen)
	}
	if c.GRPCListen != "" {
		if _, _, err := net.SplitHostPort(c.GRPCListen); err != nil {
			return fmt.Errorf("grpc_listen: %q is not host:port", c.GRPCListen)
		}
	}
	if c.PublicURL != "" {
		if _, err := middleware.ResourceMetadataURL(c.PublicURL); err != nil {
			return fmt.Errorf("public_url: %q must be an absolute https URL without query or fragment", c.PublicURL)
		}
	}
	if c.Webhooks != nil {
		if err := c.Webhooks.check(); err != nil {
			return err
		}
		if c.PublicURL != "" {
			if p, err := metadataPath(c.PublicURL); err == nil && p == c.Webhooks.Path {
				return fmt.Errorf("webhooks.path: %s is where public_url's resource metadata is served", p)
			}
		}
	}
	if c.Revocation != nil {
		if err := c.Revocation.check(); err != nil {
			return err
		}
	}
	_, err := buildRoutes(c.Routes)
	return err
}

// scopes are the scopes the routes name, each once, in the order of the
// file: what the resource metadata lists as scopes_supported.
func (c *serveConfig) scopes() []string {
	var out []string
	seen := make(map[string]bool)
	for _, r := range c.Routes {
		for _, s := range append(append([]string(nil), r.Scopes...), r.AnyScopes...) {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}
