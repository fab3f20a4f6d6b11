package twin

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// A command's life in the twin: accepted by the broker, it sets desired (and
// so delta) and is "pending" under meta["cmd/<name>"]; the device's signed
// ack, correlated by the operator's kid and the command's counter, makes it
// "done" or "refused"; a command that reaches its exp unanswered is
// "expired"; cancel makes a pending one "cancelled". Every status but
// pending withdraws the desired fields the command still owns, so a delta
// never outlives the command that caused it.

// Command statuses in meta.
const (
	StatusPending   = "pending"
	StatusDone      = "done"
	StatusRefused   = "refused"
	StatusExpired   = "expired"
	StatusCancelled = "cancelled"
)

// commandMetaPrefix starts the meta key of a command's life. Twin fields
// are plain names, so "cmd/" can never collide with one.
const commandMetaPrefix = "cmd/"

// CommandMetaKey is the meta key under which the latest command name lives.
func CommandMetaKey(name string) string { return commandMetaPrefix + name }

// CommandLife is the part of a meta entry that follows a command.
type CommandLife struct {
	Command string `json:"cmd,omitempty"`    // the command's name
	Status  string `json:"status,omitempty"` // pending, done, refused, expired, cancelled
	Reason  string `json:"reason,omitempty"` // the device's reason when refused
	Exp     int64  `json:"exp,omitempty"`    // the command's exp, seconds since the epoch
	// Fields are the desired fields it still owns, comma-separated (a
	// string keeps FieldMeta comparable).
	Fields string     `json:"fields,omitempty"`
	AckTS  *time.Time `json:"ack_ts,omitempty"` // when the device's ack was accepted
}

// CommandChange is what an accepted command does to the twin.
type CommandChange struct {
	Name    string
	Desired map[string]any // merge patch of desired, computed by devices/catalog
	Expires time.Time
	Cancels string // for cancel: the command whose pending fields it withdraws
}

// Ack is a device's answer to a command, the payload of city/{zone}/
// {device}/ack.
type Ack struct {
	Command string `json:"cmd"`
	KID     string `json:"kid,omitempty"`
	Counter uint64 `json:"ctr,omitempty"`
	Status  string `json:"status"` // done or refused
	Reason  string `json:"reason,omitempty"`
}

// ApplyCommand records an accepted command (m names its operator key and
// counter): its fields into desired, and its life as pending.
func (d *Document) ApplyCommand(c CommandChange, m FieldMeta) {
	meta := maps.Clone(d.Meta) // copy on write: see Clone
	if meta == nil {
		meta = map[string]FieldMeta{}
	}
	patch := c.Desired
	if c.Cancels != "" {
		patch = map[string]any{}
		if t, ok := meta[CommandMetaKey(c.Cancels)]; ok && t.Status == StatusPending {
			for _, f := range t.fields() {
				if _, ok := c.Desired[f]; ok {
					patch[f] = nil
				}
			}
			t.Status, t.Fields = StatusCancelled, ""
			meta[CommandMetaKey(c.Cancels)] = t
		}
	}
	var fields []string
	for f, v := range patch {
		if v != nil {
			fields = append(fields, f)
		}
		fm := m
		fm.Command = c.Name
		meta[f] = fm
	}
	sort.Strings(fields)
	// A field now belongs to this command, no longer to the one before.
	for k, e := range meta {
		if strings.HasPrefix(k, commandMetaPrefix) && e.Fields != "" {
			owned := e.fields()
			if kept := slices.DeleteFunc(slices.Clone(owned), func(f string) bool { _, ok := patch[f]; return ok }); len(kept) != len(owned) {
				e.Fields = strings.Join(kept, ",")
				meta[k] = e
			}
		}
	}
	life := m
	life.CommandLife = CommandLife{Command: c.Name, Status: StatusPending, Exp: c.Expires.Unix(), Fields: strings.Join(fields, ",")}
	meta[CommandMetaKey(c.Name)] = life
	d.Meta = meta
	d.Desired = MergePatch(d.Desired, patch).(map[string]any)
	d.Version++
	d.Delta = delta(d.Desired, d.Reported)
}

// ApplyAck records a device's ack (payload, accepted with meta m) against
// the command it answers, if that is still the latest command of its name
// with the ack's kid and counter; it reports whether the twin changed. An
// ack for an older command, or one that does not decode, changes nothing:
// the message itself was verified and counted.
func (d *Document) ApplyAck(payload []byte, m FieldMeta) bool {
	var a Ack
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if dec.Decode(&a) != nil || (a.Status != StatusDone && a.Status != StatusRefused) {
		return false
	}
	key := CommandMetaKey(a.Command)
	life, ok := d.Meta[key]
	if !ok || life.KID != a.KID || life.Ctr != a.Counter || (life.Status != StatusPending && life.Status != StatusExpired) {
		return false
	}
	ts := m.TS
	life.AckTS = &ts
	life.Reason = ""
	if a.Status == StatusRefused {
		life.Reason = a.Reason
	}
	d.settle(key, life, a.Status)
	return true
}

// ExpireCommands marks every pending command whose exp is at or before now
// as expired, withdrawing its desired fields; it reports whether the twin
// changed.
func (d *Document) ExpireCommands(now time.Time) bool {
	changed := false
	for k, life := range d.Meta {
		if strings.HasPrefix(k, commandMetaPrefix) && life.Status == StatusPending && life.Exp != 0 && !now.Before(time.Unix(life.Exp, 0)) {
			d.settle(k, life, StatusExpired)
			changed = true
		}
	}
	return changed
}

// settle ends a command's pending life with status, withdrawing the desired
// fields it still owns.
func (d *Document) settle(key string, life FieldMeta, status string) {
	meta := maps.Clone(d.Meta) // copy on write: see Clone
	desired := maps.Clone(d.Desired)
	for _, f := range life.fields() {
		delete(desired, f)
	}
	life.Status, life.Fields = status, ""
	meta[key] = life
	d.Meta, d.Desired = meta, desired
	d.Version++
	d.Delta = delta(d.Desired, d.Reported)
}

// fields splits Fields.
func (l CommandLife) fields() []string {
	if l.Fields == "" {
		return nil
	}
	return strings.Split(l.Fields, ",")
}
