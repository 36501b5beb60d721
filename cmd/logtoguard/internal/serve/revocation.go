package serve

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/logtoguard/logtoguard/middleware"
	"github.com/logtoguard/logtoguard/revocation"
	"github.com/logtoguard/logtoguard/revocation/redisstore"
	"github.com/logtoguard/logtoguard/webhook"
)

// webhooksConfig is the webhooks section: Logto's webhooks, received on
// listen, end the access they report (a user suspended or deleted, a member
// removed, an organization deleted). The signing keys are never in the
// file: they come from an environment variable or a file.
type webhooksConfig struct {
	Path           string `yaml:"path"`
	SigningKeyEnv  string `yaml:"signing_key_env"`
	SigningKeyFile string `yaml:"signing_key_file"`
	// SigningKey is refused with a message saying where keys go.
	SigningKey string `yaml:"signing_key"`

	keys []string // read by check
}

// revocationConfig is the revocation section: where revocations are kept.
// Without it, in this process's memory; with a Redis URL, in Redis, shared
// by every replica of serve.
type revocationConfig struct {
	RedisURL    string `yaml:"redis_url"`
	RedisURLEnv string `yaml:"redis_url_env"`
	FailClosed  bool   `yaml:"fail_closed"`

	url string // read by check
}

// defaultWebhookPath is webhooks.path when the file leaves it out.
const defaultWebhookPath = "/logto/webhooks"

// maxKeyFileBytes bounds webhooks.signing_key_file.
const maxKeyFileBytes = 64 << 10

// reservedPaths are the endpoints of listen that a webhook path may not take.
var reservedPaths = []string{"/verify", "/healthz", "/readyz", "/metrics"}

// check reads the signing keys and checks the path.
func (w *webhooksConfig) check() error {
	if w.SigningKey != "" {
		return errors.New("webhooks.signing_key: signing keys are never written in the file: set signing_key_env (the name of an environment variable holding them, comma-separated while rotating) or signing_key_file")
	}
	if w.Path == "" {
		w.Path = defaultWebhookPath
	}
	if !strings.HasPrefix(w.Path, "/") || strings.ContainsAny(w.Path, "?#% \t") {
		return fmt.Errorf("webhooks.path: %q must be a plain absolute path, such as %s", w.Path, defaultWebhookPath)
	}
	for _, p := range reservedPaths {
		if w.Path == p {
			return fmt.Errorf("webhooks.path: %s is an endpoint of serve", p)
		}
	}
	if strings.HasPrefix(w.Path, "/envoy/") || strings.HasPrefix(w.Path, middleware.ResourceMetadataPath) {
		return fmt.Errorf("webhooks.path: %q is under an endpoint of serve", w.Path)
	}
	w.keys = nil
	if w.SigningKeyEnv == "" && w.SigningKeyFile == "" {
		return errors.New("webhooks: signing_key_env or signing_key_file is required (the webhook's signing key in the Logto console)")
	}
	if w.SigningKeyEnv != "" {
		v, ok := os.LookupEnv(w.SigningKeyEnv)
		if !ok || strings.TrimSpace(v) == "" {
			return fmt.Errorf("webhooks.signing_key_env: the environment variable %s is not set", w.SigningKeyEnv)
		}
		w.keys = append(w.keys, webhook.ParseSigningKeys(v)...)
	}
	if w.SigningKeyFile != "" {
		data, err := readSmall(w.SigningKeyFile, maxKeyFileBytes)
		if err != nil {
			return fmt.Errorf("webhooks.signing_key_file: %v", err)
		}
		keys := webhook.ParseSigningKeys(strings.NewReplacer("\r\n", ",", "\n", ",").Replace(string(data)))
		if len(keys) == 0 {
			return fmt.Errorf("webhooks.signing_key_file: %s holds no key", w.SigningKeyFile)
		}
		w.keys = append(w.keys, keys...)
	}
	for i, k := range w.keys {
		if len(k) < webhook.MinSigningKeyBytes {
			return fmt.Errorf("webhooks: signing key %d is %d characters, fewer than %d: copy the webhook's signing key from the Logto console", i+1, len(k), webhook.MinSigningKeyBytes)
		}
	}
	return nil
}

