package attack

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/eclipse/paho.golang/packets"
)

// The MQTT probes: packets and sessions that no per-message check sees.
var (
	probeEmptyTopicAlias = Probe{
		Name: "empty-topic-alias",
		Doc:  "an MQTT 5 PUBLISH with an empty topic and a topic alias never set, retained (MQTT 5 §3.3.2.3.4)",
		Run:  runEmptyTopicAlias,
	}
	probeOversizedConnect = Probe{
		Name: "oversized-connect",
		Doc:  "8 CONNECTs at once whose fixed headers declare 256 MiB, before any login",
		Run:  runOversizedConnect,
	}
	probeSlowConnect = Probe{
		Name: "slow-connect",
		Doc:  "300 TCP connections that never send CONNECT",
		Run:  runSlowConnect,
	}
	probeClientIDSquat = Probe{
		Name: "client-id-squat",
		Doc:  "another device's client id, taken with the compromised device's login and anonymously",
		Run:  runClientIDSquat,
	}
	probeSharedGroup = Probe{
		Name: "shared-group",
		Doc:  "joining a shared subscription group ($share/...) on a zone's state to swallow its messages",
		Run:  runSharedGroup,
	}
	probeTwinInflation = Probe{
		Name: "twin-inflation",
		Doc:  "validly signed state patches that delete a 60 KB field the device never had",
		Run:  runTwinInflation,
	}
	probeEventFlood = Probe{
		Name: "event-flood",
		Doc:  "200 failed CONNECTs with 60 KB client ids, each a security event, then an honest login",
		Run:  runEventFlood,
	}
)

// runEmptyTopicAlias publishes on an alias the broker was never told about.
// MQTT 5 §3.3.2.3.4 makes that a protocol error: the broker must close the
// connection (DISCONNECT 0x94 or 0x82) or refuse the PUBLISH, and never
// store a retained message with an empty topic.
func runEmptyTopicAlias(ctx context.Context, t Target) (Outcome, error) {
	if t.Device == nil {
		return Outcome{}, fmt.Errorf("%w: a compromised device", ErrNoTarget)
	}
	c, err := dialRaw(ctx, t.MQTT)
	if err != nil {
		return Outcome{}, err
	}
	defer c.Close()
	wctx, cancel := waitCtx(ctx, t.Patience)
	defer cancel()
	if code, err := c.connect(wctx, t.Device, t.Device.ID+"-alias"); err != nil || code >= 0x80 {
		return Outcome{}, fmt.Errorf("the compromised device could not log in (CONNACK %s, %v)", CodeName(code), err)
	}
	cp := packets.NewControlPacket(packets.PUBLISH)
	pub := cp.Content.(*packets.Publish)
	alias := uint16(9)
	pub.QoS, pub.Retain, pub.PacketID, pub.Payload = 1, true, 1, []byte("unsigned")
	pub.Properties.TopicAlias = &alias
	if _, err := cp.WriteTo(c); err != nil {
		return Outcome{}, err
	}
	p, err := c.next(wctx)
	switch {
	case err != nil:
		return Outcome{Refused: true, Sent: 1, Reason: "connection closed", Detail: "the broker closed the connection on the unknown alias"}, nil
	case p.Type == packets.DISCONNECT:
		code := p.Content.(*packets.Disconnect).ReasonCode
		return Outcome{Refused: true, Sent: 1, Reason: "DISCONNECT " + CodeName(code), Detail: "the broker ended the session on the unknown alias"}, nil
	case p.Type == packets.PUBACK:
		code := p.Content.(*packets.Puback).ReasonCode
		return Outcome{Refused: Refused(code), Sent: 1, Reason: "PUBACK " + CodeName(code), Detail: "a retained PUBLISH with an empty topic and an unknown alias"}, nil
	}
	return Outcome{Sent: 1, Reason: p.PacketType(), Detail: "the broker answered with neither a refusal nor a PUBACK"}, nil
}

// runOversizedConnect opens oversizedConns connections at once, each
// declaring the largest remaining length MQTT allows (268,435,455 bytes,
// MQTT 5 §1.5.5) for a CONNECT and sending a little of it: a broker with a
// maximum packet size closes each without reading on (or allocating for it).
func runOversizedConnect(ctx context.Context, t Target) (Outcome, error) {
	head := append([]byte{packets.CONNECT << 4, 0xff, 0xff, 0xff, 0x7f}, bytes.Repeat([]byte{0}, 1024)...)
	return holdConnections(ctx, t, oversizedConns, head, "CONNECTs declaring 256 MiB")
}

