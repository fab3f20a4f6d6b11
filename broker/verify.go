package broker

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/cmdcheck"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
	"github.com/signet-city/signet/signing"
)

// SignatureVerifier is the fast path (signing.Verifier).
type SignatureVerifier interface {
	Verify(ctx context.Context, key signing.PublicKey, message, signature []byte) (bool, error)
}

// IdentityLookup tells the verify path who a connected client is.
type IdentityLookup interface {
	Identity(cl *mqtt.Client) (Identity, bool)
}

// VerifyHook runs SPEC §4 on every PUBLISH under city/: a message that fails
// any step is never forwarded, never touches a twin, and yields exactly one
// security event. It provides OnPublish only; authentication, ACL and twin
// publication are other hooks.
type VerifyHook struct {
	mqtt.HookBase
	edge     *devices.Edge
	verifier SignatureVerifier
	who      IdentityLookup
	limits   *RateLimits
	events   EventSink
	metrics  *VerifyMetrics
	commands *CommandPolicy
	maxSize  *liveInt // envelope limit, max_message_bytes; a reload swaps it
	maxTopic *liveInt // max_topic_bytes; a reload swaps it
	log      *slog.Logger
	now      func() time.Time
	inject   func(*mqtt.Client, packets.Packet) error
	token    string // marks our own re-injections of checked messages
	turns    *pipelines
	workers  *workers
	inflight sync.WaitGroup
}

// VerifyConfig assembles a VerifyHook.
type VerifyConfig struct {
	Edge     *devices.Edge
	Verifier SignatureVerifier
	Identity IdentityLookup
	Limits   *RateLimits // nil: no rate limit
	Events   EventSink
	Metrics  *VerifyMetrics // nil: none
	// Commands checks signed commands (SPEC §5); nil refuses every command
	// as unauthorized_command.
	Commands *CommandPolicy
	MaxSize  int // envelope size limit; ≤ 0: signing.DefaultMaxSize
	// MaxTopicBytes bounds a topic under city/ (≤ 0: DefaultMaxTopicBytes).
	MaxTopicBytes int
	// Inject hands a checked message back to mochi, which then delivers
	// and acknowledges it as if it had just arrived (mqtt.Server's
	// InjectPacket). Required.
	Inject func(*mqtt.Client, packets.Packet) error
	Logger *slog.Logger
}

// maxTurnsPerClient is how many messages of one client may be in
// verification and commit at once; its next one waits.
const maxTurnsPerClient = 64

// NewVerifyHook returns the hook.
func NewVerifyHook(c VerifyConfig) *VerifyHook {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxTopicBytes <= 0 {
		c.MaxTopicBytes = DefaultMaxTopicBytes
	}
	return &VerifyHook{maxTopic: newLiveInt(c.MaxTopicBytes),
		edge: c.Edge, verifier: c.Verifier, who: c.Identity, limits: c.Limits,
		events: c.Events, metrics: c.Metrics, commands: c.Commands, maxSize: newLiveInt(c.MaxSize), log: c.Logger, now: time.Now,
		inject: c.Inject, token: rand.Text(), turns: newPipelines(maxTurnsPerClient), workers: newWorkers(workerIdle),
	}
}

// ID names the hook.
func (h *VerifyHook) ID() string { return "signet-verify" }

// Provides reports the one event this hook handles.
func (h *VerifyHook) Provides(b byte) bool { return b == mqtt.OnPublish }

// OnPublish verifies messages under city/ and lets everything else through
// (authentication and ACL govern it).
//
// A device's own connection carries one message at a time: its messages
// are checked here, on the client's reader, as mochi runs hooks. A
// gateway's carries many devices' messages at once, and mochi reads one
// client's packets one after another, so waiting here would hold a gateway
// to one message per durable commit. A gateway's message under city/
// instead takes a turn in its client's pipeline (pipeline.go) and is
// checked on another goroutine (workers.go), while mochi is told to drop it
// for now. Once it has passed, in its turn, it is handed back to mochi
// (deliver), and this hook, seeing its own mark on it, lets it through to
// be delivered and acknowledged; a refused one is acknowledged by refusal
// and never handed back. Any other message of a client with messages in
// turn waits its turn too, so that acknowledgements keep their order.
func (h *VerifyHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	if pk.Connect.ClientIdentifier == h.token {
		// Handed back by deliver: checked and committed. (mochi never
		// sets Connect on a PUBLISH; the token is random per hook.)
		pk.Connect = packets.ConnectParams{}
		return pk, nil
	}
	city := strings.HasPrefix(pk.TopicName, topic.CityRoot+"/")
	from := h.senderOf(cl)
	if from.known && from.id.Role == RoleGateway {
		// Only a gateway's connection has turns: a message of another
		// topic waits only if some are in flight.
		if t := h.turns.join(cl, !city); t != nil {
			h.inflight.Add(1)
			h.startTurn(cl, from, pk, t, city)
			return pk, packets.ErrRejectPacket
		}
	}
	if !city {
		return pk, nil // not ours, and nothing of this client's is waiting
	}
	h.inflight.Add(1)
	defer h.inflight.Done()
	start := h.now()
	v := verdict{topic: pk.TopicName, client: cl.ID}
	err := h.check(context.Background(), cl, from, pk, &v, nil)
	h.conclude(cl, pk, &v, err, start)
	if err != nil {
		return pk, h.refusal(cl, pk, v.reason)
	}
	return pk, nil
}

