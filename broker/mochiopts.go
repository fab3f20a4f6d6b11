package broker

import (
	"log/slog"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// DefaultMaxPendingWrites bounds each client's queue of packets waiting to
// be written. mochi's own default, 8192, gives every connection a 64 KiB
// channel: 64 MiB of heap for a thousand devices, which the garbage
// collector scans in every cycle (`signet bench broker` measured tens of
// milliseconds of p99 latency from it, plain mochi included). A device or
// a twin application that falls 1024 packets behind is not keeping up.
const DefaultMaxPendingWrites = 1024

// MochiOptions are the mochi options of the Signet broker, and of the plain
// mochi baselines of `signet bench broker`, so that the two differ only in
// Signet's hooks. maxPending 0 means DefaultMaxPendingWrites.
func MochiOptions(maxPending int, log *slog.Logger) *mqtt.Options {
	if maxPending <= 0 {
		maxPending = DefaultMaxPendingWrites
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = int32(min(maxPending, 1<<20))
	// mochi copies a PUBLISH's properties, user properties included, onto
	// its PUBACK/PUBREC, and writes the reason code 0x01 ("granted QoS 1")
	// whenever properties follow it: 0x01 is no PUBACK reason code (MQTT 5
	// §3.4.2.1), and strict clients drop the connection on it. Without the
	// copied properties mochi omits the reason code, which means 0x00
	// Success (§3.4.2.1), and echoes nothing a client sent.
	caps.Compatibilities.NoInheritedPropertiesOnAck = true
	return &mqtt.Options{InlineClient: true, Logger: log, Capabilities: caps}
}