// runSlowConnect opens slowConns connections and sends nothing on them: the
// broker must close each once its connect deadline passes (t.Patience
// should exceed that deadline).
func runSlowConnect(ctx context.Context, t Target) (Outcome, error) {
	return holdConnections(ctx, t, slowConns, nil, "connections that never send CONNECT")
}

// How many connections the connection probes open: the sizes at which each
// exhausted an unbounded broker.
const (
	oversizedConns = 8
	slowConns      = 300
)

// holdConnections opens n connections, writes first on each, and waits
// (up to t.Patience) for the broker to close all of them.
func holdConnections(ctx context.Context, t Target, n int, first []byte, what string) (Outcome, error) {
	wctx, cancel := waitCtx(ctx, t.Patience)
	defer cancel()
	closed := make(chan bool, n)
	for i := range n {
		c, err := dialRaw(wctx, t.MQTT)
		if err != nil {
			if i == 0 {
				return Outcome{}, err
			}
			closed <- true // refused at accept: the connection cap at work
			continue
		}
		go func() {
			defer c.Close()
			if len(first) > 0 {
				if _, err := c.Write(first); err != nil {
					closed <- true
					return
				}
			}
			_, ok := c.closedByBroker(wctx)
			closed <- ok
		}()
	}
	shut := 0
	for range n {
		if <-closed {
			shut++
		}
	}
	o := Outcome{Refused: shut == n, Sent: n, Reason: fmt.Sprintf("%d of %d closed", shut, n)}
	if o.Refused {
		o.Detail = fmt.Sprintf("the broker closed all %d %s", n, what)
	} else {
		o.Detail = fmt.Sprintf("%d %s were still open when the probe gave up", n-shut, what)
	}
	return o, nil
}

// runClientIDSquat takes another device's client id, first with the
// compromised device's own valid login, then anonymously: a registered
// device's client id must be that device's alone.
func runClientIDSquat(ctx context.Context, t Target) (Outcome, error) {
	if t.Device == nil || t.Other == nil {
		return Outcome{}, fmt.Errorf("%w: a compromised device and another device", ErrNoTarget)
	}
	wctx, cancel := waitCtx(ctx, t.Patience)
	defer cancel()
	var codes []string
	refused := true
	for _, anonymous := range []bool{false, true} {
		c, err := dialRaw(wctx, t.MQTT)
		if err != nil {
			return Outcome{}, err
		}
		var code byte
		if anonymous {
			code, err = c.connectAnonymous(wctx, t.Other.ID)
		} else {
			code, err = c.connect(wctx, t.Device, t.Other.ID)
		}
		c.Close()
		switch {
		case err != nil:
			codes = append(codes, "closed")
		case code < 0x80:
			refused = false
			codes = append(codes, "CONNACK "+CodeName(code))
		default:
			codes = append(codes, "CONNACK "+CodeName(code))
		}
	}
	return Outcome{Refused: refused, Sent: 2, Reason: strings.Join(codes, ", "),
		Detail: fmt.Sprintf("client id %q as device %s, then anonymously", t.Other.ID, t.Device.ID)}, nil
}

// connectAnonymous sends an MQTT 5 CONNECT with no user name or password.
func (c *rawConn) connectAnonymous(ctx context.Context, clientID string) (byte, error) {
	cp := packets.NewControlPacket(packets.CONNECT)
	cn := cp.Content.(*packets.Connect)
	cn.ClientID, cn.CleanStart, cn.KeepAlive = clientID, true, 30
	if _, err := cp.WriteTo(c); err != nil {
		return 0, err
	}
	p, err := c.next(ctx)
	if err != nil {
		return 0, err
	}
	if ack, ok := p.Content.(*packets.Connack); ok {
		return ack.ReasonCode, nil
	}
	return 0, fmt.Errorf("got %s instead of CONNACK", p.PacketType())
}

// runSharedGroup joins a shared group on the state of the device's whole
// zone, which a device may never read: the broker must refuse the filter
// (SUBACK 0x87) rather than let the member swallow other members' messages.
func runSharedGroup(ctx context.Context, t Target) (Outcome, error) {
	if t.Device == nil {
		return Outcome{}, fmt.Errorf("%w: a compromised device", ErrNoTarget)
	}
	wctx, cancel := waitCtx(ctx, t.Patience)
	defer cancel()
	conn, err := Dial(wctx, t.MQTT, t.Device, t.Device.ID+"-share")
	if err != nil {
		return Outcome{}, err
	}
	defer conn.Close()
	filter := "$share/signet/city/" + t.Device.Zone + "/+/state"
	code, err := conn.Subscribe(wctx, filter)
	if err != nil {
		return Outcome{}, err
	}
	return Outcome{Refused: Refused(code), Sent: 1, Reason: "SUBACK " + CodeName(code), Detail: filter}, nil
}