// sender is who sent a message, as the verify path needs it: the client's
// authenticated identity, looked up once per message (the lookup takes the
// access hook's lock).
type sender struct {
	id    Identity
	known bool // an identity was found (never, without an IdentityLookup)
}

// senderOf looks cl up.
func (h *VerifyHook) senderOf(cl *mqtt.Client) sender {
	if h.who == nil {
		return sender{}
	}
	id, ok := h.who.Identity(cl)
	return sender{id: id, known: ok}
}

// startTurn hands a message to a worker for its turn. (A function of its
// own so that only a gateway's packet escapes to the heap for the worker,
// not every message's: OnPublish's copy stays on its stack.)
func (h *VerifyHook) startTurn(cl *mqtt.Client, from sender, pk packets.Packet, t *turn, city bool) {
	h.workers.do(func() { h.process(cl, from, pk, t, city) })
}

// process checks one message in its turn (a message outside city/ only
// keeps its place), then delivers or refuses it.
func (h *VerifyHook) process(cl *mqtt.Client, from sender, pk packets.Packet, t *turn, city bool) {
	defer h.inflight.Done()
	defer h.turns.leave(cl)
	var err error
	if city {
		start := h.now()
		v := verdict{topic: pk.TopicName, client: cl.ID}
		err = h.check(context.Background(), cl, from, pk, &v, t)
		t.afterPrevDelivered()
		h.conclude(cl, pk, &v, err, start)
		if err != nil {
			_ = h.refusal(cl, pk, v.reason)
		}
	} else {
		t.markStaged()
		t.afterPrevDelivered()
	}
	if err == nil {
		h.deliver(cl, pk)
	}
	close(t.delivered)
}

// conclude records a verdict: the metrics, and for a refusal its security
// event and counter.
func (h *VerifyHook) conclude(cl *mqtt.Client, pk packets.Packet, v *verdict, err error, start time.Time) {
	if err == nil {
		h.metrics.observe("", h.now().Sub(start))
		return
	}
	h.reject(cl, pk, v, err)
	h.metrics.observe(v.reason, h.now().Sub(start))
}

// deliver hands a checked message back to mochi, marked so that OnPublish
// lets it through: mochi forwards it to subscribers and acknowledges it.
// Its topic alias, already resolved, is dropped: the client may have
// mapped the alias to another topic since.
func (h *VerifyHook) deliver(cl *mqtt.Client, pk packets.Packet) {
	pk.Connect.ClientIdentifier = h.token
	pk.Properties.TopicAliasFlag, pk.Properties.TopicAlias = false, 0
	if err := h.inject(cl, pk); err != nil {
		h.log.Debug("delivering a checked message failed", "client", cl.ID, "topic", pk.TopicName, "err", err)
	}
}

// verdict collects what is known of a message while it is checked, for the
// security event.
type verdict struct {
	topic, client, device string
	kid                   []byte
	counter               uint64
	reason                signing.Reason
}

// check runs SPEC §4 steps 1–11: screen (1–9) and then, in the client's
// order, commit (10–11). In a turn (order not nil), its commit is queued
// after that of the turn before; order.staged is closed once it is queued
// or it is known that there will be none, and never before the turn
// before's. A device's message, checked on its reader, waits for at most
// its signature's batch and, for a state change or a command, its durable
// commit: telemetry and events whose lease is durable already wait for
// nothing more than the signature.
func (h *VerifyHook) check(ctx context.Context, cl *mqtt.Client, from sender, pk packets.Packet, v *verdict, order *turn) error {
	s, err := h.screen(ctx, cl, from, pk, v)
	if err != nil {
		order.markStaged()
		return err
	}
	order.afterPrevStaged()
	return h.commit(ctx, cl, pk, v, s, order)
}

