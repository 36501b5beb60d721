package dev

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/logtoguard/logtoguard/cmd/logtoguard/internal/command"
)

// Main is logtoguard dev: args are what follows "dev". It returns the exit
// code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "token" {
		return Token(args[1:], stdout, stderr)
	}
	cfg, help, err := Parse(args)
	if help {
		fmt.Fprint(stdout, Usage)
		return exitOK
	}
	if err != nil {
		return command.UsageError(stderr, "dev", err.Error())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	rotate := make(chan struct{})
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				select {
				case rotate <- struct{}{}:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	if err := Serve(ctx, cfg, rotate, stdout); err != nil {
		fmt.Fprintf(stderr, "logtoguard dev: %v\n", err)
		return exitUsage
	}
	return exitOK
}

// Token is logtoguard dev token: it asks the running issuer for a token
// and prints it alone on a line, for TOKEN=$(logtoguard dev token ...).
func Token(args []string, stdout, stderr io.Writer) int {
	s := spec{}
	fs := command.NewFlagSet("dev token")
	specFlags(fs, &s)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, Usage)
			return exitOK
		}
		return command.UsageError(stderr, "dev token", command.FlagError(err))
	}
	if fs.NArg() > 0 {
		return command.UsageError(stderr, "dev token", fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	}
	st, err := readState()
	if err != nil {
		fmt.Fprintf(stderr, "logtoguard dev token: %v\n", err)
		return exitError
	}
	if s.resource == "" {
		s.resource = st.Resource
	}
	if err := s.validate(); err != nil {
		return command.UsageError(stderr, "dev token", err.Error())
	}
	form := url.Values{"expires": {s.expires.String()}, "resource": {s.resource}}
	if len(s.scopes) > 0 {
		form.Set("scope", strings.Join(s.scopes, " "))
	}
	if s.sub != "" {
		form.Set("sub", s.sub)
	}
	if s.organization != "" {
		form.Set("organization", s.organization)
	}
	token, err := mintRemote(st, form)
	if err != nil {
		fmt.Fprintf(stderr, "logtoguard dev token: %v\n", err)
		return exitError
	}
	fmt.Fprintln(stdout, token)
	return exitOK
}

// mintRemote posts form to the running issuer's mint route.
func mintRemote(st state, form url.Values) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.Endpoint+MintPath, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(st.AppID, st.AppSecret)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("no logtoguard dev answers at %s: %v (start one: logtoguard dev)", st.Endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		var e errorResponse
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return "", fmt.Errorf("%s: %s", e.Error, e.Description)
		}
		return "", fmt.Errorf("%s answered %s: is it a logtoguard dev of this user?", st.Endpoint, resp.Status)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return "", errors.New("the answer holds no token")
	}
	return tr.AccessToken, nil
}