// runTwinInflation sends three validly signed state patches, each deleting
// a 60 KB field: a twin holds only its kind's fields, so each is refused.
func runTwinInflation(ctx context.Context, t Target) (Outcome, error) {
	if t.Device == nil {
		return Outcome{}, fmt.Errorf("%w: a compromised device", ErrNoTarget)
	}
	wctx, cancel := waitCtx(ctx, t.Patience)
	defer cancel()
	conn, err := Dial(wctx, t.MQTT, t.Device, t.Device.ID+"-inflate")
	if err != nil {
		return Outcome{}, err
	}
	defer conn.Close()
	tp := stateTopic(t.Device.Zone, t.Device.ID)
	out := Outcome{Refused: true}
	for i := range 3 {
		field := fmt.Sprintf("%c%s", 'a'+i, strings.Repeat("x", 60_000))
		msg, err := t.Device.Sign(tp, []byte(`{"`+field+`":null}`))
		if err != nil {
			return Outcome{}, err
		}
		code, err := conn.Publish(wctx, tp, msg)
		if err != nil {
			return Outcome{}, err
		}
		out.Sent++
		out.Reason = "PUBACK " + CodeName(code)
		out.Refused = out.Refused && Refused(code)
	}
	out.Detail = "signed patches deleting 60 KB fields"
	return out, nil
}

// runEventFlood sends 200 CONNECTs with 60 KB client ids and a wrong
// password, 16 at a time, each of which the broker must refuse, and then
// logs in as the compromised device: refusals (and the security events
// they raise) must not stop an honest login.
func runEventFlood(ctx context.Context, t Target) (Outcome, error) {
	if t.Device == nil {
		return Outcome{}, fmt.Errorf("%w: a compromised device", ErrNoTarget)
	}
	wctx, cancel := waitCtx(ctx, t.Patience)
	defer cancel()
	const total, parallel = 200, 16
	id := strings.Repeat("f", 60_000)
	results := make(chan string, total)
	sem := make(chan struct{}, parallel)
	for range total {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			results <- floodOnce(wctx, t.MQTT, t.Device.ID, id)
		}()
	}
	counts := map[string]int{}
	accepted := 0
	for range total {
		r := <-results
		if r == "accepted" {
			accepted++
		}
		counts[r]++
	}
	conn, err := Dial(wctx, t.MQTT, t.Device, t.Device.ID+"-after-flood")
	if err != nil {
		return Outcome{Sent: total, Reason: summarize(counts), Detail: "an honest login failed after the flood: " + err.Error()}, nil
	}
	conn.Close()
	return Outcome{Refused: accepted == 0, Sent: total, Reason: summarize(counts), Detail: "an honest login then succeeded"}, nil
}

// floodOnce is one hostile CONNECT of the event flood.
func floodOnce(ctx context.Context, broker, user, clientID string) string {
	c, err := dialRaw(ctx, broker)
	if err != nil {
		return "dial failed"
	}
	defer c.Close()
	cp := packets.NewControlPacket(packets.CONNECT)
	cn := cp.Content.(*packets.Connect)
	cn.ClientID, cn.CleanStart, cn.KeepAlive = clientID, true, 30
	cn.UsernameFlag, cn.Username, cn.PasswordFlag, cn.Password = true, user, true, []byte("wrong")
	if _, err := cp.WriteTo(c); err != nil {
		return "closed"
	}
	p, err := c.next(ctx)
	if err != nil {
		return "closed"
	}
	if ack, ok := p.Content.(*packets.Connack); ok {
		if ack.ReasonCode < 0x80 {
			return "accepted"
		}
		return "CONNACK " + CodeName(ack.ReasonCode)
	}
	return p.PacketType()
}

// summarize is "N× what" for each answer, most frequent first.
func summarize(counts map[string]int) string {
	keys := slices.Collect(maps.Keys(counts))
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(counts[b], counts[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d× %s", counts[k], k)
	}
	return strings.Join(parts, ", ")
}
