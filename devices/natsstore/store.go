// Package natsstore is the devices.Store that several edge brokers share:
// NATS JetStream, replicated (R3 in production), so that a city of brokers
// has one registry, one counter space per key and one twin per device.
//
// Layout:
//   - KV bucket signet_registry, key "registry": the whole registry (devices,
//     operators, authorities, each with its revision) as one JSON document,
//     replaced by compare-and-set on the key's revision. One key makes a
//     registry batch all-or-none, as devices.Store.Write requires, and one
//     watch tells every broker of every enrolment and revocation.
//   - KV bucket signet_leases, key = the kid in hex: the key's counter bound,
//     8 bytes big-endian, followed by its replay window when it was saved at
//     a clean stop (the record of devices/boltstore). A lease is taken by
//     compare-and-set on the key's revision, so that of two brokers
//     extending one lease from the same bound only one succeeds.
//   - KV bucket signet_twins, key = device id: the twin document, replaced by
//     compare-and-set on its revision, and never by a lower twin version.
//   - Stream SIGNET_TWIN, subjects signet.twin.<zone>.<device>: every twin
//     document whose version grew, for city systems to consume.
//   - Stream SIGNET_EVENTS, subject signet.events: every security event.
package natsstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/signet-city/signet/devices"
)

// Names of the buckets and streams, fixed so that city systems can find
// them with any NATS client.
const (
	RegistryBucket = "signet_registry"
	LeasesBucket   = "signet_leases"
	TwinsBucket    = "signet_twins"
	TwinStream     = "SIGNET_TWIN"
	EventsStream   = "SIGNET_EVENTS"
	// TwinSubjects is where SIGNET_TWIN takes twin documents.
	TwinSubjects = "signet.twin.>"
	// EventsSubject is where SIGNET_EVENTS takes security events.
	EventsSubject = "signet.events"
)

const registryKey = "registry"

// DefaultTimeout bounds one JetStream request when Options.Timeout is 0:
// long enough for an R3 write across a district's links, short enough that
// a broker cut off from NATS says so within seconds.
const DefaultTimeout = 5 * time.Second

// DefaultOutage is Options.Outage when 0: long enough for a NATS node to
// restart or a stream to elect a new leader, short enough that a broker
// cut off for good stops accepting within a minute.
const DefaultOutage = 30 * time.Second

// DefaultReplicas is the replication factor when Options.Replicas is 0:
// three copies survive the loss of any one NATS node.
const DefaultReplicas = 3

// maxCASAttempts bounds the retries of one compare-and-set that lost to
// another writer; each retry reads what that writer stored.
const maxCASAttempts = 12

// backoff waits before a retry of a lost compare-and-set: nothing before
// the first attempt, then 1 ms doubling up to 64 ms. A clustered stream's
// leader refuses every compare-and-set on a key while an earlier one on it
// is still being replicated (nats-server jetstream_batching.go,
// expectedPerSubjectInProcess), so a retry at once may lose again to a
// write that has not landed yet.
func backoff(ctx context.Context, attempt int) error {
	if attempt == 0 {
		return nil
	}
	t := time.NewTimer(time.Millisecond << min(attempt-1, 6))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Options tune Open.
type Options struct {
	// Servers are the NATS URLs, comma-separated (nats://host:4222,...).
	Servers string
	// CredsFile is a NATS credentials file (JWT and nkey seed), or "".
	CredsFile string
	// CAFile is a PEM bundle to verify the servers' TLS certificates, or "".
	CAFile string
	// Replicas is the replication factor of every bucket and stream
	// (0: DefaultReplicas); 1 for a single NATS server.
	Replicas int
	// Timeout bounds each JetStream request (0: DefaultTimeout).
	Timeout time.Duration
	// Outage is how long a write waits for NATS to come back (a node's
	// restart, a leader election, a partition that heals) before it fails
	// (0: DefaultOutage). Meanwhile the edge goes on accepting counters of
	// the leases it holds, and what needs a write waits.
	Outage time.Duration
	// Name names the connection on the servers ("": "signet").
	Name string
	// Logger receives connection changes and failed event appends (nil:
	// slog.Default()).
	Logger *slog.Logger
}

// Store is a devices.Store on NATS JetStream.
type Store struct {
	nc       *nats.Conn
	ownConn  bool
	js       jetstream.JetStream
	registry jetstream.KeyValue
	leases   jetstream.KeyValue
	twins    jetstream.KeyValue
	timeout  time.Duration
	outage   time.Duration
	log      *slog.Logger

	// revs remembers the KV revision of each lease record this store wrote
	// or read, so that an extension from the bound it knows is one round
	// trip (Update at that revision) rather than two.
	revs sync.Map // hex kid -> leaseRev
	// twinRevs is the KV revision of each twin as this store last wrote or
	// loaded it (0: absent then): a stored twin at another revision was
	// written by another broker since, and the edge must adopt it before
	// its own change is written (twin_conflict.go).
	twinRevs sync.Map // device id -> uint64
	// downSince is when writes began to find NATS unreachable (UnixNano;
	// 0: they reach it), for ride.
	downSince atomic.Int64

	closeOnce sync.Once
}

type leaseRev struct {
	bound uint64
	rev   uint64
}

var _ devices.Store = (*Store)(nil)

// IsURL reports whether a --store value names NATS servers rather than a
// bbolt file.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "nats://") || strings.HasPrefix(s, "tls://")
}

