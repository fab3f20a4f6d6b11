package runtime

import (
	"encoding/json"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/devices/twin"
	"github.com/signet-city/signet/firmware-sim/model"
	"github.com/signet-city/signet/signing"
)

// Quality of service per channel: commands and their acks, state and events
// must arrive (QoS 1; the counter makes a redelivery a harmless replay);
// telemetry is a stream where the next reading supersedes a lost one (QoS 0,
// as the models set it).
const (
	QoSCommand = 1
	QoSAck     = 1
)

// Ack is the payload of a device's signed answer to a command, on
// city/{zone}/{device}/ack: the command's name, the operator key's kid (hex)
// and the command's counter, by which the broker's twin correlates it with
// the command, and "done" or "refused" with the reason. It is the twin's
// type, so both ends read one shape.
type Ack = twin.Ack

// onConnect subscribes to the device's commands on every (re)connect: a
// clean session forgets subscriptions.
func (d *Device) onConnect(cl paho.Client) {
	if d.Commands == nil {
		return
	}
	filter := topic.City{Zone: d.Zone, Device: d.ID, Class: topic.Cmd, Name: "+"}.String()
	tok := cl.Subscribe(filter, QoSCommand, func(cl paho.Client, m paho.Message) { d.handleCommand(cl, m.Topic(), m.Payload()) })
	if d.OnCommandsReady != nil {
		go func() {
			<-tok.Done()
			if tok.Error() == nil {
				d.OnCommandsReady()
			}
		}()
	}
}

// handleCommand verifies a delivered command (SPEC §5) — whatever the broker
// did, the device trusts only its flashed authorities — acts on it, and
// answers with a signed ack either way.
func (d *Device) handleCommand(cl paho.Client, t string, msg []byte) {
	name := ""
	if c, err := topic.ParseCity(t); err == nil {
		name = c.Name
	}
	d.mu.Lock()
	cmd, err := d.Commands.Check(t, msg, time.Now(), d.reported)
	if err == nil {
		if m, ok := d.Model.(model.Commandable); ok {
			err = m.Command(cmd.Name, cmd.Args)
		} else {
			err = signing.Reject(signing.ReasonUnsafeCommand, "topic", "this device takes no commands")
		}
	}
	d.mu.Unlock()
	ack := Ack{Command: name, Status: "done"}
	if cmd != nil {
		ack.KID, ack.Counter = signing.FormatKeyID(cmd.KID), cmd.Counter
	} else if env, perr := signing.Parse(msg, 0); perr == nil {
		// A refusal names the kid and counter the message claimed, so that
		// the twin shows the command refused rather than pending until its
		// exp; it never makes a command the device did not act on look done.
		ack.KID, ack.Counter = signing.FormatKeyID(env.Header.KID), env.Header.Counter
	}
	if err != nil {
		ack.Status, ack.Reason = "refused", string(signing.ReasonOf(err))
		d.Stats.CmdRefused.Add(1)
	} else {
		d.Stats.CmdDone.Add(1)
	}
	if d.OnCommand != nil {
		d.OnCommand(t, err)
	}
	payload, _ := json.Marshal(ack)
	ackTopic := topic.City{Zone: d.Zone, Device: d.ID, Class: topic.Ack}.String()
	if signed, serr := d.Sign(ackTopic, payload); serr == nil {
		d.Stats.Sent.Add(1)
		tok := cl.Publish(ackTopic, QoSAck, false, signed)
		go func() { // paho retries QoS 1; the handler need not wait
			<-tok.Done()
			if tok.Error() == nil {
				d.Stats.Acked.Add(1)
			}
		}()
	}
}

// remember merges a published state patch into the device's own view of its
// reported state, which command safety checks are made against.
func (d *Device) remember(patch []byte) {
	var p map[string]any
	if json.Unmarshal(patch, &p) != nil {
		return
	}
	d.mu.Lock()
	d.reported, _ = twin.MergePatch(d.reported, p).(map[string]any)
	d.mu.Unlock()
}