// screened is a message that passed SPEC §4 steps 1–9, with what its
// commit needs.
type screened struct {
	t   topic.City
	dev *twin.Document // the twin as screen saw it
	env *signing.Envelope
	cmd *cmdcheck.Command // a command's checked request; nil otherwise
}

// screen runs SPEC §4 steps 1–9: the checks that change no window and no
// twin (the rate limit only charges its bucket), so that messages of one
// client may be screened at once and in any order; commit then takes them
// in order.
func (h *VerifyHook) screen(ctx context.Context, cl *mqtt.Client, from sender, pk packets.Packet, v *verdict) (screened, error) {
	// The cheap bounds first (SPEC §4 "cheapest first"): the client's rate
	// is charged for every message under city/, well-formed or not, so a
	// flood of bad topics is refused as rate_limited like any other flood
	// rather than costing a bad_topic event each; and a topic past the
	// length bound is refused before it is split, copied or quoted in an
	// error.
	// 2. Rate limit, per identity (all the client's connections).
	if !h.limits.Allow(from.rateKey(cl)) {
		v.device = h.deviceOf(pk.TopicName)
		return screened{}, signing.Reject(signing.ReasonRateLimited, "client", "client %q is over its message rate", cl.ID)
	}
	// 1. Topic length, shape and zone.
	if maxTopic := h.maxTopic.get(); len(pk.TopicName) > maxTopic {
		return screened{}, signing.Reject(signing.ReasonBadTopic, "topic", "%d bytes long, over the limit of %d", len(pk.TopicName), maxTopic)
	}
	t, err := topic.ParseCity(pk.TopicName)
	if err != nil {
		return screened{}, &signing.Rejection{Reason: signing.ReasonBadTopic, Field: "topic", Err: err}
	}
	v.device = t.Device
	dev, ok := h.edge.Twin(t.Device)
	if !ok {
		return screened{}, signing.Reject(signing.ReasonZoneMismatch, "topic", "no device %q is registered", t.Device)
	}
	if dev.Zone != t.Zone {
		return screened{}, signing.Reject(signing.ReasonZoneMismatch, "topic", "device %q is registered in zone %q, not %q", t.Device, dev.Zone, t.Zone)
	}
	// 3. Size limit and strict parse, and the header labels the topic's
	// class allows.
	// The envelope points into the packet, which mochi never reuses and
	// nothing changes while the message is checked and delivered.
	env, err := signing.ParseShared(pk.Payload, h.maxSize.get())
	if err != nil {
		return screened{}, err
	}
	v.kid, v.counter = env.Header.KID, env.Header.Counter
	if err := headerFitsClass(t.Class, env.Header); err != nil {
		return screened{}, err
	}
	// 4. Key id, revocation and expiry.
	key, ok := h.edge.KeyByKID(env.Header.KID)
	if !ok {
		return screened{}, signing.Reject(signing.ReasonUnknownKID, "protected.kid", "kid %s is not registered", signing.FormatKeyID(env.Header.KID))
	}
	if !key.Usable(h.now()) {
		return screened{}, signing.Reject(signing.ReasonRevoked, "protected.kid", "key %s is revoked or past its end of validity", signing.FormatKeyID(env.Header.KID))
	}
	// 5. The key belongs to the topic's device (a command: to an operator)
	// and to the authenticated client.
	if t.Class == topic.Cmd {
		if err := h.mayCommand(cl, from, key); err != nil {
			return screened{}, err
		}
	} else {
		if key.Role != devices.RoleDevice || key.Owner != t.Device {
			return screened{}, signing.Reject(signing.ReasonImpersonation, "protected.kid", "key %s belongs to %s %q, not device %q", signing.FormatKeyID(env.Header.KID), key.Role, key.Owner, t.Device)
		}
		if err := h.mayPublishFor(cl, from, t); err != nil {
			return screened{}, err
		}
	}
	// 6. Algorithm pin.
	if env.Header.Alg != key.Alg {
		return screened{}, signing.Reject(signing.ReasonAlgMismatch, "protected.alg", "message says %s, key is registered for %s", env.Header.Alg, key.Alg)
	}
	// 7. Replay pre-check (read-only).
	if err := h.edge.PreCheck(env.Header.KID, env.Header.Counter); err != nil {
		return screened{}, err
	}
	// 8. Signature, on the fast path shared by all connections.
	asked := h.now()
	tbs := tbsPool.Get().(*[]byte)
	*tbs = signing.AppendToBeSigned((*tbs)[:0], env.Protected, pk.TopicName, env.Payload)
	ok, err = h.verifier.Verify(ctx, key.Public, *tbs, env.Signature)
	tbsPool.Put(tbs) // the verifier keeps no reference once Verify returns
	h.metrics.observeSignature(h.now().Sub(asked))
	if err != nil {
		return screened{}, err // overload or shutdown: refused, never accepted unverified
	}
	if !ok {
		return screened{}, signing.Reject(signing.ReasonBadSignature, "signature", "")
	}
	// 9. Commands: endorsement, scope, freshness, domain safety. A
	// device message's own exp and iat, where it carries them, are
	// honoured with the same clock skew.
	var cmd *cmdcheck.Command
	if t.Class == topic.Cmd {
		if h.commands == nil {
			return screened{}, signing.Reject(signing.ReasonUnauthorizedCommand, "topic", "this broker has no command policy")
		}
		if cmd, err = h.commands.Check(ctx, env, key, t, dev); err != nil {
			return screened{}, err
		}
		if err := commandFields(cmd.Request.Desired, dev.Kind); err != nil {
			return screened{}, err
		}
	} else if err := deviceFresh(env.Header, h.now()); err != nil {
		return screened{}, err
	}
	return screened{t: t, dev: dev, env: env, cmd: cmd}, nil
}

