package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/boltstore"
	"github.com/signet-city/signet/signing"
)

// Server is a running Signet broker: mochi with the access, verify and twin
// hooks, the edge state on its store, security events and the HTTP face.
type Server struct {
	cfg     Config
	log     *slog.Logger
	store   devices.Store
	edge    *devices.Edge
	events  *Events
	refused *TwinRejections // $twin/{zone}/{device}/rejected
	mqtt    *mqtt.Server
	tcp     *listeners.TCP
	gate    *ConnGate
	tls     *listeners.TCP
	access  *AccessHook
	logins  *PasswordGuard // MQTT and HTTP password logins
	hook    *VerifyHook
	verify  *signing.Verifier
	httpSrv *http.Server
	httpLn  net.Listener
	metrics *prometheus.Registry
	cancel  context.CancelFunc
	twins   chan struct{} // closed when the twin publisher and the registry watch end
	ready   atomic.Bool   // serving, and not shutting down (/readyz)
	reloads reloadState   // what Reload swaps (reload.go)
	dash    *liveDash     // connection state, rates and live streams (dashlive.go)
	cluster *clusterRelay // one MQTT namespace with the brokers on a shared store, or nil (cluster_relay.go)

	shutdownOnce sync.Once
	shutdownErr  error
}

// New opens the bbolt store at cfg.Store and assembles the broker on it;
// Start begins serving.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := cfg.AuditLimits.validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	store, err := boltstore.Open(cfg.Store, boltstore.Options{})
	if err != nil {
		return nil, err
	}
	return NewWithStore(ctx, cfg, store, log)
}