// Redact hides the password of every URL in servers, for logs and errors
// (a credentials file is the better place for secrets).
func Redact(servers string) string {
	parts := strings.Split(servers, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		}
	}
	return strings.Join(parts, ",")
}

// Open connects to the servers and opens the store, creating the buckets
// and streams that do not exist yet. The connection reconnects by itself;
// Close ends it.
func Open(ctx context.Context, opt Options) (*Store, error) {
	if opt.Servers == "" {
		return nil, errors.New("nats store: no server URL")
	}
	opts := []nats.Option{
		nats.Name(opt.name()), nats.MaxReconnects(-1), nats.Timeout(opt.timeout()),
		// A broker's own relayed messages (relay.go) never come back to it:
		// the server does not send them, rather than RelayIn dropping them.
		// Streams, watches and replies come from the servers, not echoes.
		nats.NoEcho(),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil { // nil: our own Close
				opt.logger().Warn("nats disconnected; reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { opt.logger().Info("nats reconnected", "server", nc.ConnectedUrlRedacted()) }),
	}
	if opt.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(opt.CredsFile))
	}
	if opt.CAFile != "" {
		opts = append(opts, nats.RootCAs(opt.CAFile))
	}
	nc, err := nats.Connect(opt.Servers, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats store %s: connecting: %w", Redact(opt.Servers), err)
	}
	s, err := OpenConn(ctx, nc, opt)
	if err != nil {
		nc.Close()
		return nil, err
	}
	s.ownConn = true
	return s, nil
}

// OpenConn opens the store on a connection the caller keeps (Close leaves
// it open), creating the buckets and streams that do not exist yet.
func OpenConn(ctx context.Context, nc *nats.Conn, opt Options) (*Store, error) {
	if opt.Replicas < 0 || opt.Replicas > 5 {
		return nil, fmt.Errorf("nats store: replicas %d: want 1 to 5 (JetStream's limit), 0 for %d", opt.Replicas, DefaultReplicas)
	}
	r := opt.Replicas
	if r == 0 {
		r = DefaultReplicas
	}
	log := opt.logger()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
		log.Warn("appending to a stream failed", "subject", m.Subject, "err", err)
	}))
	if err != nil {
		return nil, fmt.Errorf("nats store: %w", err)
	}
	s := &Store{nc: nc, js: js, timeout: opt.timeout(), outage: opt.Outage, log: log}
	if s.outage <= 0 {
		s.outage = DefaultOutage
	}
	ctx, cancel := context.WithTimeout(ctx, 4*s.timeout)
	defer cancel()
	bucket := func(name, desc string, history uint8) (jetstream.KeyValue, error) {
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: name, Description: desc, History: history, Storage: jetstream.FileStorage, Replicas: r,
		})
		if err != nil {
			return nil, fmt.Errorf("nats store: bucket %s (replicas %d): %w", name, r, err)
		}
		return kv, nil
	}
	// The registry keeps a few revisions, so that an operator can see what
	// the last writes changed; leases and twins only the latest.
	if s.registry, err = bucket(RegistryBucket, "Signet registry: devices, operators, authorities", 8); err != nil {
		return nil, err
	}
	if s.leases, err = bucket(LeasesBucket, "Signet counter leases, by kid", 1); err != nil {
		return nil, err
	}
	if s.twins, err = bucket(TwinsBucket, "Signet twin documents, by device", 1); err != nil {
		return nil, err
	}
	for _, sc := range []jetstream.StreamConfig{
		{Name: TwinStream, Description: "Signet verified twin updates", Subjects: []string{TwinSubjects}},
		{Name: EventsStream, Description: "Signet security events", Subjects: []string{EventsSubject}},
	} {
		sc.Storage, sc.Replicas = jetstream.FileStorage, r
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return nil, fmt.Errorf("nats store: stream %s (replicas %d): %w", sc.Name, r, err)
		}
	}
	return s, nil
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

func (o Options) name() string {
	if o.Name == "" {
		return "signet"
	}
	return o.Name
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}

// Healthy reports whether the store can reach NATS now.
func (s *Store) Healthy() error {
	if st := s.nc.Status(); st != nats.CONNECTED {
		return fmt.Errorf("nats store: connection %s", st)
	}
	return nil
}

// Close waits briefly for pending stream appends and, if Open made the
// connection, closes it.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		select {
		case <-s.js.PublishAsyncComplete():
		case <-time.After(s.timeout):
			s.log.Warn("closing with stream appends unacknowledged", "pending", s.js.PublishAsyncPending())
		}
		if s.ownConn {
			s.nc.Close()
		}
	})
	return nil
}

// request bounds one JetStream call by the store's timeout.
func (s *Store) request(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.timeout)
}

// casLost reports whether a KV write lost a compare-and-set to another
// writer (the key exists, or its revision moved).
func casLost(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

// parallel runs fn for 0..n-1 at once (a round of the group committer
// touches many keys, and each is one round trip) and returns the first
// error.
func parallel(n int, fn func(i int) error) error {
	if n == 1 {
		return fn(0)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
