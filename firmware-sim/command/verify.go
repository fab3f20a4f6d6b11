package command

import (
	"encoding/json"
	"sync"
	"time"

	"github.com/signet-city/signet/devices/catalog"
	"github.com/signet-city/signet/devices/cmdcheck"
	"github.com/signet-city/signet/devices/replay"
	"github.com/signet-city/signet/signing"
)

// MaxLifetime is the longest a command may live (exp - iat).
const MaxLifetime = cmdcheck.MaxLifetime

// Command is a verified command, ready to act on.
type Command struct {
	Name     string       // from the topic: city/{zone}/{device}/cmd/{name}
	Args     catalog.Args // its checked arguments (devices/catalog)
	Operator string       // sub of the endorsement
	KID      []byte       // the operator key's kid
	Counter  uint64       // the command's counter (in the operator's window)
}

// Verifier is a device's side of a command: the shared check
// (devices/cmdcheck) with the authority keys it was flashed with and its
// own reported state, then its own replay window for the operator's key.
// It is safe for concurrent use.
type Verifier struct {
	Zone, Device, Kind string
	Params             json.RawMessage // the device's flashed model parameters
	Authorities        Authorities     // the control-authority keys it was flashed with
	// Boot is when the device started. Replay windows live in memory, so a
	// command issued before the boot is refused as a replay: it may have
	// been acted on by the previous life (freshness bounds this to 60 s).
	Boot time.Time

	mu      sync.Mutex
	windows map[string]*replay.Window // per operator key thumbprint (hex)
}

// Check verifies a command delivered on t at now, against the device's
// current reported state. Errors are *signing.Rejection with the reason of
// the check that failed. On success the command's counter is consumed: the
// same command is never accepted twice.
func (v *Verifier) Check(t string, msg []byte, now time.Time, reported map[string]any) (*Command, error) {
	env, err := signing.Parse(msg, 0)
	if err != nil {
		return nil, err
	}
	if env.Header.IssuedAt != nil && time.Unix(*env.Header.IssuedAt, 0).Before(v.Boot.Truncate(time.Second)) {
		return nil, signing.Reject(signing.ReasonReplay, "protected.cwt.iat", "issued before this device booted")
	}
	c, err := cmdcheck.Check(cmdcheck.Input{
		Topic: t, Envelope: env, Now: now, Authority: v.Authorities.key,
		Device: cmdcheck.Device{Zone: v.Zone, ID: v.Device, Kind: v.Kind, Params: v.Params, Reported: reported},
	})
	if err != nil {
		return nil, err
	}
	// Replay: the device's own window, named by the endorsed key's
	// thumbprint (the device has no registry; a kid is only a hint).
	// Exactly once, even if two deliveries race.
	kid := signing.FormatKeyID(signing.KeyID(c.OperatorKey))
	v.mu.Lock()
	ok := v.window(kid).Accept(c.Counter)
	v.mu.Unlock()
	if !ok {
		return nil, signing.Reject(signing.ReasonReplay, "protected.piv", "counter %d of %s already seen or too old", c.Counter, kid)
	}
	return &Command{Name: c.Name, Args: c.Request.Args, Operator: c.Operator, KID: c.KID, Counter: c.Counter}, nil
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
