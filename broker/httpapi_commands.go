package broker

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/signing"
)

// ackSubscriptionID names the broker's own subscription to every device's
// acks (MQTT 5 §3.8.2.1.2 subscription identifier, for mochi's inline client).
const ackSubscriptionID = 5005

// commandAPI is POST /api/v1/devices/{id}/commands: a console that cannot
// speak MQTT hands the broker a command an operator signed (the broker
// never holds operator keys), the broker checks it exactly as it checks an
// MQTT PUBLISH (VerifyHook.Relay), publishes it, and answers with the
// device's signed ack, or 504 when none comes within command_api.ack_timeout.
//
// Request (JSON only): {"topic": "city/{zone}/{id}/cmd/{name}", "envelope":
// base64} or {"name": "{name}", "envelope": base64} (the topic then follows
// from the device's zone). The envelope must have been signed for exactly
// that topic, which is its external_aad.
//
// Answers: 200 {"topic", "ack": {...}, "ack_envelope": base64} with the
// device's ack, done or refused (the console may verify ack_envelope under
// the device's key); 400 bad request; 403 refused by the broker, with the
// reason (409 for stale_version: the twin moved on from the command's
// if_version, which the body may repeat as "if_version"); 404 no such
// device in the caller's zones; 415 not JSON; 429 over the rate; 503 too
// many waiting; 504 no ack in time.
type commandAPI struct {
	s     *Server
	reg   *devices.Registry
	waits atomic.Int64 // requests waiting for an ack now

	subOnce sync.Once
	subErr  error
	mu      sync.Mutex
	waiting map[string]map[*ackWaiter]struct{} // by ack topic
}

// ackWaiter is one request waiting for its command's ack.
type ackWaiter struct {
	name, kid string
	counter   uint64
	got       chan deviceAck // buffered 1
}

