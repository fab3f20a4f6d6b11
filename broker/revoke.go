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
		s.disconnect(cl)
	}
	if len(clients) > 0 {
		s.log.Info("closed the sessions of a revoked device", "device", device, "connections", len(clients))
	}
	return len(clients)
}

// disconnect closes one client for an administrative action.
func (s *Server) disconnect(cl *mqtt.Client) {
	if cl.Properties.ProtocolVersion < 5 {
		// MQTT 3.1.1 has no DISCONNECT from the server (§3.14): just close.
		cl.Stop(packets.ErrAdministrativeAction)
		return
	}
	s.mqtt.DisconnectClient(cl, packets.ErrAdministrativeAction)
}

// closeUser disconnects the connected MQTT sessions of the user name (any
// role but device and anonymous), with 0x98 as CloseDevice does, and
// returns how many.
func (s *Server) closeUser(name string) int {
	s.access.sessions.mu.Lock()
	var clients []*mqtt.Client
	for cl, id := range s.access.sessions.byClient {
		if id.Role != RoleDevice && id.Role != RoleAnonymous && id.Name == name && !cl.Closed() {
			clients = append(clients, cl)
		}
	}
	s.access.sessions.mu.Unlock()
	for _, cl := range clients {
		s.disconnect(cl)
	}
	return len(clients)
}
