package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/firmware-sim/image"
)

// apiFlags say how a registry command reaches a running broker's admin API
// instead of the store file: the broker holds the file locked while it
// runs, and only the broker can make a change take effect at once (the
// edge reloaded, a revoked device's sessions closed).
type apiFlags struct {
	url, token, user, password string
}

// Environment variables that may carry the secrets, so that they need not
// be on the command line (where ps shows them).
const (
	envAPIToken    = "SIGNET_TOKEN"
	envAPIPassword = "SIGNET_PASSWORD"
)

// addAPIFlags adds --api, --token, --user and --password to fs.
func addAPIFlags(fs *pflag.FlagSet) *apiFlags {
	a := &apiFlags{}
	fs.StringVar(&a.url, "api", "", "run through this running broker's HTTP API, http://HOST:PORT (admin role)")
	fs.StringVar(&a.token, "token", "", "bearer token of an admin user, for --api (default $"+envAPIToken+")")
	fs.StringVar(&a.user, "user", "", "admin user name, for --api (with --password)")
	fs.StringVar(&a.password, "password", "", "the --user's password, for --api (default $"+envAPIPassword+")")
	return a
}

// set reports whether --api was given.
func (a *apiFlags) set() bool { return a.url != "" }

// client checks the flags and returns a client for the API.
func (a *apiFlags) client(cmd *cobra.Command) (*adminClient, error) {
	if cmd.Flags().Changed("db") {
		return nil, usagef("--db and --api are exclusive: use the store file (broker stopped) or the running broker, not both")
	}
	if err := image.ValidAPI(a.url); err != nil {
		return nil, usagef("--api: %v", err)
	}
	token, password := a.token, a.password
	if token == "" && a.user == "" {
		token = os.Getenv(envAPIToken)
	}
	if password == "" && a.user != "" {
		password = os.Getenv(envAPIPassword)
	}
	switch {
	case token != "" && a.user != "":
		return nil, usagef("--token and --user/--password are exclusive: authenticate one way")
	case token == "" && a.user == "":
		return nil, usagef("--api needs credentials of an admin user: --token (or $%s), or --user and --password (or $%s)", envAPIToken, envAPIPassword)
	case token == "" && password == "":
		return nil, usagef("--user needs --password (or $%s)", envAPIPassword)
	}
	return &adminClient{base: strings.TrimSuffix(a.url, "/"), token: token, user: a.user, password: password,
		http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// checkNoAPICredentials refuses --token/--user/--password without --api:
// they would be silently ignored.
func (a *apiFlags) checkNoAPICredentials() error {
	for _, fl := range []struct{ name, val string }{{"--token", a.token}, {"--user", a.user}, {"--password", a.password}} {
		if fl.val != "" {
			return usagef("%s is for --api; pass --api http://HOST:PORT too", fl.name)
		}
	}
	return nil
}

// viaAPI makes cmd run remote instead of its own RunE when --api is given.
// Without --api the command runs on the store file as before, and a store
// that a running broker holds gets an error saying to give --api.
func viaAPI(cmd *cobra.Command, a *apiFlags, remote func(cmd *cobra.Command, args []string, c *adminClient) error) {
	local := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if !a.set() {
			if err := a.checkNoAPICredentials(); err != nil {
				return err
			}
			return lockedHint(local(cmd, args))
		}
		c, err := a.client(cmd)
		if err != nil {
			return err
		}
		return remote(cmd, args, c)
	}
}

// lockedHint turns "locked by another process" into what to do. bbolt
// takes an exclusive lock for the broker and a shared one for a reader, so
// not even a read-only command can open the file beside a running broker.
func lockedHint(err error) error {
	if err == nil || !errors.Is(err, boltstore.ErrLocked) {
		return err
	}
	msg := err.Error()
	if i := strings.Index(msg, ": "+boltstore.ErrLocked.Error()); i >= 0 {
		msg = msg[:i]
	}
	return fmt.Errorf("%s is held by a running broker (its lock keeps out readers too): give --api http://HOST:PORT (the broker's HTTP address) with --token or --user and --password to run this through the broker, or stop it", msg)
}

// adminClient calls a broker's admin API.
type adminClient struct {
	base, token, user, password string
	http                        *http.Client
}

// call sends one request with an optional JSON body and decodes a JSON
// answer into out (if not nil). A refusal is one error line: the broker's
// own line, its status, and what to do about it.
func (c *adminClient) call(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("--api %s: %s %s: unreadable answer: %v", c.base, method, path, err)
	}
	return nil
}

// download streams the answer of a GET to w and checks that it is whole
// (Content-Length), returning its length.
func (c *adminClient) download(ctx context.Context, path string, w io.Writer) (int64, error) {
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("--api %s: GET %s: cut off after %d bytes: %v", c.base, path, n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("--api %s: GET %s: cut off after %d of %d bytes", c.base, path, n, resp.ContentLength)
	}
	return n, nil
}

func (c *adminClient) do(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("--api %s: %w", c.base, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	} else {
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("--api %s: %w (is the broker running, and is this its HTTP address?)", c.base, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	line := strings.Join(strings.Fields(string(msg)), " ")
	hint := map[int]string{
		http.StatusUnauthorized:     "; check --token, or --user and --password",
		http.StatusForbidden:        "; the user needs the admin role",
		http.StatusMethodNotAllowed: "; is --api a Signet broker of this version?",
	}[resp.StatusCode]
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			hint = fmt.Sprintf("; try again in %d s", s)
		}
	}
	return nil, fmt.Errorf("%s (HTTP %d)%s", line, resp.StatusCode, hint)
}
