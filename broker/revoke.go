package broker

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// DeviceClients returns the connected clients whose session is the
// device's own (role device, that device id).
func (h *AccessHook) DeviceClients(device string) []*mqtt.Client {
	h.sessions.mu.Lock()
	defer h.sessions.mu.Unlock()
	var out []*mqtt.Client
	for cl, id := range h.sessions.byClient {
		if id.Role == RoleDevice && id.Device == device && !cl.Closed() {
			out = append(out, cl)
		}
	}
	return out
}

// CloseDevice disconnects every connected session of device, at once, with
// reason code 0x98 "administrative action" (MQTT 5 §3.14.2.1; a 3.1.1
// client just sees its connection closed). It is what revoking a key does to
// a device that is online: a revoked key must not keep a live session, and
// a reconnect has to present a connect token the edge now refuses. It
// returns how many connections it closed.
func (s *Server) CloseDevice(device string) int {
	clients := s.access.DeviceClients(device)
	for _, cl := range clients {
		if cl.Properties.ProtocolVersion < 5 {
			// MQTT 3.1.1 has no DISCONNECT from the server (§3.14): just close.
			cl.Stop(packets.ErrAdministrativeAction)
			continue
		}
		s.mqtt.DisconnectClient(cl, packets.ErrAdministrativeAction)
	}
	if len(clients) > 0 {
		s.log.Info("closed the sessions of a revoked device", "device", device, "connections", len(clients))
	}
	return len(clients)
}
