package attack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"github.com/eclipse/paho.golang/packets"

	"github.com/signet-city/signet/firmware-sim/runtime"
)

// rawConn is an MQTT 5 connection written packet by packet
// (eclipse/paho.golang/packets), for probes whose point is a packet a
// well-behaved client library would never send.
type rawConn struct {
	net.Conn
}

// dialRaw opens a TCP connection to brokerURL (tcp://host:port).
func dialRaw(ctx context.Context, brokerURL string) (*rawConn, error) {
	u, err := url.Parse(brokerURL)
	if err != nil || u.Scheme != "tcp" || u.Host == "" {
		return nil, fmt.Errorf("%w: broker %q is not tcp://host:port", ErrNoTarget, brokerURL)
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("broker %s: %w (is it running?)", brokerURL, err)
	}
	return &rawConn{nc}, nil
}

// connect sends an MQTT 5 CONNECT as device d (username d.ID, a fresh
// connect token for clientID) and returns the CONNACK's reason code.
func (c *rawConn) connect(ctx context.Context, d *runtime.Device, clientID string) (byte, error) {
	tok, err := d.TokenFor(clientID)
	if err != nil {
		return 0, err
	}
	cp := packets.NewControlPacket(packets.CONNECT)
	cn := cp.Content.(*packets.Connect)
	cn.ClientID, cn.CleanStart, cn.KeepAlive = clientID, true, 30
	cn.UsernameFlag, cn.Username, cn.PasswordFlag, cn.Password = true, d.ID, true, tok
	if _, err := cp.WriteTo(c); err != nil {
		return 0, err
	}
	p, err := c.next(ctx)
	if err != nil {
		return 0, fmt.Errorf("no CONNACK: %w", err)
	}
	ack, ok := p.Content.(*packets.Connack)
	if !ok {
		return 0, fmt.Errorf("got %s instead of CONNACK", p.PacketType())
	}
	return ack.ReasonCode, nil
}

// next reads the next packet, waiting until ctx ends. io.EOF (or a reset)
// means the broker closed the connection.
func (c *rawConn) next(ctx context.Context) (*packets.ControlPacket, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetReadDeadline(dl)
	}
	return packets.ReadPacket(c)
}

// closedByBroker waits until ctx ends for the broker to close the
// connection, reading and discarding whatever it sends first. It returns
// the reason code of a DISCONNECT the broker sent (0 if none) and whether
// the connection was closed by the broker.
func (c *rawConn) closedByBroker(ctx context.Context) (byte, bool) {
	var reason byte
	for {
		p, err := c.next(ctx)
		if err != nil {
			return reason, !errors.Is(err, os.ErrDeadlineExceeded)
		}
		if d, ok := p.Content.(*packets.Disconnect); ok {
			reason = d.ReasonCode
		}
	}
}

// probeWait bounds how long a probe waits for the broker's answer (or for
// the broker to close a connection) when ctx has no earlier deadline.
const probeWait = 30 * time.Second

// waitCtx is ctx bounded by the probe's patience.
func waitCtx(ctx context.Context, patience time.Duration) (context.Context, context.CancelFunc) {
	if patience <= 0 {
		patience = probeWait
	}
	return context.WithTimeout(ctx, patience)
}
