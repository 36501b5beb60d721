package dev

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// state is what logtoguard dev token needs of the running issuer. It holds
// the app secret: the file is the user's alone (0600 in a 0700 directory).
type state struct {
	Endpoint  string `json:"endpoint"`
	Resource  string `json:"resource"`
	AppID     string `json:"app_id"`
	AppSecret string `json:"app_secret"`
	PID       int    `json:"pid"`
}

// statePath is the file of the running issuer, in the user's cache
// directory ($XDG_CACHE_HOME, else ~/.cache, on Linux).
func statePath() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "logtoguard", "dev.json"), nil
}

// write saves the state for logtoguard dev token, replacing the state of an
// earlier run.
func (s *state) write() (string, error) {
	path, err := statePath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", err
	}
	s.PID = os.Getpid()
	b, err := json.Marshal(s)
	if err != nil {
		return "", err
	}
	// Written beside and renamed, so that a reader never sees half a file,
	// and created 0600 before the secret is in it.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dev-*.json")
	if err != nil {
		return "", err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // nothing left after the rename
	if _, err := tmp.Write(b); err != nil {
		_ = tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	return path, nil
}

// remove deletes the state file if it is still this run's: a later run may
// have replaced it.
func (s *state) remove(path string) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the path is statePath's, in the user's cache directory
	if err != nil {
		return
	}
	var on state
	if json.Unmarshal(b, &on) == nil && on.PID == s.PID && on.Endpoint == s.Endpoint {
		_ = os.Remove(path)
	}
}

// readState loads the running issuer's state.
func readState() (state, error) {
	var s state
	path, err := statePath()
	if err != nil {
		return s, err
	}
	b, err := os.ReadFile(path) //nolint:gosec // G304: the path is statePath's, in the user's cache directory
	if errors.Is(err, fs.ErrNotExist) {
		return s, errors.New("no logtoguard dev is running (start one in another shell: logtoguard dev)")
	}
	if err != nil {
		return s, err
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&s); err != nil || s.Endpoint == "" || s.AppID == "" {
		return s, fmt.Errorf("%s is not logtoguard dev's state: delete it and start logtoguard dev again", path)
	}
	return s, nil
}

// pidText is this process's ID, for the output.
func pidText() string { return strconv.Itoa(os.Getpid()) }
