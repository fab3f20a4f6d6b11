package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/signet-city/signet/broker"
)

func newServeCmd() *cobra.Command {
	var configPath, checkConfig, store, durability, mqttAddr, httpAddr, auditPath, logLevel, logFormat string
	var dev, allowAnon, create bool
	var clusterN int
	var applyNATS func(*cobra.Command, *broker.Config) // set with the flags below
	cmd := &cobra.Command{
		Use:   "serve [--config signet.yaml] [flags]",
		Short: "Run the broker",
		Long: `Run the Signet broker: MQTT 3.1.1 and 5 with every city/ message verified
(docs/protocol.md) before it reaches a subscriber or a twin, plus the HTTP API, /metrics,
/healthz and /readyz.

Settings come from --config (YAML; see broker/testdata/signet.example.yaml),
then flags, which win. --dev runs a self-contained local broker on a temporary
store, with anonymous access to ordinary topics only.

Devices are enrolled with "signet device enroll --db STORE" before the broker
starts; the broker reads the registry at start.

The store must exist (made by "signet device enroll", "signet flash --db" or
an earlier run): a mistyped path is an error, not a new broker with no
devices. --init (or create: true in the config) makes a new, empty one. A
start that fails (a port in use, a bad certificate) leaves no store or audit
log behind that it created.

SIGHUP reloads the --config file without a restart: users (passwords,
tokens, roles, zones, certificate pins), rate limits, payload, session,
retained and connection limits, the command API's and HTTP body limits,
security event aggregation, log.level, metrics_token_sha256, and the TLS
certificate, key and client CA (read again from their files); see
docs/operations.md for the full list. A config that does not load or
validate, or that changes a setting read only at start (listen addresses,
store, durability, max_packet_bytes, ...), is refused with the keys in the
log and the audit log, and the broker keeps running as it was.

--check-config FILE validates FILE as serve and SIGHUP would (with the
flags given on top), prints whether it is valid and exits 0 or 1 without
starting anything: run it before sending SIGHUP.`,
		Example: `  signet serve --config /etc/signet/signet.yaml
  signet serve --store signet.db --audit audit.jsonl --log-format json
  signet serve --store new.db --init
  signet serve --dev
  signet serve --dev --cluster 3
  signet serve --check-config /etc/signet/signet.yaml && kill -HUP $(pidof signet)`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Before anything starts: a SIGHUP is never the end of the broker.
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			flags := serveFlags{
				store: store, durability: durability, mqtt: mqttAddr, http: httpAddr, audit: auditPath, allowAnon: allowAnon,
				create: create, logLevel: logLevel, logFormat: logFormat,
			}
			if cmd.Flags().Changed("check-config") {
				return checkServeConfig(cmd, checkConfig, flags, applyNATS)
			}
			cfg, cleanup, err := serveConfig(cmd, configPath, dev, flags)
			defer cleanup()
			if err != nil {
				return err
			}
			applyNATS(cmd, &cfg)
			level := new(slog.LevelVar) // a reload sets it (log.level)
			handler, err := cfg.Log.HandlerLevel(cmd.ErrOrStderr(), level)
			if err != nil {
				return usagef("%v", err)
			}
			logger := slog.New(handler)
			broker.ApplyGCPolicy(cfg.GCPercent, cfg.MemoryLimitMiB)
			broker.ApplyProcsPolicy(cfg.GoMaxProcs)
			if cmd.Flags().Changed("cluster") {
				if !dev {
					return usagef("--cluster needs --dev: a district's brokers run on NATS servers of their own (docs/deployment.md)")
				}
				return serveDevCluster(cmd, cfg, logger, clusterN) // serve_cluster.go
			}
			srv, err := startServer(cmd.Context(), cfg, logger)
			if err != nil {
				return err
			}
			printStartup(cmd.OutOrStdout(), cfg, srv)
			for running := true; running; {
				select {
				case <-cmd.Context().Done():
					running = false
				case <-hup:
					reload(cmd, srv, level, configPath, dev, flags, applyNATS)
				}
			}
			fmt.Fprintln(cmd.OutOrStdout(), "signet: shutting down: draining verification and commits")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			return srv.Shutdown(ctx)
		},
	}
	f := cmd.Flags()
	f.StringVar(&configPath, "config", "", "YAML configuration file")
	f.StringVar(&checkConfig, "check-config", "", "validate this configuration file as serve and SIGHUP would, then exit (0: valid, 1: not)")
	f.BoolVar(&dev, "dev", false, "self-contained local broker on a temporary store")
	f.IntVar(&clusterN, "cluster", 0, "with --dev: N brokers on an embedded N-node JetStream cluster, one MQTT namespace")
	f.StringVar(&store, "store", "", "bbolt store file (default signet.db), or nats://host:4222[,...] for JetStream shared by several brokers")
	applyNATS = addNATSFlags(f)
	f.StringVar(&durability, "durability", "", "strict (fsync before PUBACK, default) or relaxed")
	f.StringVar(&mqttAddr, "mqtt-addr", "", "MQTT listen address (default 127.0.0.1:1883)")
	f.StringVar(&httpAddr, "http-addr", "", "HTTP listen address (default 127.0.0.1:8080)")
	f.StringVar(&auditPath, "audit", "", "hash-chained audit log file")
	f.BoolVar(&allowAnon, "allow-anonymous", false, "let clients without credentials use ordinary topics")
	f.BoolVar(&create, "init", false, "create the store if it does not exist (a new, empty registry)")
	f.StringVar(&logLevel, "log-level", "", "debug, info (default), warn or error")
	f.StringVar(&logFormat, "log-format", "", "text (default) or json")
	return cmd
}

