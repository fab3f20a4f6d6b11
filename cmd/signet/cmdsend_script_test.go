package main

import (
	"io"
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/signet-city/signet/broker"
)

// plainbroker starts, for the rest of the script, an MQTT broker that lets
// everyone in and checks nothing (as brokertest.Plain, which needs a
// testing.TB) and sets $PLAIN to its tcp:// address: a command sent there
// is taken, and no device answers it.
func plainbroker(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: plainbroker")
	}
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ts.Check(srv.AddHook(new(auth.AllowHook), nil))
	tcp := listeners.NewTCP(listeners.Config{ID: "t", Address: "127.0.0.1:0"})
	ts.Check(srv.AddListener(broker.ShutdownSafe(srv, tcp)))
	ts.Check(srv.Serve())
	ts.Defer(func() { srv.Close() })
	ts.Setenv("PLAIN", "tcp://"+tcp.Address())
}
