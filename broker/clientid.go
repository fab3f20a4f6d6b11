package broker

import (
	"fmt"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// OnConnect refuses a client id longer than clients.max_client_id_bytes
// before any credential is checked: every id costs the broker memory for as
// long as its session lives. MQTT 5 §3.1.3.1 lets a server refuse long ids
// with CONNACK 0x85 Client Identifier not valid (3.1.1 §3.2.2.3: 0x02
// Identifier rejected). mochi sends no CONNACK when OnConnect fails, so the
// hook writes it.
func (h *AccessHook) OnConnect(cl *mqtt.Client, _ packets.Packet) error {
	maxID := h.maxIDBytes.get()
	if len(cl.ID) <= maxID {
		return nil
	}
	h.record(cl, "client_id_invalid", fmt.Errorf("client id of %d bytes is longer than clients.max_client_id_bytes (%d)", len(cl.ID), maxID))
	code := packets.ErrClientIdentifierNotValid
	if cl.Properties.ProtocolVersion < 5 {
		code = packets.Err3ClientIdentifierNotValid
	}
	if err := cl.WritePacket(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ReasonCode: code.Code}); err != nil {
		h.log.Debug("writing CONNACK 0x85 failed", "remote", cl.Net.Remote, "err", err)
	}
	return code
}

// ownDeviceID reports whether clientID is a registered device's id, and
// whether id is that device: such an id is the device's alone.
func (h *AccessHook) ownDeviceID(clientID string, id Identity) (registered, own bool) {
	if h.edge == nil {
		return false, false
	}
	if _, ok := h.edge.Twin(clientID); !ok {
		return false, false
	}
	return true, id.Role == RoleDevice && id.Device == clientID
}
