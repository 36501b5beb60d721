package app

import "testing"

func TestFromEnvAllowInsecureHTTP(t *testing.T) {
	for _, tt := range []struct {
		value string
		want  bool
	}{{"", false}, {"false", false}, {"0", false}, {"true", true}, {"1", true}} {
		t.Setenv("LOGTO_ENDPOINT", "http://logto:3001")
		t.Setenv("LOGTO_API_RESOURCE", "https://api.example.com")
		t.Setenv("LOGTO_ALLOW_INSECURE_HTTP", tt.value)
		s, err := FromEnv()
		if err != nil {
			t.Fatalf("LOGTO_ALLOW_INSECURE_HTTP=%q: %v", tt.value, err)
		}
		if s.Config.AllowInsecureHTTP != tt.want {
			t.Errorf("LOGTO_ALLOW_INSECURE_HTTP=%q: AllowInsecureHTTP = %v, want %v", tt.value, s.Config.AllowInsecureHTTP, tt.want)
		}
	}
	t.Setenv("LOGTO_ALLOW_INSECURE_HTTP", "yes please")
	if _, err := FromEnv(); err == nil {
		t.Error("LOGTO_ALLOW_INSECURE_HTTP=\"yes please\": no error")
	}
}
