package broker

import (
	"log/slog"
	"os"
	"runtime/debug"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// DefaultMaxPendingWrites bounds each client's queue of packets waiting to
// be written. mochi's own default, 8192, gives every connection a 64 KiB
// channel: 64 MiB of heap for a thousand devices, which the garbage
// collector scans in every cycle (`signet bench broker` measured tens of
// milliseconds of p99 latency from it, plain mochi included). A device or
// a twin application that falls 1024 packets behind is not keeping up.
const DefaultMaxPendingWrites = 1024

// DefaultGCPercent is the garbage collector target of a broker process.
// The broker's live heap is small (tens of MiB for a thousand devices)
// and it allocates for every message, so Go's default of 100 collects
// several times a second, and each collection's mark phase holds up the
// messages in flight (`signet bench broker`, strict at half load: p99
// 65 ms at 100, 31 ms at 400). At 400 the heap may grow to five times its
// live size between collections.
const DefaultGCPercent = 400

// SetGCPercent applies percent (0: DefaultGCPercent) to this process unless
// the GOGC environment variable already decided; it reports the value in
// force.
func SetGCPercent(percent int) int {
	if v, ok := os.LookupEnv("GOGC"); ok && v != "" {
		old := debug.SetGCPercent(100)
		debug.SetGCPercent(old)
		return old
	}
	if percent <= 0 {
		percent = DefaultGCPercent
	}
	debug.SetGCPercent(percent)
	return percent
}

// MochiOptions are the mochi options of the Signet broker, and of the plain
// mochi baselines of `signet bench broker`, so that the two differ only in
// Signet's hooks. maxPending 0 means DefaultMaxPendingWrites.
func MochiOptions(maxPending int, log *slog.Logger) *mqtt.Options {
	if maxPending <= 0 {
		maxPending = DefaultMaxPendingWrites
	}
	caps := mqtt.NewDefaultServerCapabilities()
	caps.MaximumClientWritesPending = int32(min(maxPending, 1<<20))
	return &mqtt.Options{InlineClient: true, Logger: log, Capabilities: caps}
}
