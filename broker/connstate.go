package broker

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/signet-city/signet/devices/topic"
)

// ConnState is a device's connection as this broker sees it: whether a
// client authenticated as the device is connected, since when and from
// where, and when the broker last accepted a message from it. It is kept
// in memory only, per broker: in a cluster each broker knows its own
// connections.
type ConnState struct {
	Connected bool       `json:"connected"`
	Since     *time.Time `json:"since,omitempty"`  // the newest open connection's start
	Remote    string     `json:"remote,omitempty"` // that connection's peer address
	LastSeen  *time.Time `json:"last_seen,omitempty"`
	LastGone  *time.Time `json:"disconnected_at,omitempty"` // when the last connection ended
}

// connInfo is one open connection of a device.
type connInfo struct {
	since  time.Time
	remote string
}

// deviceConns is what connTracker keeps of one device.
type deviceConns struct {
	open     map[*mqtt.Client]connInfo
	lastSeen time.Time
	lastGone time.Time
}

// connTracker is a mochi hook that follows devices' connections
// (OnSessionEstablished, after authentication, so the identity is known;
// OnDisconnect) and the messages accepted for them (OnPublished, which
// mochi calls only for a message the verify hook let through). Only
// registered devices are tracked (zoneOf), so its memory is bounded by the
// registry, not by what clients claim.
type connTracker struct {
	mqtt.HookBase
	who    func(*mqtt.Client) (Identity, bool)
	zoneOf func(device string) (string, bool)
	now    func() time.Time
	// changed is told every connect and disconnect; accepted every
	// accepted city/ message's zone (the rate chart). Both are called
	// without the tracker's lock.
	changed  func(device, zone string, st ConnState)
	accepted func(zone string)

	mu   sync.Mutex
	devs map[string]*deviceConns
	// byClient is the device each tracked connection authenticated as:
	// by OnDisconnect the access hook may have forgotten the identity.
	byClient map[*mqtt.Client]string
	// seen holds the devices with an accepted message since the last
	// takeSeen, for the streams' once-a-second "seen" update.
	seen map[string]time.Time
}

// ID names the hook for mochi.
func (c *connTracker) ID() string { return "signet-connstate" }

// Provides says which mochi events the hook takes.
func (c *connTracker) Provides(b byte) bool {
	return oneOf(b, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnPublished)
}

// device is the registered device a client authenticated as, if any.
func (c *connTracker) device(cl *mqtt.Client) (string, string, bool) {
	if cl.Net.Inline {
		return "", "", false
	}
	id, ok := c.who(cl)
	if !ok || id.Role != RoleDevice || id.Device == "" {
		return "", "", false
	}
	zone, ok := c.zoneOf(id.Device)
	return id.Device, zone, ok
}

// OnSessionEstablished records a device's new connection.
func (c *connTracker) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	dev, zone, ok := c.device(cl)
	if !ok {
		return
	}
	c.mu.Lock()
	d := c.entry(dev)
	d.open[cl] = connInfo{since: c.now().UTC(), remote: cl.Net.Remote}
	c.byClient[cl] = dev
	st := d.state()
	c.mu.Unlock()
	c.changed(dev, zone, st)
}

// OnDisconnect records the end of a device's connection. A take-over (the
// same client id connecting again) ends the old client after the new one
// began, so the device stays connected.
func (c *connTracker) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	c.mu.Lock()
	dev, ok := c.byClient[cl]
	if !ok {
		c.mu.Unlock()
		return
	}
	delete(c.byClient, cl)
	d := c.entry(dev)
	delete(d.open, cl)
	d.lastGone = c.now().UTC()
	st := d.state()
	c.mu.Unlock()
	zone, _ := c.zoneOf(dev)
	c.changed(dev, zone, st)
}

// OnPublished notes an accepted message under city/: the device it is for
// was last seen now (a command to it says nothing of the device itself).
func (c *connTracker) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline || !strings.HasPrefix(pk.TopicName, topic.CityRoot+"/") {
		return
	}
	t, err := topic.ParseCity(pk.TopicName)
	if err != nil {
		return
	}
	c.accepted(t.Zone)
	if t.Class == topic.Cmd {
		return
	}
	if zone, ok := c.zoneOf(t.Device); !ok || zone != t.Zone {
		return
	}
	now := c.now().UTC()
	c.mu.Lock()
	c.entry(t.Device).lastSeen = now
	c.seen[t.Device] = now
	c.mu.Unlock()
}

// takeSeen returns the devices seen since the last call, and forgets them.
func (c *connTracker) takeSeen() map[string]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) == 0 {
		return nil
	}
	s := c.seen
	c.seen = map[string]time.Time{}
	return s
}

// State returns what is known of a device's connection.
func (c *connTracker) State(device string) ConnState {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d, ok := c.devs[device]; ok {
		return d.state()
	}
	return ConnState{}
}

// Connected counts the devices with an open connection.
func (c *connTracker) Connected(visible func(device string) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for dev, d := range c.devs {
		if len(d.open) > 0 && visible(dev) {
			n++
		}
	}
	return n
}

// entry is the device's record, made on first use; c.mu is held.
func (c *connTracker) entry(device string) *deviceConns {
	d, ok := c.devs[device]
	if !ok {
		d = &deviceConns{open: map[*mqtt.Client]connInfo{}}
		c.devs[device] = d
	}
	return d
}

// state is the record as ConnState.
func (d *deviceConns) state() ConnState {
	var st ConnState
	var newest connInfo
	for _, ci := range d.open {
		if newest.since.IsZero() || ci.since.After(newest.since) {
			newest = ci
		}
	}
	if len(d.open) > 0 {
		st.Connected, st.Since, st.Remote = true, &newest.since, newest.remote
	}
	if !d.lastSeen.IsZero() {
		t := d.lastSeen
		st.LastSeen = &t
	}
	if !d.lastGone.IsZero() {
		t := d.lastGone
		st.LastGone = &t
	}
	return st
}

// withConnection adds a "connection" member to v's JSON object (a twin
// document or a registry record, whatever its shape: other members are
// kept as they are).
func withConnection(v any, st ConnState) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	c, err := json.Marshal(st)
	if err != nil {
		return nil, err
	}
	// The usual case, an object without the member: append it before the
	// closing brace, without decoding and encoding the document again
	// (the live stream does this for every twin change it sends).
	if len(b) >= 2 && b[0] == '{' && b[len(b)-1] == '}' && !bytes.Contains(b, []byte(`"connection"`)) {
		out := make([]byte, 0, len(b)+len(`,"connection":`)+len(c))
		out = append(out, b[:len(b)-1]...)
		if len(b) > 2 {
			out = append(out, ',')
		}
		out = append(out, `"connection":`...)
		out = append(out, c...)
		return append(out, '}'), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, err
	}
	if obj == nil {
		obj = map[string]json.RawMessage{}
	}
	obj["connection"] = c
	return json.Marshal(obj)
}

// writeWithConnection answers one twin or registry record with the
// device's connection state added.
func (s *Server) writeWithConnection(w http.ResponseWriter, v any, device string) {
	b, err := withConnection(v, s.dash.conns.State(device))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, b)
}

// writeWithConnectionsOf answers a list of them ([] when empty).
func writeWithConnectionsOf[T any](s *Server, w http.ResponseWriter, list []T, device func(T) string) {
	out := []json.RawMessage{}
	for _, v := range list {
		b, err := withConnection(v, s.dash.conns.State(device(v)))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out = append(out, b)
	}
	writeJSON(w, out)
}