// NewWithStore assembles the broker on an open store (bbolt, or one shared
// by several brokers such as devices/natsstore), which it owns from now on:
// Shutdown closes it, and so does a failed NewWithStore.
func NewWithStore(ctx context.Context, cfg Config, store devices.Store, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		store.Close()
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := cfg.AuditLimits.validate(); err != nil {
		store.Close()
		return nil, fmt.Errorf("config: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	dur, _ := devices.ParseDurability(cfg.Durability)
	edge, err := devices.Open(ctx, store, devices.Options{
		Durability: dur, Logger: log, LeaseBlock: uint64(cfg.LeaseBlock), CommitDelay: cfg.CommitDelay.option(),
		MaxTwinBytes: cfg.Payload.Twin.MaxDocumentBytes, MaxPatchDepth: cfg.Payload.Twin.MaxPatchDepth,
	})
	if err != nil {
		store.Close()
		return nil, err
	}
	var auditLog *audit.Log
	if cfg.Audit != "" {
		if auditLog, err = audit.OpenWith(cfg.Audit, cfg.AuditLimits.logOptions()); err != nil {
			edge.Close(ctx)
			store.Close()
			return nil, err
		}
		if torn, side := auditLog.TornTail(); torn != nil {
			log.Warn("audit log had a torn last line; moved it aside and kept the intact lines", "file", cfg.Audit, "bytes", torn.Bytes, "moved_to", side)
		}
	}
	s := &Server{cfg: cfg, log: log, store: store, edge: edge, metrics: prometheus.NewRegistry(), twins: make(chan struct{})}
	s.events = NewEventsWith(auditLog, log, 1024, 4096, cfg.AuditLimits)
	if s.dash, err = newLiveDash(cfg.Dashboard, edge, func(cl *mqtt.Client) (Identity, bool) { return s.access.Identity(cl) }, s.metrics, log); err != nil {
		return nil, errors.Join(fmt.Errorf("config: %w", err), s.closeState(ctx))
	}
	s.mqtt = mqtt.New(packetOptions(MochiOptions(cfg.MaxPendingWrites, log.With("component", "mochi")), cfg))
	s.gate = NewConnGate(cfg.Connections.connectTimeout(), cfg.Connections.maxConnecting(), log)
	registerGateMetrics(s.metrics, s.gate)
	packet := NewPacketHook(PacketConfig{
		MaxPacket: cfg.Connections.packetLimit(cfg.MaxMessageBytes), MaxAlias: cfg.Connections.topicAliasMaximum(),
		Disconnect: s.mqtt.DisconnectClient, Events: s.events, Logger: log,
	})
	s.access = NewAccessHook(edge, cfg.Users, cfg.AllowAnonymous, s.events, log)
	s.logins = NewPasswordGuard(cfg.AccessLimits, cfg.Users)
	s.access.SetPasswordGuard(s.logins)
	RegisterPasswordGuardMetrics(s.metrics, s.logins)
	s.access.LimitClients(cfg.Clients)
	s.access.RegisterMetrics(s.metrics)
	s.mqtt.Options.Capabilities.MaximumSessionExpiryInterval = uint32(cfg.Clients.resolved().MaxSessionExpirySeconds)
	s.verify = signing.NewVerifier(signing.VerifierConfig{})
	// The Go runtime's and the process's own figures (heap, goroutines, RSS,
	// open files) beside Signet's: what an edge team graphs first.
	s.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	RegisterVerifierMetrics(s.metrics, s.verify)
	RegisterStoreMetrics(s.metrics, edge)
	s.metrics.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "signet_clients_connected", Help: "MQTT clients connected."},
		func() float64 { return float64(atomic.LoadInt64(&s.mqtt.Info.ClientsConnected)) }))
	reg := devices.NewRegistry(store, nil)
	params := func(ctx context.Context, device string) (json.RawMessage, error) {
		d, err := reg.Device(ctx, device)
		if err != nil {
			return nil, fmt.Errorf("params of device %s: %w", device, err)
		}
		return d.Params, nil
	}
	s.refused = NewTwinRejections(s.events, EdgeZones(edge), cfg.Payload.Twin.Topics.rejectedPerSecond(), log)
	s.hook = NewVerifyHook(VerifyConfig{
		Edge: edge, Verifier: s.verify, Identity: s.access,
		Limits: NewRateLimits(cfg.RatePerClient, cfg.RateBurst, cfg.Clients.RateTableSize, cfg.Clients.rateIdle()), Events: rejectionTap{s.refused, s.dash.rates, s.dash.zoneOf},
		Metrics: NewVerifyMetrics(s.metrics).Seed(edge.Twins("")), Commands: NewCommandPolicy(edge, params),
		MaxSize: cfg.MaxMessageBytes, Inject: s.mqtt.InjectPacket, Logger: log,
		MaxTopicBytes: cfg.Payload.topicLimit(),
	})
	retained := NewRetainedQuota(s.access, cfg.Clients, log)
	s.reloads.retained = retained
	retained.RegisterMetrics(s.metrics)
	// packet first (see PacketHook), the retained quota last (see RetainedQuota).
	hooks := []mqtt.Hook{packet, s.gate, s.access, s.hook, s.dash.conns, retained}
	if s.cluster = newClusterRelay(s); s.cluster != nil {
		hooks = append(hooks, s.cluster)
	}
	for _, h := range hooks {
		if err := s.mqtt.AddHook(h, nil); err != nil {
			return nil, errors.Join(err, s.closeState(ctx))
		}
	}
	s.tcp = listeners.NewTCP(listeners.Config{ID: "tcp", Address: cfg.MQTT})
	if err := s.mqtt.AddListener(ShutdownSafe(s.mqtt, s.gate.Listener(s.tcp))); err != nil {
		return nil, errors.Join(fmt.Errorf("mqtt listener %s: %w", cfg.MQTT, err), s.closeState(ctx))
	}
	tlsConf, err := cfg.TLS.load()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("config: %w", err), s.closeState(ctx))
	}
	if tlsConf != nil {
		s.tls = listeners.NewTCP(listeners.Config{ID: "tls", Address: cfg.TLS.Listen, TLSConfig: s.reloads.tlsListenerConfig(tlsConf)})
		if err := s.mqtt.AddListener(ShutdownSafe(s.mqtt, s.gate.Listener(s.tls))); err != nil {
			return nil, errors.Join(fmt.Errorf("tls listener %s: %w", cfg.TLS.Listen, err), s.mqtt.Close(), s.closeState(ctx))
		}
	}
	if cfg.WebSocket != "" {
		if err := s.mqtt.AddListener(ShutdownSafe(s.mqtt, s.gate.Listener(listeners.NewWebsocket(listeners.Config{ID: "ws", Address: cfg.WebSocket})))); err != nil {
			return nil, errors.Join(fmt.Errorf("websocket listener %s: %w", cfg.WebSocket, err), s.mqtt.Close(), s.closeState(ctx))
		}
	}
	if err := s.loadCertPins(ctx); err != nil {
		return nil, errors.Join(err, s.mqtt.Close(), s.closeState(ctx))
	}
	if cfg.HTTP != "" {
		if s.httpLn, err = net.Listen("tcp", cfg.HTTP); err != nil {
			return nil, errors.Join(fmt.Errorf("http listener %s: %w", cfg.HTTP, err), s.mqtt.Close(), s.closeState(ctx))
		}
		s.httpSrv = s.newHTTPServer()
		s.httpSrv.RegisterOnShutdown(s.dash.hub.close) // streams end, so Shutdown need not wait for them
	}
	return s, nil
}

