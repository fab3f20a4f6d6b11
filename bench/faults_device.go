package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/signing"
)

// faultDevice is one honest streetlight of the harness. Its counter lives
// in the harness's memory, which is never killed: what is under test is the
// broker's memory of counters, not the device's.
type faultDevice struct {
	id, zone string
	key      signing.PrivateKey
	kid      []byte

	mu   sync.Mutex
	next uint64 // next counter to sign with
	// lastAckedState is the counter of the newest state message the broker
	// acknowledged with reason 0x00 (success): the twin must hold it, or a
	// newer one, after any crash.
	lastAckedState uint64
	ackedStates    []uint64 // every acknowledged state counter of the current round
	seq            int
}

// captured is one message as a wire tap saw it: the hostile client
// replays it later.
type captured struct {
	topic   string
	payload []byte
	acked   bool // the broker acknowledged it (0x00) to its device
	ctr     uint64
}

// skipAhead moves the counter forward, as a device does on every
// (re)connect when its broker leases counters in blocks (skip = 2·B).
func (d *faultDevice) skipAhead(skip uint64) {
	d.mu.Lock()
	d.next += skip
	if d.next == 0 {
		d.next = 1
	}
	d.mu.Unlock()
}

// sign signs payload for topic with the next counter.
func (d *faultDevice) sign(t string, payload []byte, iat bool) ([]byte, uint64, error) {
	d.mu.Lock()
	if d.next == 0 {
		d.next = 1
	}
	ctr := d.next
	d.next++
	d.mu.Unlock()
	h := signing.Header{KID: d.kid, Counter: ctr}
	if iat {
		now := time.Now().Unix()
		h.IssuedAt = &now
	}
	msg, err := signing.Sign(d.key, h, payload, t)
	return msg, ctr, err
}

// dialMQTT5 opens an MQTT 5 session (paho.golang) at addr. With dev set it
// logs in as that device with a fresh connect token; otherwise as user.
func dialMQTT5(ctx context.Context, addr, clientID string, dev *faultDevice, user string, password []byte) (*paho5.Client, net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	cp := &paho5.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30, UsernameFlag: true, PasswordFlag: true, Username: user, Password: password}
	if dev != nil {
		tok, _, err := dev.sign(connectTopic, []byte(clientID), true)
		if err != nil {
			conn.Close()
			return nil, nil, err
		}
		cp.Username, cp.Password = dev.id, tok
	}
	cl := paho5.NewClient(paho5.ClientConfig{Conn: conn, ClientID: clientID})
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ack, err := cl.Connect(cctx, cp)
	if err != nil {
		conn.Close()
		if ack != nil && ack.ReasonCode >= 0x80 {
			return nil, nil, fmt.Errorf("connect %s: %w: CONNACK 0x%02x (%v)", clientID, errConnRefused, ack.ReasonCode, err)
		}
		return nil, nil, fmt.Errorf("connect %s: %w", clientID, err)
	}
	if ack.ReasonCode != 0 {
		conn.Close()
		return nil, nil, fmt.Errorf("connect %s: %w: CONNACK 0x%02x", clientID, errConnRefused, ack.ReasonCode)
	}
	return cl, conn, nil
}

// pubOutcome is what one QoS 1 publish came to.
type pubOutcome int

const (
	pubAcked   pubOutcome = iota // PUBACK reason 0x00: accepted
	pubRefused                   // PUBACK reason >= 0x80 (MQTT 5 §3.4.2.1)
	pubLost                      // no PUBACK: the connection ended first
)

// publish5 publishes at QoS 1 and classifies the answer.
func publish5(ctx context.Context, cl *paho5.Client, t string, payload []byte) (pubOutcome, byte) {
	pctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	resp, err := cl.Publish(pctx, &paho5.Publish{Topic: t, QoS: 1, Payload: payload})
	switch {
	case resp != nil && resp.ReasonCode >= 0x80:
		return pubRefused, resp.ReasonCode
	case err != nil || resp == nil:
		return pubLost, 0
	default:
		return pubAcked, resp.ReasonCode
	}
}

// deviceCounts are one device session's outcomes.
type deviceCounts struct {
	sent, acked, refused, lost uint64
	sessionsRefused            uint64 // CONNECT answered with a failure code
	capture                    []captured
}

// runHonest publishes until ctx ends, the connection breaks, or limit
// messages were sent (0: no limit): state and telemetry in turn, QoS 1,
// one in flight. Every message is captured before it is sent.
// tap, if set, sees each message once the broker acknowledged it; pace,
// if set, is waited on before each message.
func (d *faultDevice) runHonest(ctx context.Context, addr string, skip uint64, limit int, tap func(captured), pace <-chan time.Time) (deviceCounts, error) {
	var c deviceCounts
	d.skipAhead(skip)
	cl, conn, err := dialMQTT5(ctx, addr, d.id, d, "", nil)
	if err != nil {
		if errors.Is(err, errConnRefused) {
			c.sessionsRefused++
		}
		return c, err
	}
	defer conn.Close()
	for limit == 0 || int(c.sent) < limit {
		if pace != nil {
			select {
			case <-pace:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			cl.Disconnect(&paho5.Disconnect{})
			return c, nil
		}
		d.seq++
		state := d.seq%2 == 1
		var t string
		var payload []byte
		if state {
			t = topic.City{Zone: d.zone, Device: d.id, Class: topic.State}.String()
			payload = fmt.Appendf(nil, `{"on":true,"level":%d}`, harnessLevel(d.seq))
		} else {
			t = topic.City{Zone: d.zone, Device: d.id, Class: topic.Tele, Name: "power"}.String()
			// What a 100 W luminaire with a 2 W standby draws at the level
			// of the state just sent (the streetlight's default params).
			payload = fmt.Appendf(nil, `{"power_w":%d}`, 2+harnessLevel(d.seq-1))
		}
		msg, ctr, err := d.sign(t, payload, false)
		if err != nil {
			return c, err
		}
		c.capture = append(c.capture, captured{topic: t, payload: msg, ctr: ctr})
		c.sent++
		switch out, _ := publish5(ctx, cl, t, msg); out {
		case pubAcked:
			c.acked++
			c.capture[len(c.capture)-1].acked = true
			if tap != nil {
				tap(c.capture[len(c.capture)-1])
			}
			if state {
				d.mu.Lock()
				d.lastAckedState = max(d.lastAckedState, ctr)
				d.ackedStates = append(d.ackedStates, ctr)
				d.mu.Unlock()
			}
		case pubRefused:
			c.refused++
		case pubLost:
			c.lost++
			if ctx.Err() != nil {
				return c, nil
			}
			return c, errConnectionLost
		}
	}
	cl.Disconnect(&paho5.Disconnect{})
	return c, nil
}

// errConnectionLost: the session ended without a PUBACK (the broker died).
var errConnectionLost = errors.New("connection lost")

// errConnRefused: the broker answered CONNECT with a failure code (MQTT 5
// §3.2.2.2), e.g. a connect token it could not record on a full disk.
var errConnRefused = errors.New("connection refused by the broker")

// harnessLevel is the dim level of the state message with sequence number
// seq (odd): it alternates between 40 and 44, so every state message changes
// the twin, and a power reading judged against the state before the one just
// sent (lost in a kill) is still within the streetlight's tolerance.
func harnessLevel(seq int) int { return 40 + 4*((seq/2)%2) }
