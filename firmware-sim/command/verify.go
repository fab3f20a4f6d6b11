package command

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/replay"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/signing"
)

// MaxLifetime is the longest a command may live: exp at most 60 s after iat
// (SPEC §5).
const MaxLifetime = 60 * time.Second

// MaxSkew is how far in the future a device tolerates an iat (clock skew
// between operator and device).
const MaxSkew = 5 * time.Second

// Command is a verified command, ready to act on.
type Command struct {
	Name     string          // from the topic: city/{zone}/{device}/cmd/{name}
	Payload  json.RawMessage // what to do
	Operator string          // sub of the endorsement
	KID      []byte          // the operator key's kid
	Counter  uint64          // the command's counter (in the operator's window)
}

// Verifier is a device's side of SPEC §5. It is safe for concurrent use.
type Verifier struct {
	Zone, Device, Kind string
	Params             json.RawMessage // the device's flashed model parameters
	Authorities        Authorities     // the control-authority keys it was flashed with
	// Boot is when the device started. Replay windows live in memory, so a
	// command issued before the boot is refused as a replay: it may have
	// been acted on by the previous life (freshness bounds this to 60 s).
	Boot time.Time

	mu      sync.Mutex
	windows map[string]*replay.Window // per operator kid (hex)
}

// Check verifies a command delivered on t at now, against the device's
// current reported state (for domain safety). Errors are *signing.Rejection
// with the SPEC §4 reason. On success the command's counter is consumed:
// the same command is never accepted twice.
func (v *Verifier) Check(t string, msg []byte, now time.Time, reported map[string]any) (*Command, error) {
	c, err := topic.ParseCity(t)
	if err != nil {
		return nil, &signing.Rejection{Reason: signing.ReasonBadTopic, Field: "topic", Err: err}
	}
	if c.Class != topic.Cmd || c.Device != v.Device {
		return nil, signing.Reject(signing.ReasonBadTopic, "topic", "%q is not a command topic of device %s", t, v.Device)
	}
	if c.Zone != v.Zone {
		return nil, signing.Reject(signing.ReasonZoneMismatch, "topic", "device %s is in zone %q, not %q", v.Device, v.Zone, c.Zone)
	}
	env, err := signing.Parse(msg, 0)
	if err != nil {
		return nil, err
	}
	// The operator's key comes from the endorsement, never from the broker.
	if len(env.Header.Endorsement) == 0 {
		return nil, signing.Reject(signing.ReasonUnauthorizedCommand, "protected.endorsement", "missing: a command must carry its operator's endorsement (label 13)")
	}
	e, key, err := v.Authorities.Verify(env.Header.Endorsement, env.Header.Alg)
	if err != nil {
		return nil, err
	}
	// Replay: the device's own window for the operator's key (read-only
	// here), named by the endorsed key's thumbprint: the device has no
	// registry, and a kid is only a hint.
	kid := signing.FormatKeyID(signing.KeyID(key))
	if env.Header.IssuedAt != nil && time.Unix(*env.Header.IssuedAt, 0).Before(v.Boot.Truncate(time.Second)) {
		return nil, signing.Reject(signing.ReasonReplay, "protected.cwt.iat", "issued before this device booted")
	}
	v.mu.Lock()
	w := v.window(kid)
	unseen := w.Check(env.Header.Counter)
	v.mu.Unlock()
	if !unseen {
		return nil, signing.Reject(signing.ReasonReplay, "protected.piv", "counter %d of %s already seen or too old", env.Header.Counter, kid)
	}
	if err := env.Verify(key, t); err != nil {
		return nil, err
	}
	// Endorsement scope and time, then the command's own freshness.
	if !devices.Scope(e.Scope).Allows(v.Zone, v.Kind, c.Name) {
		return nil, signing.Reject(signing.ReasonUnauthorizedCommand, "protected.endorsement", "operator %s is not endorsed for %s on %s in zone %s", e.Operator, c.Name, v.Kind, v.Zone)
	}
	if !now.Before(e.Expires) {
		return nil, signing.Reject(signing.ReasonExpired, "protected.endorsement", "endorsement of %s expired at %s", e.Operator, e.Expires.UTC().Format(time.RFC3339))
	}
	if e.IssuedAt.After(now.Add(MaxSkew)) {
		return nil, signing.Reject(signing.ReasonExpired, "protected.endorsement", "endorsement of %s is not valid before %s", e.Operator, e.IssuedAt.UTC().Format(time.RFC3339))
	}
	if err := fresh(env.Header, now); err != nil {
		return nil, err
	}
	if err := Safe(v.Kind, v.Params, env.Payload, reported); err != nil {
		return nil, err
	}
	// Commit: exactly once, even if two deliveries raced past the pre-check.
	v.mu.Lock()
	ok := v.window(kid).Accept(env.Header.Counter)
	v.mu.Unlock()
	if !ok {
		return nil, signing.Reject(signing.ReasonReplay, "protected.piv", "counter %d of %s already seen", env.Header.Counter, kid)
	}
	return &Command{Name: c.Name, Payload: env.Payload, Operator: e.Operator, KID: env.Header.KID, Counter: env.Header.Counter}, nil
}

func (v *Verifier) window(kid string) *replay.Window {
	if v.windows == nil {
		v.windows = map[string]*replay.Window{}
	}
	w := v.windows[kid]
	if w == nil {
		w = &replay.Window{}
		v.windows[kid] = w
	}
	return w
}

// fresh is SPEC §5's freshness: iat and exp present, exp at most 60 s after
// iat, not yet past, and iat not in the future beyond the skew.
func fresh(h signing.Header, now time.Time) error {
	if h.IssuedAt == nil || h.Expires == nil {
		return signing.Reject(signing.ReasonExpired, "protected.cwt", "a command must carry iat and exp")
	}
	iat, exp := time.Unix(*h.IssuedAt, 0), time.Unix(*h.Expires, 0)
	if exp.Sub(iat) > MaxLifetime || exp.Before(iat) {
		return signing.Reject(signing.ReasonExpired, "protected.cwt.exp", "exp must be within %s after iat", MaxLifetime)
	}
	if !now.Before(exp) {
		return signing.Reject(signing.ReasonExpired, "protected.cwt.exp", "expired %s ago", now.Sub(exp).Round(time.Second))
	}
	if iat.After(now.Add(MaxSkew)) {
		return signing.Reject(signing.ReasonExpired, "protected.cwt.iat", "issued %s in the future", iat.Sub(now).Round(time.Second))
	}
	return nil
}
