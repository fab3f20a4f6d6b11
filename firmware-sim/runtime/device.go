// Package runtime connects a simulated device to a broker over MQTT
// (eclipse/paho.mqtt.golang), signs every message per SPEC §2 with the
// device's key and counter, and publishes what its model produces.
package runtime

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/firmware-sim/command"
	"github.com/signet-city/signet/firmware-sim/counter"
	"github.com/signet-city/signet/firmware-sim/model"
	"github.com/signet-city/signet/signing"
)

// ConnectTopic is the external_aad of connect tokens (broker.ConnectTopic).
const ConnectTopic = "$connect"

// Stats counts a device's (or a fleet's) messages. Safe for concurrent use.
type Stats struct {
	Sent, Acked, Failed atomic.Uint64
	// Commands acted on, and commands refused by the device itself (SPEC §5).
	CmdDone, CmdRefused atomic.Uint64
}

// Device is one simulated device.
type Device struct {
	ID, Zone string
	Key      signing.PrivateKey
	KID      []byte
	Counter  *counter.Store
	Model    model.Model
	Broker   string // e.g. tcp://127.0.0.1:1883
	Stats    *Stats
	// LeaseBlock is the broker's lease block, from the flash image
	// (0: devices.DefaultLeaseBlock): every (re)connect skips twice it.
	LeaseBlock uint64
	// RootCAs, if set, are the CAs the device trusts for an ssl:// or
	// tls:// broker (the image's ca); nil leaves it to the system's roots.
	RootCAs *x509.CertPool
	// Tap, if set, sees every message the device publishes (the demo keeps
	// one to replay it as an attacker would).
	Tap func(topic string, msg []byte)
	// Commands, if set, makes the device subscribe to its command topics
	// and act on commands that pass SPEC §5 (see commands.go).
	Commands *command.Verifier
	// OnCommand, if set, sees every command outcome (err nil: acted on).
	OnCommand func(topic string, err error)
	// OnCommandsReady, if set, is called each time the command subscription
	// is in place (after every connect).
	OnCommandsReady func()

	mu       sync.Mutex     // the model and reported state: Run and command handlers
	reported map[string]any // merge of the state this life has published
}

// Sign makes the envelope of payload for topic with the next counter.
func (d *Device) Sign(t string, payload []byte) ([]byte, error) {
	ctr, err := d.Counter.Next()
	if err != nil {
		return nil, err
	}
	return signing.Sign(d.Key, signing.Header{KID: d.KID, Counter: ctr}, payload, t)
}

// Token is a fresh connect token for client id d.ID (see TokenFor).
func (d *Device) Token() ([]byte, error) { return d.TokenFor(d.ID) }

// TokenFor is a fresh connect token for a session with clientID: the client
// id signed with topic $connect, iat now and the next counter. The broker
// takes it with username = the device id.
func (d *Device) TokenFor(clientID string) ([]byte, error) {
	ctr, err := d.Counter.Next()
	if err != nil {
		return nil, err
	}
	now := time.Now().Unix()
	return signing.Sign(d.Key, signing.Header{KID: d.KID, Counter: ctr, IssuedAt: &now}, []byte(clientID), ConnectTopic)
}

// Disconnect ends cl's session and returns once paho has stopped the client
// (within 250 ms). paho's Disconnect(0) can return before its own goroutine
// has marked the client disconnecting, and a connection lost in between is
// then reconnected, signing a token and writing the counter file, after the
// caller believed the device gone.
func Disconnect(cl paho.Client) { cl.Disconnect(250) }

// Connect opens the MQTT session. Reconnects (with paho's backoff, doubling
// up to 10 s) sign a new token each time, since a token is single-use. Every (re)connect
// subscribes to the device's commands if it takes them. A first connection
// that fails is an error (a wrong key or an unreachable broker should be
// seen, not retried silently).
func (d *Device) Connect(ctx context.Context) (paho.Client, error) {
	opts := paho.NewClientOptions().AddBroker(d.Broker).SetClientID(d.ID).SetProtocolVersion(4).
		SetAutoReconnect(true).SetMaxReconnectInterval(10 * time.Second).SetConnectTimeout(10 * time.Second).
		SetOrderMatters(false).
		SetOnConnectHandler(d.onConnect).
		SetCredentialsProvider(func() (string, string) {
			// Before every (re)connect, past any broker restart floor
			// (docs/counters.md).
			if err := d.Counter.SkipAhead(2 * cmp.Or(d.LeaseBlock, devices.DefaultLeaseBlock)); err != nil {
				return d.ID, ""
			}
			tok, err := d.Token()
			if err != nil {
				return d.ID, ""
			}
			return d.ID, string(tok)
		})
	if d.RootCAs != nil {
		opts.SetTLSConfig(&tls.Config{RootCAs: d.RootCAs, MinVersion: tls.VersionTLS12})
	}
	cl := paho.NewClient(opts)
	tok := cl.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		// Let the attempt end first (it is bounded by the connect timeout):
		// Disconnect during a connect does not stop it, and a session that
		// comes up afterwards would auto-reconnect for ever, signing tokens
		// (and writing the counter file) after Run has returned (seen as the
		// demo's temporary folder left behind after Ctrl-C).
		tok.WaitTimeout(15 * time.Second)
		Disconnect(cl)
		return nil, ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("device %s: connect to %s: %w", d.ID, d.Broker, err)
	}
	return cl, nil
}

// Run publishes the model's output every interval until ctx ends.
func (d *Device) Run(ctx context.Context, interval time.Duration) error {
	cl, err := d.Connect(ctx)
	if err != nil {
		return err
	}
	defer Disconnect(cl)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		d.mu.Lock()
		pubs := d.Model.Step(time.Now())
		d.mu.Unlock()
		for _, p := range pubs {
			// A publish cut short by the end of the run (cancel or
			// deadline) is not a failure of the device or the broker.
			if err := d.Publish(ctx, cl, p); err != nil && ctx.Err() == nil {
				d.Stats.Failed.Add(1)
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Publish signs and sends one publication and waits for its acknowledgement.
func (d *Device) Publish(ctx context.Context, cl paho.Client, p model.Publication) error {
	t := topic.City{Zone: d.Zone, Device: d.ID, Class: p.Class, Name: p.Name}.String()
	msg, err := d.Sign(t, p.Payload)
	if err != nil {
		return err
	}
	if d.Tap != nil {
		d.Tap(t, msg)
	}
	if p.Class == topic.State {
		d.remember(p.Payload)
	}
	d.Stats.Sent.Add(1)
	tok := cl.Publish(t, p.QoS, false, msg)
	select {
	case <-tok.Done():
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := tok.Error(); err != nil {
		return err
	}
	d.Stats.Acked.Add(1)
	return nil
}
