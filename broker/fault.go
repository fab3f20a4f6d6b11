package broker

import (
	"encoding/json"
	"reflect"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices/kinds"
	"github.com/signet-city/signet/devices/twin"
	"github.com/signet-city/signet/signing"
)

// FaultEvent is the security event kind raised when a device's accepted,
// validly signed state shows a malfunction (a traffic signal's conflict
// monitor rules, devices/kinds mmu.go): not an attack, so the message was
// not refused, but operators must know at once.
const FaultEvent = "fault"

// raiseFault records a fault event when a committed state message put a
// new fault into the twin (before is the twin as the message was checked
// against, after the committed one).
func (h *VerifyHook) raiseFault(cl *mqtt.Client, pk packets.Packet, v *verdict, before, after *twin.Document) {
	if h.events == nil || after == nil {
		return
	}
	f, ok := after.Reported[kinds.FaultField].(map[string]any)
	if !ok || (before != nil && reflect.DeepEqual(before.Reported[kinds.FaultField], after.Reported[kinds.FaultField])) {
		return
	}
	reason, _ := f["reason"].(string)
	detail, _ := json.Marshal(f)
	ev := audit.Event{
		Time: h.now().UTC(), Kind: FaultEvent, Client: cl.ID, Remote: cl.Net.Remote,
		Device: v.device, Topic: pk.TopicName, Reason: reason, Counter: v.counter, Detail: string(detail),
	}
	if len(v.kid) > 0 {
		ev.KID = signing.FormatKeyID(v.kid)
	}
	h.events.Record(ev)
}