// deviceAck is the payload of a device's ack (city/{zone}/{device}/ack),
// as devices write it, and the envelope it came in.
type deviceAck struct {
	Command  string `json:"cmd"`
	KID      string `json:"kid,omitempty"`
	Counter  uint64 `json:"ctr,omitempty"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
	envelope []byte
}

// commandRequest is the request body.
type commandRequest struct {
	Topic    string `json:"topic"`
	Name     string `json:"name"`
	Envelope string `json:"envelope"`
	// IfVersion, if given, must be the if_version signed in the command
	// (twin_ifversion.go): the twin version it was decided on.
	IfVersion *uint64 `json:"if_version"`
}

func newCommandAPI(s *Server, reg *devices.Registry) *commandAPI {
	return &commandAPI{s: s, reg: reg, waiting: map[string]map[*ackWaiter]struct{}{}}
}

// limits are the ack timeout, the most requests that may wait at once and
// the largest body, read from the running configuration on each request so
// that a reload changes them.
func (c *commandAPI) limits() (timeout time.Duration, maxWaits int, maxBody int64) {
	cfg := c.s.running()
	// The envelope in base64, and the rest of the request.
	maxBody = int64(base64.StdEncoding.EncodedLen(envelopeLimit(cfg.MaxMessageBytes))) + 1024
	return cfg.CommandAPI.ackTimeout(), cfg.CommandAPI.maxWaits(), maxBody
}

func (c *commandAPI) serve(w http.ResponseWriter, r *http.Request, id Identity) {
	if id.Role != RoleAdmin && id.Role != RoleOperator {
		jsonError(w, http.StatusForbidden, "", "only operators and admins send commands")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		jsonError(w, http.StatusUnsupportedMediaType, "", "the body must be JSON (Content-Type: application/json)")
		return
	}
	timeout, maxWaits, maxBody := c.limits()
	req, err := c.decode(w, r, maxBody)
	if err != nil {
		jsonError(w, http.StatusBadRequest, "", err.Error())
		return
	}
	dev, err := c.reg.Device(r.Context(), r.PathValue("id"))
	if err != nil || !(id.Role == RoleAdmin || id.HasZone(dev.Zone)) {
		jsonError(w, http.StatusNotFound, "", "no such device in your zones")
		return
	}
	t, err := commandTopic(req, dev)
	if err != nil {
		jsonError(w, http.StatusBadRequest, "", err.Error())
		return
	}
	env, err := base64.StdEncoding.DecodeString(req.Envelope)
	if err != nil || len(env) == 0 {
		jsonError(w, http.StatusBadRequest, "", "envelope: not standard base64 of a COSE_Sign1 message")
		return
	}
	if err := signedIfVersion(env, req.IfVersion); err != nil {
		jsonError(w, http.StatusBadRequest, "", err.Error())
		return
	}
	if c.waits.Add(1) > int64(maxWaits) {
		c.waits.Add(-1)
		w.Header().Set("Retry-After", "1")
		jsonError(w, http.StatusServiceUnavailable, "", fmt.Sprintf("%d commands are already waiting for acks (command_api.max_waits)", maxWaits))
		return
	}
	defer c.waits.Add(-1)
	if err := c.subscribe(); err != nil {
		jsonError(w, http.StatusInternalServerError, "", "subscribing to acks: "+err.Error())
		return
	}
	// Wait before relaying, so that a fast device's ack cannot come first.
	wt := c.wait(t, env)
	defer c.forget(wt)
	if err := c.s.hook.Relay(r.Context(), id, r.RemoteAddr, t, env); err != nil {
		reason := signing.ReasonOf(err)
		jsonError(w, refusalStatus(reason), reason, err.Error())
		return
	}
	if err := c.s.mqtt.Publish(t, env, false, 1); err != nil {
		jsonError(w, http.StatusInternalServerError, "", "publishing the command: "+err.Error())
		return
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case a := <-wt.got:
		writeJSON(w, struct {
			Topic       string    `json:"topic"`
			Ack         deviceAck `json:"ack"`
			AckEnvelope string    `json:"ack_envelope"`
		}{t, a, base64.StdEncoding.EncodeToString(a.envelope)})
	case <-timer.C:
		jsonError(w, http.StatusGatewayTimeout, "", fmt.Sprintf("the broker took the command, but device %s sent no ack within %s", dev.ID, timeout))
	case <-r.Context().Done():
	}
}

// decode reads the body: one JSON object of known fields, within the limit.
func (c *commandAPI) decode(w http.ResponseWriter, r *http.Request, maxBody int64) (commandRequest, error) {
	var req commandRequest
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return req, fmt.Errorf("body: larger than %d bytes", maxBody)
	}
	if err != nil {
		return req, fmt.Errorf("body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("body: %v", err)
	}
	if dec.More() {
		return req, errors.New("body: one JSON object only")
	}
	if req.Envelope == "" {
		return req, errors.New("envelope: required (the signed command, base64)")
	}
	return req, nil
}

// commandTopic is the command's topic: the request's, which must name the
// device of the path, or the device's command topic for req.Name.
func commandTopic(req commandRequest, dev devices.Device) (string, error) {
	if req.Topic == "" {
		if req.Name == "" {
			return "", errors.New("give topic (city/{zone}/{device}/cmd/{name}) or name")
		}
		if err := topic.ValidID("name", req.Name); err != nil {
			return "", err
		}
		return topic.City{Zone: dev.Zone, Device: dev.ID, Class: topic.Cmd, Name: req.Name}.String(), nil
	}
	c, err := topic.ParseCity(req.Topic)
	if err != nil {
		return "", fmt.Errorf("topic: %v", err)
	}
	if c.Class != topic.Cmd || c.Device != dev.ID || (req.Name != "" && req.Name != c.Name) {
		return "", fmt.Errorf("topic %q is not a command topic of device %s (city/{zone}/%s/cmd/{name})", req.Topic, dev.ID, dev.ID)
	}
	return req.Topic, nil
}

// refusalStatus is the HTTP status of a broker refusal, by its reason
// (docs/protocol.md, "The order of the checks and their reasons").
func refusalStatus(r signing.Reason) int {
	switch r {
	case signing.ReasonMalformed, signing.ReasonBadTopic, signing.ReasonZoneMismatch:
		return http.StatusBadRequest
	case signing.ReasonRateLimited:
		return http.StatusTooManyRequests
	case signing.ReasonStaleVersion:
		return http.StatusConflict // RFC 9110 §15.5.10: the twin has moved on
	}
	return http.StatusForbidden
}

// subscribe makes the broker's one subscription to every device's acks,
// the first time a command is sent. Acks reach it only after the verify
// hook accepted them: signed by the device, in its window.
func (c *commandAPI) subscribe() error {
	c.subOnce.Do(func() {
		filter := topic.CityRoot + "/+/+/" + string(topic.Ack)
		c.subErr = c.s.mqtt.Subscribe(filter, ackSubscriptionID, c.onAck)
	})
	return c.subErr
}

// wait registers a waiter for the ack of command env on topic t.
func (c *commandAPI) wait(t string, env []byte) *ackWaiter {
	ct, _ := topic.ParseCity(t)
	w := &ackWaiter{name: ct.Name, got: make(chan deviceAck, 1)}
	if e, err := signing.Parse(env, 0); err == nil {
		w.kid, w.counter = signing.FormatKeyID(e.Header.KID), e.Header.Counter
	}
	at := topic.City{Zone: ct.Zone, Device: ct.Device, Class: topic.Ack}.String()
	c.mu.Lock()
	if c.waiting[at] == nil {
		c.waiting[at] = map[*ackWaiter]struct{}{}
	}
	c.waiting[at][w] = struct{}{}
	c.mu.Unlock()
	return w
}

// forget removes w.
func (c *commandAPI) forget(w *ackWaiter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for at, ws := range c.waiting {
		if _, ok := ws[w]; ok {
			delete(ws, w)
			if len(ws) == 0 {
				delete(c.waiting, at)
			}
		}
	}
}

// onAck hands an accepted ack to the request waiting for it: the same
// command name, and the command's kid and counter when the device read them
// (a device that could not parse the command acks without them).
func (c *commandAPI) onAck(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
	env, err := signing.Parse(pk.Payload, 0)
	if err != nil {
		return
	}
	var a deviceAck
	if json.Unmarshal(env.Payload, &a) != nil {
		return
	}
	a.envelope = append([]byte(nil), pk.Payload...)
	c.mu.Lock()
	defer c.mu.Unlock()
	for w := range c.waiting[pk.TopicName] {
		if a.Command == w.name && (a.Counter == 0 || a.Counter == w.counter) && (a.KID == "" || a.KID == w.kid) {
			select {
			case w.got <- a:
			default:
			}
			delete(c.waiting[pk.TopicName], w)
			return
		}
	}
}

// jsonError answers status with {"error": msg, "reason": reason}.
func jsonError(w http.ResponseWriter, status int, reason signing.Reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Error  string         `json:"error"`
		Reason signing.Reason `json:"reason,omitempty"`
	}{msg, reason})
}