// commit runs SPEC §4 steps 10–11 on a screened message: domain
// validation against the twin as the client's earlier messages left it,
// the window test-and-set inside a durable lease, and the durable write.
// Its caller owns the order: it calls commit for a client's messages one
// at a time, in the client's order (order.markStaged lets the next turn's
// commit start once this one is queued for the store).
func (h *VerifyHook) commit(ctx context.Context, cl *mqtt.Client, pk packets.Packet, v *verdict, s screened, order *turn) error {
	staged := false
	defer func() {
		if !staged {
			order.markStaged()
		}
	}()
	t, dev, env, cmd := s.t, s.dev, s.env, s.cmd
	// The twin as the client's earlier messages left it: a traffic
	// signal's SPaT must agree with its reported state, and a state that
	// brings a new fault raises an event.
	if cur, ok := h.edge.Twin(t.Device); ok {
		dev = cur
	}
	if err := checkTelemetry(t, dev, h.edge.Params(t.Device), env.Payload); err != nil {
		return err
	}
	commitStart := h.now()
	defer func() { h.metrics.observeCommit(h.now().Sub(commitStart)) }()
	u := devices.Update{
		KID: env.Header.KID, Counter: env.Header.Counter, Kind: updateKind(t.Class),
		Device: t.Device, Patch: patchOf(t.Class, env.Payload), TS: h.now(),
	}
	if cmd != nil {
		u.Command = commandChange(cmd) // the catalogue's patch, never the payload
	}
	p, err := h.edge.Stage(u)
	staged = true
	order.markStaged()
	if err != nil {
		return err
	}
	after, err := p.Wait(ctx)
	if err == nil && t.Class == topic.State {
		h.raiseFault(cl, pk, v, dev, after)
	}
	return err
}

// tbsPool holds buffers for the bytes a message's signature covers
// (RFC 9052 §4.4 Sig_structure), one allocation of about the message's
// size saved per message.
var tbsPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// deviceOf is the registered device a topic names, for counting a
// rate-limited message in its twin as before the rate came first; "" for a
// topic too long to look at, mis-shaped, or naming no device of its zone.
func (h *VerifyHook) deviceOf(name string) string {
	if len(name) > h.maxTopic.get() {
		return ""
	}
	t, err := topic.ParseCity(name)
	if err != nil {
		return ""
	}
	if dev, ok := h.edge.Twin(t.Device); ok && dev.Zone == t.Zone {
		return t.Device
	}
	return ""
}

// mayCommand is SPEC §4 step 5 for commands: only an operator key signs
// them, and the client sending it is that operator (or an admin console
// relaying it; the signature and endorsement are the operator's either way).
func (h *VerifyHook) mayCommand(cl *mqtt.Client, from sender, key *devices.KeyRecord) error {
	if key.Role != devices.RoleOperator {
		return signing.Reject(signing.ReasonUnauthorizedCommand, "protected.kid", "key %s belongs to %s %q: only operators sign commands", signing.FormatKeyID(key.KID), key.Role, key.Owner)
	}
	if h.who == nil {
		return nil
	}
	id, ok := from.id, from.known
	if ok && (id.Role == RoleAdmin || (id.Role == RoleOperator && id.Name == key.Owner)) {
		return nil
	}
	return signing.Reject(signing.ReasonImpersonation, "client", "client %q (%s %q) may not send commands signed by operator %q", cl.ID, id.Role, id.Name, key.Owner)
}

