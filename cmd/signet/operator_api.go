package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// operatorViaAPI gives every operator subcommand its --api path: the same
// checks and output as on the store file, through the running broker's
// admin API (the changes take effect at once).
func operatorViaAPI(cmd *cobra.Command, api *apiFlags) {
	for _, sub := range cmd.Commands() {
		switch sub.Name() {
		case "enroll":
			viaAPI(sub, api, operatorEnrollAPI)
		case "list":
			viaAPI(sub, api, operatorListAPI)
		case "show":
			viaAPI(sub, api, operatorShowAPI)
		case "revoke":
			viaAPI(sub, api, operatorRevokeAPI)
		case "authority":
			for _, a := range sub.Commands() {
				if a.Name() == "add" {
					viaAPI(a, api, authorityAddAPI)
				}
			}
		}
	}
}

func operatorEnrollAPI(cmd *cobra.Command, _ []string, c *adminClient) error {
	f := cmd.Flags()
	id, _ := f.GetString("id")
	keyPath, _ := f.GetString("key")
	zones, _ := f.GetStringSlice("zones")
	kinds, _ := f.GetStringSlice("kinds")
	commands, _ := f.GetStringSlice("commands")
	if id == "" || keyPath == "" || len(zones) == 0 || len(kinds) == 0 || len(commands) == 0 {
		return usagef("operator enroll needs --id, --key, --zones, --kinds and --commands")
	}
	key, err := loadPublicKey(keyPath)
	if err != nil {
		return err
	}
	o := devices.Operator{ID: id, Keys: []devices.Key{key}, Scope: devices.Scope{Zones: zones, Kinds: kinds, Commands: commands}}
	if err := c.call(cmd.Context(), http.MethodPost, "/api/v1/operators", o, nil); err != nil {
		return fmt.Errorf("operator %s: %w", id, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "enrolled operator %s with key %s (%s)\n", id, signing.FormatKeyID(key.KID), key.Alg)
	return nil
}

func operatorListAPI(cmd *cobra.Command, _ []string, c *adminClient) error {
	asJSON, _ := cmd.Flags().GetBool("json")
	var list broker.OperatorList
	if err := c.call(cmd.Context(), http.MethodGet, "/api/v1/operators", nil, &list); err != nil {
		return err
	}
	if asJSON {
		return writeJSON(cmd.OutOrStdout(), list)
	}
	now := time.Now()
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROLE\tID\tZONES\tKINDS\tCOMMANDS\tKEYS")
	for _, o := range list.Operators {
		fmt.Fprintf(tw, "operator\t%s\t%s\t%s\t%s\t%s\n", o.ID,
			strings.Join(o.Scope.Zones, ","), strings.Join(o.Scope.Kinds, ","), strings.Join(o.Scope.Commands, ","), keySummary(o.Keys, now))
	}
	for _, a := range list.Authorities {
		fmt.Fprintf(tw, "authority\t%s\t-\t-\t-\t%s\n", a.ID, keySummary(a.Keys, now))
	}
	return tw.Flush()
}

func operatorShowAPI(cmd *cobra.Command, args []string, c *adminClient) error {
	var o devices.Operator
	if err := c.call(cmd.Context(), http.MethodGet, "/api/v1/operators/"+url.PathEscape(args[0]), nil, &o); err != nil {
		return fmt.Errorf("operator %s: %w", args[0], err)
	}
	return writeJSON(cmd.OutOrStdout(), o)
}

func operatorRevokeAPI(cmd *cobra.Command, args []string, c *adminClient) error {
	var res broker.AdminResult
	if err := c.call(cmd.Context(), http.MethodDelete, "/api/v1/operators/"+url.PathEscape(args[0]), nil, &res); err != nil {
		return fmt.Errorf("operator %s: %w", args[0], err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "revoked %s (%d key(s))\n", res.Owner, res.Keys)
	return nil
}

func authorityAddAPI(cmd *cobra.Command, _ []string, c *adminClient) error {
	id, _ := cmd.Flags().GetString("id")
	keyPath, _ := cmd.Flags().GetString("key")
	if id == "" || keyPath == "" {
		return usagef("operator authority add needs --id and --key")
	}
	key, err := loadPublicKey(keyPath)
	if err != nil {
		return err
	}
	body, err := json.Marshal(key)
	if err != nil {
		return err
	}
	var a devices.Authority
	if err := c.call(cmd.Context(), http.MethodPost, "/api/v1/authorities/"+url.PathEscape(id)+"/keys", json.RawMessage(body), &a); err != nil {
		return fmt.Errorf("authority %s: %w", id, err)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "authority %s: added key %s (%s), %d key(s) in all\n", a.ID, signing.FormatKeyID(key.KID), key.Alg, len(a.Keys))
	return nil
}
