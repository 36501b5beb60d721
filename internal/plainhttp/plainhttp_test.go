package plainhttp

import (
	"net/url"
	"testing"
)

func TestRemote(t *testing.T) {
	tests := []struct {
		url  string
		want bool
	}{
		{"https://t.logto.app", false},
		{"https://10.0.0.5:3001", false},
		{"http://t.logto.app", true},
		{"HTTP://t.logto.app", true},
		{"http://logto:3001", true},
		{"http://10.0.0.5:3001", true},
		{"http://192.168.1.2", true},
		{"http://[fe80::1]:3001", true},
		{"http://0.0.0.0:3001", true},
		{"http://localhost.evil.com", true},
		{"http://127.0.0.1.nip.io", true},
		{"http://localhost:3001", false},
		{"http://LOCALHOST:3001", false},
		{"http://localhost.:3001", false},
		{"http://127.0.0.1:3001", false},
		{"http://127.1.2.3", false},
		{"http://[::1]:3001", false},
		{"http://[::ffff:127.0.0.1]:3001", false},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := Remote(u); got != tt.want {
			t.Errorf("Remote(%q) = %v, want %v", tt.url, got, tt.want)
		}
	}
}
