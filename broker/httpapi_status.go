package broker

import (
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"
)

// Status is GET /api/v1/status: what the dashboard's header shows.
type Status struct {
	Version string      `json:"version"`
	Started time.Time   `json:"started"`
	Uptime  float64     `json:"uptime_seconds"`
	Ready   bool        `json:"ready"` // what /readyz answers
	Store   StoreStatus `json:"store"`
	// Devices and ConnectedDevices count the devices of the caller's
	// zones; Clients (every MQTT connection) and Streams only admins and
	// auditors see.
	Devices          int  `json:"devices"`
	ConnectedDevices int  `json:"connected_devices"`
	Clients          *int `json:"clients,omitempty"`
	Streams          *int `json:"streams,omitempty"`
	StreamsDropped   *int `json:"streams_dropped,omitempty"`
}

// StoreStatus is the store's kind and health, from the check /readyz makes.
type StoreStatus struct {
	Kind  string `json:"kind"` // "bbolt" or "nats"
	Ready bool   `json:"ready"`
	Error string `json:"error,omitempty"`
}

// version is the module's version and VCS revision, as the build recorded them.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}

// storeKind names the store by its package: boltstore or natsstore.
func storeKind(store any) string {
	t := strings.TrimPrefix(fmt.Sprintf("%T", store), "*")
	pkg, _, _ := strings.Cut(t, ".")
	switch pkg {
	case "boltstore":
		return "bbolt"
	case "natsstore":
		return "nats"
	}
	return pkg
}

// serveStatus answers GET /api/v1/status.
func (s *Server) serveStatus(w http.ResponseWriter, _ *http.Request, id Identity) {
	st := Status{Version: version(), Started: s.dash.started.UTC(), Uptime: time.Since(s.dash.started).Seconds()}
	st.Store.Kind = storeKind(s.store)
	if err := s.storeHealthy(); err != nil {
		st.Store.Error = err.Error()
	} else {
		st.Store.Ready = true
	}
	st.Ready = s.ready.Load() && st.Store.Ready
	visible := func(device string) bool {
		d, ok := s.edge.Twin(device)
		return ok && mayReadTwin(id, d.Zone, d.Device)
	}
	for _, d := range s.edge.Twins("") {
		if mayReadTwin(id, d.Zone, d.Device) {
			st.Devices++
		}
	}
	st.ConnectedDevices = s.dash.conns.Connected(visible)
	if seesAll(id) {
		clients := int(atomic.LoadInt64(&s.mqtt.Info.ClientsConnected))
		streams, dropped := s.dash.hub.open(), int(s.dash.hub.dropped.Load())
		st.Clients, st.Streams, st.StreamsDropped = &clients, &streams, &dropped
	}
	writeJSON(w, st)
}