// reload is serve's answer to SIGHUP: the --config file read again, with
// the same flags on top, applied by Server.Reload, which keeps the running
// configuration when it refuses the new one, and its log.level set on the
// log. One line on standard output says what happened; the broker's log
// and audit log say it too.
func reload(cmd *cobra.Command, srv *broker.Server, level *slog.LevelVar, configPath string, dev bool, flags serveFlags, applyNATS func(*cobra.Command, *broker.Config)) {
	out := cmd.OutOrStdout()
	if configPath == "" || dev {
		err := srv.RefuseReload(fmt.Errorf("no --config file to reload (--dev or flags only)"))
		fmt.Fprintf(out, "signet: SIGHUP: %v\n", err)
		return
	}
	cfg, cleanup, err := serveConfig(cmd, configPath, false, flags)
	cleanup()
	applyNATS(cmd, &cfg) // as at start, so that the flags are no change
	if err != nil {
		err = srv.RefuseReload(err)
	} else {
		err = srv.Reload(cfg)
	}
	if err != nil {
		fmt.Fprintf(out, "signet: SIGHUP: %v\n", err)
		return
	}
	if l, err := cfg.Log.ParseLevel(); err == nil { // Reload validated it
		level.Set(l)
	}
	fmt.Fprintf(out, "signet: SIGHUP: reloaded %s (%d users)\n", configPath, len(cfg.Users))
}

// checkServeConfig is serve --check-config: path is read and validated as
// serve reads it at start and on SIGHUP (the flags on top, then
// broker.CheckConfig), without opening the store or a listener. It prints
// one line and fails with exit code 1 when the file is not valid, a bad
// log level included, which serve itself reports as a usage error.
func checkServeConfig(cmd *cobra.Command, path string, flags serveFlags, applyNATS func(*cobra.Command, *broker.Config)) error {
	if path == "" {
		return usagef("--check-config: name the configuration file to check")
	}
	cfg, cleanup, err := serveConfig(cmd, path, false, flags)
	cleanup()
	applyNATS(cmd, &cfg)
	if err == nil {
		err = broker.CheckConfig(cfg)
	}
	if err != nil {
		return exitError{code: 1, err: fmt.Errorf("--check-config: %w", err)}
	}
	fmt.Fprintf(cmd.OutOrStdout(), "signet: config %s is valid (%d users)\n", path, len(cfg.Users))
	return nil
}

// serveFlags are the values of serve's flags; only those the user set
// override the configuration.
type serveFlags struct {
	store, durability, mqtt, http, audit, logLevel, logFormat string
	allowAnon, create                                         bool
}

// serveConfig builds the configuration: defaults, then the --config file,
// then --dev, then every flag the user set (flags win). cleanup removes the
// --dev temporary directory; call it even on error.
func serveConfig(cmd *cobra.Command, configPath string, dev bool, f serveFlags) (broker.Config, func(), error) {
	cleanup := func() {}
	cfg := broker.DefaultConfig()
	var err error
	if configPath != "" {
		if cfg, err = broker.LoadConfig(configPath); err != nil {
			return cfg, cleanup, err
		}
	}
	if dev {
		dir, err := os.MkdirTemp("", "signet-dev-")
		if err != nil {
			return cfg, cleanup, fmt.Errorf("--dev: %w", err)
		}
		cleanup = func() { os.RemoveAll(dir) }
		cfg.Store, cfg.Audit, cfg.AllowAnonymous, cfg.Create = filepath.Join(dir, "signet.db"), filepath.Join(dir, "audit.jsonl"), true, true
	}
	flags := cmd.Flags()
	set := func(name string, dst *string, v string) {
		if flags.Changed(name) {
			*dst = v
		}
	}
	set("store", &cfg.Store, f.store)
	set("durability", &cfg.Durability, f.durability)
	set("mqtt-addr", &cfg.MQTT, f.mqtt)
	set("http-addr", &cfg.HTTP, f.http)
	set("audit", &cfg.Audit, f.audit)
	set("log-level", &cfg.Log.Level, f.logLevel)
	set("log-format", &cfg.Log.Format, f.logFormat)
	if flags.Changed("allow-anonymous") {
		cfg.AllowAnonymous = f.allowAnon
	}
	if flags.Changed("init") {
		cfg.Create = f.create
	}
	return cfg, cleanup, nil
}

func newPasswdCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "passwd",
		Short: "Hash a password (read from standard input) for the users section of the config",
		Long: `Read one password line from standard input and print its argon2id hash
(PHC string, RFC 9106 parameters) for a user's password_hash in the config.`,
		Example: "  printf '%s\\n' 'correct horse' | signet passwd",
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var line string
			if _, err := fmt.Fscanln(cmd.InOrStdin(), &line); err != nil || line == "" {
				return fmt.Errorf("passwd: no password on standard input")
			}
			h, err := broker.HashPassword(line)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), h)
			return nil
		},
	}
}
