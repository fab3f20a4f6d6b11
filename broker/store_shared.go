package broker

import (
	"context"
)

// RegistryWatcher is a store shared by several brokers (devices/natsstore)
// that reports registry writes made through any of them. The broker then
// reloads its registry (devices.Edge.Refresh) and its certificate pins, so
// that an enrolment or a revocation made through another broker is enforced
// here too.
type RegistryWatcher interface {
	// WatchRegistry calls changed after every registry write, from one
	// goroutine, until ctx ends.
	WatchRegistry(ctx context.Context, changed func())
}

// EventAppender is a store that keeps security events for other systems
// (devices/natsstore appends them to a stream). Append must not block on
// the network: events are recorded on the path of a refused message.
type EventAppender interface {
	AppendEvent(event []byte)
}

// HealthReporter is a store that can be unreachable (devices/natsstore):
// while Healthy returns an error, /readyz says not ready, so that a load
// balancer sends new devices to a broker that can take leases.
type HealthReporter interface {
	Healthy() error
}

// storeHealthy is why the store cannot be used now, or nil.
func (s *Server) storeHealthy() error {
	if h, ok := s.store.(HealthReporter); ok {
		return h.Healthy()
	}
	return nil
}

// watchRegistry follows a shared store's registry until ctx ends; it returns
// at once for a store of one broker.
func (s *Server) watchRegistry(ctx context.Context) {
	w, ok := s.store.(RegistryWatcher)
	if !ok {
		return
	}
	w.WatchRegistry(ctx, func() {
		if err := s.edge.Refresh(ctx); err != nil {
			s.log.Error("reloading the registry after a change through another broker", "err", err)
			return
		}
		if err := s.loadCertPins(ctx); err != nil {
			s.log.Error("reloading certificate pins after a registry change", "err", err)
		}
	})
}

// appendEvents wraps publish so that every security event published on
// $security/events is also appended to the store, when the store keeps them.
func (s *Server) appendEvents(publish Publisher) Publisher {
	a, ok := s.store.(EventAppender)
	if !ok {
		return publish
	}
	return func(topic string, payload []byte, retain bool, qos byte) error {
		if topic == EventsTopic {
			a.AppendEvent(payload)
		}
		return publish(topic, payload, retain, qos)
	}
}
