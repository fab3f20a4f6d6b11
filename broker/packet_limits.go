package broker

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// packetOptions sets the packet limits of the connections: section on
// mochi's options. MaximumPacketSize makes mochi refuse a packet whose
// fixed header declares more, before it allocates the buffer for it
// (mochi's default, 0, let a CONNECT declaring 256 MiB be allocated before
// authentication). TopicAliasMaximum is what PublishValidate checks; the
// packet hook resolves aliases itself with the same bound.
func packetOptions(o *mqtt.Options, cfg Config) *mqtt.Options {
	o.Capabilities.MaximumPacketSize = cfg.Connections.packetLimit(cfg.MaxMessageBytes)
	o.Capabilities.TopicAliasMaximum = cfg.Connections.topicAliasMaximum()
	return o
}

// registerGateMetrics exports the connection gate's state.
func registerGateMetrics(reg *prometheus.Registry, g *ConnGate) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "signet_connections_connecting", Help: "Connections accepted that have not authenticated yet."},
			func() float64 { return float64(g.Connecting()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "signet_connections_refused_total", Help: "Connections closed at once because connections.max_connecting were already waiting."},
			func() float64 { return float64(g.Refused()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "signet_connections_connect_timeouts_total", Help: "Connections closed for not sending CONNECT within connections.connect_timeout."},
			func() float64 { return float64(g.Expired()) }),
	)
}