// check reads the Redis URL and checks it.
func (r *revocationConfig) check() error {
	switch {
	case r.RedisURL != "" && r.RedisURLEnv != "":
		return errors.New("revocation: set redis_url or redis_url_env, not both")
	case r.RedisURLEnv != "":
		v, ok := os.LookupEnv(r.RedisURLEnv)
		if !ok || strings.TrimSpace(v) == "" {
			return fmt.Errorf("revocation.redis_url_env: the environment variable %s is not set", r.RedisURLEnv)
		}
		r.url = strings.TrimSpace(v)
	case r.RedisURL != "":
		r.url = r.RedisURL
	default:
		return errors.New("revocation: redis_url or redis_url_env is required (or leave the section out: revocations then stay in this process)")
	}
	field := "revocation.redis_url"
	if r.RedisURLEnv != "" {
		field = "revocation.redis_url_env"
	}
	opt, err := redis.ParseURL(r.url)
	if err != nil {
		return fmt.Errorf("%s: not a redis:// or rediss:// URL: %v", field, err)
	}
	if r.RedisURL != "" && opt.Password != "" {
		return errors.New("revocation.redis_url: the URL holds a password: put the URL in an environment variable and name it in redis_url_env")
	}
	return nil
}

func readSmall(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name) //nolint:gosec // G304: the operator names the file in the configuration
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read only
	buf := make([]byte, limit+1)
	n, err := f.Read(buf)
	if err != nil && n == 0 {
		return nil, err
	}
	if int64(n) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return buf[:n], nil
}

// revocations is the store of the server's life: a reload keeps it, so
// that no revocation is lost with a validator.
type revocations struct {
	store revocation.Store
	// built is what the store was made with: a reload whose revocation
	// section differs is refused, as the store cannot change.
	built revocationSettings
	ready func() bool // nil: always ready
	close func()
}

// revocationSettings is what a store is made of: the revocation section
// with its URL read and without where the URL came from. Every option of
// the section is in it, so a new option is compared on reload too.
type revocationSettings struct {
	section bool // false: no section, the in-memory store
	conf    revocationConfig
}

// revocationSettingsOf is the settings of cfg's revocation section.
func revocationSettingsOf(cfg *serveConfig) revocationSettings {
	if cfg.Revocation == nil {
		return revocationSettings{}
	}
	c := *cfg.Revocation
	c.RedisURL, c.RedisURLEnv = "", "" // the same URL from the file or the environment is the same store
	return revocationSettings{section: true, conf: c}
}

// openRevocations makes the store of cfg.
func (s *server) openRevocations(cfg *serveConfig) (*revocations, error) {
	if cfg.Revocation == nil {
		return &revocations{store: revocation.NewMemory(revocation.MemoryConfig{}), built: revocationSettingsOf(cfg), close: func() {}}, nil
	}
	opt, err := redis.ParseURL(cfg.Revocation.url)
	if err != nil {
		return nil, fmt.Errorf("revocation: %v", err) // check parsed it
	}
	client := redis.NewClient(opt)
	store, err := redisstore.New(redisstore.Config{Client: client, FailClosed: cfg.Revocation.FailClosed, Logger: s.log})
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("revocation: %v", err)
	}
	return &revocations{store: store, built: revocationSettingsOf(cfg), ready: store.Ready, close: func() {
		_ = store.Close()
		_ = client.Close()
	}}, nil
}

// webhookHandler is the handler of cfg's webhooks section, nil without one.
func (s *server) webhookHandler(cfg *serveConfig) (http.Handler, error) {
	if cfg.Webhooks == nil {
		return nil, nil
	}
	h, err := webhook.New(webhook.Config{SigningKeys: cfg.Webhooks.keys, Store: s.revs.store, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("webhooks: %v", strings.TrimPrefix(err.Error(), "webhook: "))
	}
	return h, nil
}