// Drain waits until every message being checked, on a client's reader or
// in a turn, has been delivered or refused, its verification and commit
// included (graceful shutdown, once mochi has stopped reading).
func (h *VerifyHook) Drain() { h.inflight.Wait() }

// updateKind maps a device topic class (SPEC §1) to what it does to the twin.
func updateKind(c topic.Class) devices.UpdateKind {
	switch c {
	case topic.State:
		return devices.State
	case topic.Tele:
		return devices.Telemetry
	case topic.Cmd:
		return devices.Desired
	case topic.Ack:
		return devices.Ack
	default:
		return devices.Event
	}
}

// patchOf is what of a message's payload reaches the twin: a state
// message's merge patch (into reported) and a device's ack (settling its
// command). A command's payload never does: its desired patch is the one
// the command catalogue computes from its checked arguments.
func patchOf(c topic.Class, payload []byte) []byte {
	if c == topic.State || c == topic.Ack {
		return payload
	}
	return nil
}

// mayPublishFor enforces the second half of SPEC §4 step 5: a device client
// publishes only as itself; a gateway only for devices of its zones.
func (h *VerifyHook) mayPublishFor(cl *mqtt.Client, from sender, t topic.City) error {
	if h.who == nil {
		return nil
	}
	id, ok := from.id, from.known
	if !ok {
		return signing.Reject(signing.ReasonImpersonation, "client", "client %q has no authenticated identity", cl.ID)
	}
	switch {
	case id.Role == RoleDevice && id.Device == t.Device:
		return nil
	case id.Role == RoleGateway && id.HasZone(t.Zone):
		return nil
	}
	return signing.Reject(signing.ReasonImpersonation, "client", "client %q (%s %q) may not publish for device %q", cl.ID, id.Role, id.Name, t.Device)
}

// reject records the security event and the twin's security counter.
func (h *VerifyHook) reject(cl *mqtt.Client, pk packets.Packet, v *verdict, err error) {
	v.reason = signing.ReasonOf(err)
	var rej *signing.Rejection
	if !errors.As(err, &rej) {
		h.log.Warn("verification failed without a reason", "err", err, "client", cl.ID)
	}
	if v.device != "" && v.reason != signing.ReasonBadTopic && v.reason != signing.ReasonZoneMismatch {
		h.edge.RecordRejection(v.device, v.reason)
	}
	if h.events != nil {
		ev := audit.Event{
			Time: h.now().UTC(), Kind: "rejected", Client: cl.ID, Remote: cl.Net.Remote,
			Device: v.device, Topic: pk.TopicName, Reason: string(v.reason), Counter: v.counter, Detail: err.Error(),
		}
		if len(v.kid) > 0 {
			ev.KID = signing.FormatKeyID(v.kid)
		}
		if u := cl.Properties.Username; len(u) > 0 && !bytes.HasPrefix(u, []byte{0xd2}) {
			ev.User = string(u)
		}
		recordRefusal(h.events, ev, err) // twin_rejected.go
	}
}

// refusal tells mochi how to refuse the message (see its processPublish):
// packets.ErrRejectPacket drops it with no acknowledgement. For QoS 1 and 2 we
// write the acknowledgement ourselves first: MQTT 5 clients get reason 0x99
// (payload format invalid) for undecodable messages and 0x87 (not authorized)
// for the rest (MQTT 5 §3.4.2.1, §3.5.2.1); MQTT 3.1.1 has no reason codes, so
// its clients get a plain PUBACK/PUBREC as from an ACL-denied publish, and the
// message is dropped (so a client does not resend it forever).
func (h *VerifyHook) refusal(cl *mqtt.Client, pk packets.Packet, reason signing.Reason) error {
	if pk.FixedHeader.Qos == 0 {
		return packets.ErrRejectPacket
	}
	ack := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Puback},
		PacketID:    pk.PacketID,
	}
	if pk.FixedHeader.Qos == 2 {
		ack.FixedHeader.Type = packets.Pubrec
	}
	if cl.Properties.ProtocolVersion == 5 {
		ack.ReasonCode = packets.ErrNotAuthorized.Code
		if reason == signing.ReasonMalformed || reason == signing.ReasonBadTopic {
			ack.ReasonCode = packets.ErrPayloadFormatInvalid.Code
		}
		ack.Properties.ReasonString = refusalReasonString(reason) // twin_rejected.go
	}
	if err := cl.WritePacket(ack); err != nil {
		h.log.Debug("writing refusal ack failed", "client", cl.ID, "err", err)
	}
	return packets.ErrRejectPacket
}
