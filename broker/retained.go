package broker

import (
	"log/slog"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signet-city/signet/devices/topic"
)

// RetainedQuota bounds the retained messages clients store outside city/:
// per identity (count and bytes) and in total (bytes). mochi keeps every
// retained message, one per topic, for as long as the broker runs, so
// without a bound the lowest role could fill the heap. A message over quota
// is refused whole: MQTT 5 clients get PUBACK or PUBREC 0x97 Quota exceeded
// (MQTT 5 §3.4.2.1); MQTT 3.1.1 clients, which have no reason codes, a
// plain acknowledgement, and the message is dropped; at QoS 0 it is
// dropped. Each refusal is counted (signet_retained_refused_total). An
// empty retained message, which clears one (MQTT 5 §3.3.1.3), is always
// allowed. A retained will is held to the same quota (over it, the will is
// published but not retained). Messages under city/ are signed, rate limited and checked by the
// verify hook, which decides them; this hook leaves them alone.
//
// Add it after the verify hook: it must see a message only once it is
// going to be retained (the verify hook holds some back and hands them in
// again).
type RetainedQuota struct {
	mqtt.HookBase
	who     IdentityLookup
	log     *slog.Logger
	refused prometheus.Counter

	mu                             sync.Mutex
	perCount, perBytes, totalBytes int                      // under mu: a reload changes them (SetLimits)
	topics                         map[string]retainedEntry // topic -> who retained what is there
	usage                          map[string]retainedUsage // identity key -> what it holds
	total                          int                      // bytes of all entries
}

// retainedEntry is one retained message's owner and size.
type retainedEntry struct {
	owner string
	size  int
}

// retainedUsage is what one identity holds.
type retainedUsage struct{ count, bytes int }

// NewRetainedQuota returns the hook, with the bounds of limits (zero
// fields: the defaults); who names the sender of each message.
func NewRetainedQuota(who IdentityLookup, limits ClientsConfig, log *slog.Logger) *RetainedQuota {
	if log == nil {
		log = slog.Default()
	}
	limits = limits.resolved()
	return &RetainedQuota{
		who: who, perCount: limits.RetainedPerClient, perBytes: limits.RetainedBytesPerClient, totalBytes: limits.RetainedTotalBytes, log: log,
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "signet_retained_refused_total", Help: "Retained messages outside city/ refused over quota."}),
		topics:  map[string]retainedEntry{}, usage: map[string]retainedUsage{},
	}
}

// ID names the hook.
func (q *RetainedQuota) ID() string { return "signet-retained-quota" }

// Provides lists the events the hook handles.
func (q *RetainedQuota) Provides(b byte) bool {
	return b == mqtt.OnPublish || b == mqtt.OnWill || b == mqtt.OnRetainedExpired
}

// RegisterMetrics exports the refusals and the bytes held.
func (q *RetainedQuota) RegisterMetrics(reg prometheus.Registerer) {
	reg.MustRegister(q.refused, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "signet_retained_bytes", Help: "Bytes (topic and payload) of the retained messages clients hold outside city/.",
	}, func() float64 { q.mu.Lock(); defer q.mu.Unlock(); return float64(q.total) }))
}

// OnPublish admits or refuses a retained message (see RetainedQuota).
func (q *RetainedQuota) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if !pk.FixedHeader.Retain || q.admit(cl, pk.TopicName, pk.Payload) {
		return pk, nil
	}
	return pk, q.refusal(cl, pk)
}

// OnWill holds a will to the same quota: mochi retains a will without
// OnPublish. A will over quota is still published, just not retained
// (mochi cannot refuse a will).
func (q *RetainedQuota) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	if will.Retain && !q.admit(cl, will.TopicName, will.Payload) {
		will.Retain = false
	}
	return will, nil
}

// admit accounts a retained message of cl, or reports that it is over
// quota (and counts the refusal).
func (q *RetainedQuota) admit(cl *mqtt.Client, t string, payload []byte) bool {
	if strings.HasPrefix(t, topic.CityRoot+"/") {
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if cl.Net.Inline || len(payload) == 0 {
		// The broker's own, or a clear: whatever a client held there
		// goes.
		q.release(t)
		return true
	}
	owner := q.owner(cl)
	size := len(t) + len(payload)
	u, total := q.usage[owner], q.total
	if old, ok := q.topics[t]; ok {
		total -= old.size
		if old.owner == owner { // a replacement: the old one is freed
			u.count, u.bytes = u.count-1, u.bytes-old.size
		}
	}
	if u.count+1 > q.perCount || u.bytes+size > q.perBytes || total+size > q.totalBytes {
		q.refused.Inc()
		q.log.Debug("retained message over quota", "client", cl.ID, "owner", owner, "topic", t, "bytes", size)
		return false
	}
	q.release(t)
	q.topics[t] = retainedEntry{owner: owner, size: size}
	u = q.usage[owner]
	q.usage[owner] = retainedUsage{count: u.count + 1, bytes: u.bytes + size}
	q.total += size
	return true
}

// OnRetainedExpired frees an expired retained message (MQTT 5 §3.3.2.3.3).
func (q *RetainedQuota) OnRetainedExpired(filter string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.release(filter)
}

// owner is whom cl's retained messages count against: its identity (every
// anonymous client is its own; the total bounds them all).
func (q *RetainedQuota) owner(cl *mqtt.Client) string {
	if q.who != nil {
		if id, ok := q.who.Identity(cl); ok {
			return id.key()
		}
	}
	return "client:" + cl.ID
}

// release forgets the retained message on t, if a client's (q.mu held).
func (q *RetainedQuota) release(t string) {
	old, ok := q.topics[t]
	if !ok {
		return
	}
	delete(q.topics, t)
	q.total -= old.size
	u := q.usage[old.owner]
	if u.count--; u.count <= 0 {
		delete(q.usage, old.owner)
		return
	}
	u.bytes -= old.size
	q.usage[old.owner] = u
}

// refusal acknowledges a refused message as its protocol allows and drops
// it (packets.ErrRejectPacket: mochi then neither retains nor forwards it).
// mochi would forward a message whose hook returned a reason code to an
// MQTT 3.1.1 client, so the hook writes the acknowledgement itself.
func (q *RetainedQuota) refusal(cl *mqtt.Client, pk packets.Packet) error {
	if pk.FixedHeader.Qos == 0 {
		return packets.ErrRejectPacket
	}
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID}
	if pk.FixedHeader.Qos == 2 {
		ack.FixedHeader.Type = packets.Pubrec
	}
	if cl.Properties.ProtocolVersion == 5 {
		ack.ReasonCode = packets.ErrQuotaExceeded.Code
	}
	if err := cl.WritePacket(ack); err != nil {
		q.log.Debug("writing the quota refusal failed", "client", cl.ID, "err", err)
	}
	return packets.ErrRejectPacket
}
