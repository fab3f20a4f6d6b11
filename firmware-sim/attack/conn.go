package attack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/signet-city/signet/firmware-sim/runtime"
)

// Conn is an attacker's MQTT 5 session (eclipse/paho.golang), logged in with
// a compromised device's key. MQTT 5 is what lets the attacker tell: the
// broker answers each QoS 1 publish with a PUBACK reason code (MQTT 5
// §3.4.2.1), 0x87 or 0x99 when it refused the message (SPEC §4), where an
// MQTT 3.1.1 client gets the same plain PUBACK either way.
type Conn struct {
	client *paho5.Client
	net    net.Conn
}

// Dial connects to brokerURL (tcp://host:port) as device d, with username
// d.ID, a fresh connect token and client id clientID. A compromised device
// may use any client id its token names; a different one from the device's
// own keeps a running simulator's session connected.
func Dial(ctx context.Context, brokerURL string, d *runtime.Device, clientID string) (*Conn, error) {
	return DialReceiving(ctx, brokerURL, d, clientID, nil)
}

// DialReceiving is Dial for an attacker that also listens: onPublish (if
// not nil) sees the topic of every message the broker delivers to it, the
// evidence of a subscription that leaked what it may not read.
func DialReceiving(ctx context.Context, brokerURL string, d *runtime.Device, clientID string, onPublish func(topic string)) (*Conn, error) {
	tok, err := d.TokenFor(clientID)
	if err != nil {
		return nil, err
	}
	c, ack, err := dial(ctx, brokerURL, d.ID, tok, clientID, onPublish)
	if err != nil && ack != nil {
		return nil, fmt.Errorf("broker %s refused device %s (CONNACK %s): is the device enrolled in this broker's registry?", brokerURL, d.ID, CodeName(ack.ReasonCode))
	}
	var de *dialError
	if errors.As(err, &de) {
		return nil, de.err
	}
	if err != nil {
		return nil, fmt.Errorf("broker %s: connect as device %s: %w", brokerURL, d.ID, err)
	}
	return c, nil
}

// dialError is a broker address that is wrong or a TCP connection that
// failed, before any MQTT: its message is whole as it is.
type dialError struct{ err error }

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

// DialUser connects as a user with a password (an operator whose console
// sends commands): commands are judged by their signature and endorsement,
// not by who publishes them, so a stolen console login is the attacker's
// starting point.
func DialUser(ctx context.Context, brokerURL, user, password, clientID string) (*Conn, error) {
	c, ack, err := dial(ctx, brokerURL, user, []byte(password), clientID, nil)
	if err != nil && ack != nil {
		return nil, fmt.Errorf("broker %s refused user %s (CONNACK %s)", brokerURL, user, CodeName(ack.ReasonCode))
	}
	var de *dialError
	if errors.As(err, &de) {
		return nil, de.err
	}
	if err != nil {
		return nil, fmt.Errorf("broker %s: connect as user %s: %w", brokerURL, user, err)
	}
	return c, nil
}

// dial opens an MQTT 5 session with username and password.
func dial(ctx context.Context, brokerURL, username string, password []byte, clientID string, onPublish func(topic string)) (*Conn, *paho5.Connack, error) {
	u, err := url.Parse(brokerURL)
	if err != nil || u.Scheme != "tcp" || u.Host == "" {
		return nil, nil, &dialError{fmt.Errorf("broker %q: the attacker speaks tcp://host:port only (give --broker tcp://HOST:PORT)", brokerURL)}
	}
	var dialer net.Dialer
	nc, err := dialer.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, nil, &dialError{fmt.Errorf("broker %s: %w (is it running?)", brokerURL, err)}
	}
	cfg := paho5.ClientConfig{Conn: nc, ClientID: clientID, PacketTimeout: 30 * time.Second}
	if onPublish != nil {
		cfg.OnPublishReceived = []func(paho5.PublishReceived) (bool, error){func(pr paho5.PublishReceived) (bool, error) {
			onPublish(pr.Packet.Topic)
			return true, nil
		}}
	}
	cl := paho5.NewClient(cfg)
	ack, err := cl.Connect(ctx, &paho5.Connect{
		ClientID: clientID, CleanStart: true, KeepAlive: 30,
		UsernameFlag: true, Username: username, PasswordFlag: true, Password: password,
	})
	if err != nil {
		nc.Close()
		return nil, ack, err
	}
	return &Conn{client: cl, net: nc}, ack, nil
}

// Publish sends payload on topic at QoS 1 and returns the broker's PUBACK
// reason code (Refused tells what it means). err is set only when no
// PUBACK came back.
func (c *Conn) Publish(ctx context.Context, topic string, payload []byte) (byte, error) {
	resp, err := c.client.Publish(ctx, &paho5.Publish{Topic: topic, QoS: 1, Payload: payload})
	if resp != nil {
		return resp.ReasonCode, nil // paho also returns an error for codes >= 0x80
	}
	return 0, fmt.Errorf("publish on %s: %w", topic, err)
}

// Close disconnects.
func (c *Conn) Close() error {
	err := c.client.Disconnect(&paho5.Disconnect{ReasonCode: 0})
	c.net.Close()
	return err
}

// Refused reports whether a PUBACK reason code says the broker refused the
// message (MQTT 5 §2.4: 0x80 and above are failures).
func Refused(code byte) bool { return code >= 0x80 }

// CodeName is a PUBACK or CONNACK reason code in hex with its MQTT 5 name.
func CodeName(code byte) string {
	name := map[byte]string{
		0x00: "success", 0x10: "no matching subscribers", 0x80: "unspecified error",
		0x83: "implementation specific error", 0x86: "bad user name or password", 0x87: "not authorized",
		0x90: "topic name invalid", 0x97: "quota exceeded", 0x99: "payload format invalid",
	}[code]
	if name == "" {
		return fmt.Sprintf("0x%02x", code)
	}
	return fmt.Sprintf("0x%02x %s", code, name)
}

// Subscribe asks for filter at QoS 1 and returns the SUBACK's reason code
// (0x80 and above: refused, MQTT 5 §3.9.3).
func (c *Conn) Subscribe(ctx context.Context, filter string) (byte, error) {
	ack, err := c.client.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if ack != nil && len(ack.Reasons) == 1 {
		return ack.Reasons[0], nil // paho also returns an error for codes >= 0x80
	}
	return 0, fmt.Errorf("subscribe to %s: %w", filter, err)
}