// Start serves MQTT and HTTP, and publishes twins as they change.
func (s *Server) Start() error {
	publish := func(t string, payload []byte, retain bool, qos byte) error {
		return s.mqtt.Publish(t, payload, retain, qos)
	}
	s.events.SetPublisher(s.appendEvents(publish))
	s.refused.SetPublisher(publish)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() {
		defer close(s.twins)
		var wg sync.WaitGroup
		wg.Go(func() { s.watchRegistry(ctx) }) // ends with ctx, before the edge closes
		wg.Go(func() { s.dash.run(ctx, s.mqtt) })
		wg.Go(func() { s.refused.Run(ctx) })
		PublishTwins(ctx, s.edge, publish, s.log)
		wg.Wait()
	}()
	if err := s.mqtt.Serve(); err != nil {
		return fmt.Errorf("mqtt: %w", err)
	}
	if s.cluster != nil {
		if err := s.cluster.start(s); err != nil {
			return fmt.Errorf("cluster: %w", err)
		}
	}
	if s.httpSrv != nil {
		go func() {
			if err := s.httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("http server stopped", "err", err)
			}
		}()
	}
	s.ready.Store(true)
	return nil
}

// TLSAddr is the TLS listener's address, or "" when disabled.
func (s *Server) TLSAddr() string {
	if s.tls == nil {
		return ""
	}
	return s.tls.Address()
}

// loadCertPins gives the access hook every device's pinned certificates.
func (s *Server) loadCertPins(ctx context.Context) error {
	all, err := devices.NewRegistry(s.store, nil).Devices(ctx, "")
	if err != nil {
		return fmt.Errorf("loading certificate pins: %w", err)
	}
	pins := map[string]Identity{}
	for _, d := range all {
		for _, pin := range d.Credentials.CertSHA256 {
			pins[pin] = Identity{Role: RoleDevice, Name: d.ID, Device: d.ID, Zones: []string{d.Zone}}
		}
	}
	s.access.SetCertPins(pins)
	return nil
}

// MQTTAddr is the address MQTT listens on (the real port when :0 was asked).
func (s *Server) MQTTAddr() string { return s.tcp.Address() }

// HTTPAddr is the API's address, or "" when disabled.
func (s *Server) HTTPAddr() string {
	if s.httpLn == nil {
		return ""
	}
	return s.httpLn.Addr().String()
}

// Edge returns the edge state (for tools and tests in the same process).
func (s *Server) Edge() *devices.Edge { return s.edge }

// Events returns the security event sink.
func (s *Server) Events() *Events { return s.events }

// Metrics gathers the broker's Prometheus metrics (what /metrics serves).
func (s *Server) Metrics() prometheus.Gatherer { return s.metrics }

// Shutdown (idempotent) stops accepting work, lets in-flight verification and commits
// finish, writes the last security events and closes the store.
//
// Order matters: mochi's Close closes the listeners, disconnects every client
// and waits for each client's read goroutine, on which OnPublish runs, so
// no message starts being checked after it; Drain then waits for every
// message in turn to finish (verdict, commit, delivery) before the verifier
// and the store close.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutdownOnce.Do(func() { s.shutdownErr = s.shutdown(ctx) })
	return s.shutdownErr
}

func (s *Server) shutdown(ctx context.Context) error {
	s.ready.Store(false)
	var errs []error
	if s.httpSrv != nil {
		errs = append(errs, s.httpSrv.Shutdown(ctx))
	}
	s.cluster.stopRelay()
	errs = append(errs, s.mqtt.Close()) // closes listeners and clients; hooks return first
	s.hook.Drain()
	errs = append(errs, s.verify.Close())
	if s.cancel != nil {
		s.cancel()
		<-s.twins
	}
	errs = append(errs, s.closeState(ctx))
	return errors.Join(errs...)
}

func (s *Server) closeState(ctx context.Context) error {
	var errs []error
	if s.verify != nil {
		errs = append(errs, s.verify.Close()) // idempotent
	}
	if s.events != nil {
		errs = append(errs, s.events.Close(ctx))
	}
	errs = append(errs, s.edge.Close(ctx), s.store.Close())
	return errors.Join(errs...)
}

// DirectVerifier verifies on the caller's goroutine with the key's own
// Verify: the baseline the batching signing.Verifier is measured against
// (the naive hook of the benchmarks).
type DirectVerifier struct{}

// Verify checks one signature.
func (DirectVerifier) Verify(_ context.Context, key signing.PublicKey, message, signature []byte) (bool, error) {
	return key.Verify(message, signature), nil
}
