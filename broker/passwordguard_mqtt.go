package broker

import (
	"context"
	"errors"
	"fmt"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// SetPasswordGuard makes the hook check user passwords through g, the
// guard the HTTP API shares, so that one budget and one back-off cover
// both faces. NewAccessHook starts with a guard of default limits.
func (h *AccessHook) SetPasswordGuard(g *PasswordGuard) { h.logins = g }

// passwordLogin checks a user name and password through the guard. A name
// that is no user takes the same path against the guard's decoy. A login
// the guard refuses without hashing is answered here with the CONNACK code
// that says why, since mochi answers every failed authentication with
// 0x86.
func (h *AccessHook) passwordLogin(cl *mqtt.Client, name string, password []byte) (Identity, string, error) {
	u, known := h.users.byName(name)
	err := h.logins.Check(context.Background(), cl.Net.Remote, name, string(password), u.PasswordHash)
	var backoff *BackoffError
	switch {
	case err == nil && known:
		return Identity{Role: u.Role, Name: u.Name, Zones: u.Zones}, "", nil
	case err == nil, errors.Is(err, ErrWrongPassword):
		// The security event names the user; the client learns only 0x86.
		return Identity{}, "bad_password", fmt.Errorf("wrong password for user %q: %w", name, ErrWrongPassword)
	case errors.As(err, &backoff):
		// MQTT 5 §3.2.2.2: 0x9F Connection rate exceeded.
		refuseConnect(cl, packets.ErrConnectionRateExceeded, err)
		return Identity{}, "login_backoff", err
	default:
		// MQTT 5 §3.2.2.2: 0x89 Server busy.
		refuseConnect(cl, packets.ErrServerBusy, err)
		return Identity{}, "login_busy", err
	}
}

// refuseConnect writes a CONNACK with code and closes the connection, so
// that mochi's own 0x86 CONNACK after a failed authentication is never
// written (it finds the client closed). MQTT 3.1.1 has neither code; its
// nearest is return code 3, server unavailable (MQTT 3.1.1 §3.2.2.3).
func refuseConnect(cl *mqtt.Client, code packets.Code, err error) {
	if cl.Properties.ProtocolVersion < 5 {
		code = packets.Err3ServerUnavailable
	}
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ReasonCode: code.Code}
	if cl.Properties.ProtocolVersion >= 5 {
		ack.Properties.ReasonString = code.Reason
	}
	_ = cl.WritePacket(ack) // the client may be gone; it is refused either way
	cl.Stop(err)
}

// isUser reports whether name is a configured user.
func (h *AccessHook) isUser(name string) bool {
	_, ok := h.users.byName(name)
	return ok
}
