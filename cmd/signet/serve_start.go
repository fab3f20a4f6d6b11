package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/signet-city/signet/broker"
	"github.com/signet-city/signet/devices/natsstore"
)

// startServer opens and starts the broker of cfg. The store must exist
// unless cfg.Create is set; a start that fails removes the store and audit
// files it created, so a failed first start leaves nothing behind and a
// retry starts clean.
func startServer(ctx context.Context, cfg broker.Config, logger *slog.Logger) (*broker.Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err) // before the store: a bad setting is the first thing to fix
	}
	if natsstore.IsURL(cfg.Store) {
		return startShared(ctx, cfg, logger)
	}
	storeExisted, err := exists(cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", cfg.Store, err)
	}
	if !storeExisted && !cfg.Create {
		return nil, fmt.Errorf("store %s does not exist: check the path, or give --init (create: true in the config) to start a new, empty registry", cfg.Store)
	}
	auditExisted := true
	if cfg.Audit != "" {
		if auditExisted, err = exists(cfg.Audit); err != nil {
			return nil, fmt.Errorf("audit log %s: %w", cfg.Audit, err)
		}
	}
	undo := func(cause error) error {
		if !storeExisted {
			cause = errors.Join(cause, removeIfPresent(cfg.Store))
		}
		if !auditExisted {
			cause = errors.Join(cause, removeIfPresent(cfg.Audit))
		}
		return cause
	}
	srv, err := broker.New(ctx, cfg, logger)
	if err != nil {
		return nil, undo(err)
	}
	if err := srv.Start(); err != nil {
		return nil, undo(errors.Join(err, srv.Shutdown(context.Background())))
	}
	return srv, nil
}

// exists reports whether path names a file; any error but "not there" is
// returned (a store we cannot even stat is not one to replace).
func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// removeIfPresent removes a file this run created.
func removeIfPresent(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s after the failed start: %w", path, err)
	}
	return nil
}

// printStartup is the summary an operator reads first: where the broker
// listens, what it serves from, and how durable its acknowledgements are.
func printStartup(w io.Writer, cfg broker.Config, srv *broker.Server) {
	listeners := []string{"mqtt " + srv.MQTTAddr()}
	if a := srv.TLSAddr(); a != "" {
		listeners = append(listeners, "mqtt+tls "+a)
	}
	if cfg.WebSocket != "" {
		listeners = append(listeners, "websocket "+cfg.WebSocket)
	}
	if a := srv.HTTPAddr(); a != "" {
		listeners = append(listeners, "http "+a)
	}
	fmt.Fprintf(w, "signet: listening on %s\n", strings.Join(listeners, ", "))
	audit := cfg.Audit
	if audit == "" {
		audit = "off"
	}
	fmt.Fprintf(w, "signet: store %s (%s, %s), %s, audit log %s\n", // a nats:// URL may carry a password
		natsstore.Redact(cfg.Store), plural(len(srv.Edge().Twins("")), "device"), cfg.Durability, plural(len(cfg.Users), "user"), audit)
	if srv.HTTPAddr() != "" {
		fmt.Fprintf(w, "signet: dashboard http://%s%s\n", srv.HTTPAddr(), broker.DashboardPath)
	}
}

// plural is "1 device", "2 devices".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
