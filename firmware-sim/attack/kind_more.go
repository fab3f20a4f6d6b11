package attack

import (
	"bytes"
	"fmt"
	"time"

	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/signing"
)

// The kinds beyond Kinds: each needs either a step the scenario runner
// takes (a reboot) or a scene part only a spawned broker's setup provides
// (a retired key), so "signet attack --kind all" and the demo leave them out.
const (
	KindRebootReplay    Kind = "reboot-replay"    // a message accepted before the device rebooted, sent after: replay
	KindCounterRollback Kind = "counter-rollback" // a fresh message under a counter the device already spent: replay
	KindTamperHeader    Kind = "tamper-header"    // the counter in the protected header raised in flight: bad_signature
	KindTamperTopic     Kind = "tamper-topic"     // a message in flight moved to another topic of the same device: bad_signature
	KindAlgDowngrade    Kind = "alg-downgrade"    // the victim's kid under another algorithm: alg_mismatch
	KindMalformed       Kind = "malformed"        // a real envelope cut short by one byte: malformed
	KindOversized       Kind = "oversized"        // a signed envelope over the broker's message size limit: malformed
	KindRevokedKey      Kind = "revoked-key"      // signed by the device's revoked key: revoked
	KindExpiredKey      Kind = "expired-key"      // signed by the device's key past its end (rotated out): revoked
)

// MoreKinds lists the kinds beyond Kinds, in the order the scenario suite
// runs them.
func MoreKinds() []Kind {
	return []Kind{KindRebootReplay, KindCounterRollback, KindTamperHeader, KindTamperTopic,
		KindAlgDowngrade, KindMalformed, KindOversized, KindRevokedKey, KindExpiredKey}
}

// NeedsRetiredKey reports whether the kind signs with a key of the victim's
// that the registry no longer accepts (Scene.Retired).
func (k Kind) NeedsRetiredKey() bool { return k == KindRevokedKey || k == KindExpiredKey }

// NeedsReboot reports whether the runner must reboot the victim (reopen it
// from its image and log in again) between capturing Seen and the attack.
func (k Kind) NeedsReboot() bool { return k == KindRebootReplay }

// RetiredKey is a key a device once held and the registry now refuses
// (revoked, or past its end after a rotation).
type RetiredKey struct {
	Key signing.PrivateKey
	KID []byte
}

// OversizedBytes is the payload size of an oversized attack: over the
// broker's default message size limit (64 KiB), under its default packet
// size limit (that limit plus 4 KiB), so the broker must read the packet and
// refuse the envelope rather than drop the connection.
const OversizedBytes = 65536 + 512

// buildMore makes one attack of a kind of MoreKinds.
func (s Scene) buildMore(k Kind) (Attack, error) {
	v := s.Victim
	switch k {
	case KindRebootReplay:
		return Attack{Kind: k, Name: "replay a message accepted before the device rebooted", Topic: s.Seen.Topic, Payload: s.Seen.Message, Expect: signing.ReasonReplay}, nil
	case KindCounterRollback:
		// Counter 1 is below every lease the broker granted after the
		// first message (docs/counters.md: the replay window lives inside the
		// lease), and the payload is new, so only the counter can catch it.
		t := stateTopic(v.Zone, v.ID)
		payload := fmt.Appendf(nil, `{"mode":"normal","at":%d}`, time.Now().UnixNano())
		msg, err := signing.Sign(v.Key, signing.Header{KID: v.KID, Counter: 1}, payload, t)
		return Attack{Kind: k, Name: "counter rolled back to 1", Topic: t, Payload: msg, Expect: signing.ReasonReplay}, err
	case KindTamperHeader:
		in, err := Intercept(v, []byte(`{"mode":"normal","plan":"fixed-time"}`))
		if err != nil {
			return Attack{}, err
		}
		env, err := signing.Parse(in.Message, 0)
		if err != nil {
			return Attack{}, err
		}
		h := env.Header
		h.Counter += 1000 // still fresh: only the signature over the header can tell
		if env.Protected, err = signing.EncodeProtected(h); err != nil {
			return Attack{}, err
		}
		return Attack{Kind: k, Name: "raise the counter in the protected header", Topic: in.Topic, Payload: env.Encode(), Expect: signing.ReasonBadSignature}, nil
	case KindTamperTopic:
		// The topic is part of what is signed (Sig_structure external_aad,
		// RFC 9052 §4.3), so a reading moved to the state topic fails.
		c, err := Capture(v, time.Now())
		if err != nil {
			return Attack{}, err
		}
		return Attack{Kind: k, Name: "move a reading in flight to the state topic", Topic: stateTopic(v.Zone, v.ID), Payload: c.Message, Expect: signing.ReasonBadSignature}, nil
	case KindAlgDowngrade:
		alg := signing.AlgES256
		if v.Key.Alg() == alg {
			alg = signing.AlgEd25519
		}
		forger, err := signing.GenerateKey(alg)
		if err != nil {
			return Attack{}, err
		}
		t := stateTopic(v.Zone, v.ID)
		msg, err := signing.Sign(forger, signing.Header{KID: v.KID, Counter: 1 << 40}, []byte(`{"mode":"flash"}`), t)
		return Attack{Kind: k, Name: fmt.Sprintf("the victim's kid under %s", alg), Topic: t, Payload: msg, Expect: signing.ReasonAlgMismatch}, err
	case KindMalformed:
		c, err := Capture(v, time.Now())
		if err != nil {
			return Attack{}, err
		}
		return Attack{Kind: k, Name: "a real envelope cut short by one byte", Topic: c.Topic, Payload: c.Message[:len(c.Message)-1], Expect: signing.ReasonMalformed}, nil
	case KindOversized:
		t := stateTopic(v.Zone, v.ID)
		pad := bytes.Repeat([]byte("a"), OversizedBytes)
		msg, err := v.Sign(t, fmt.Appendf(nil, `{"mode":"normal","pad":"%s"}`, pad))
		return Attack{Kind: k, Name: "a signed envelope over the size limit", Topic: t, Payload: msg, Expect: signing.ReasonMalformed}, err
	case KindRevokedKey, KindExpiredKey:
		if s.Retired == nil {
			return Attack{}, fmt.Errorf("attack %s needs a retired key of %s", k, v.ID)
		}
		t := topic.City{Zone: v.Zone, Device: v.ID, Class: topic.State}.String()
		msg, err := signing.Sign(s.Retired.Key, signing.Header{KID: s.Retired.KID, Counter: uint64(time.Now().UnixNano())}, []byte(`{"mode":"normal"}`), t)
		return Attack{Kind: k, Name: "signed by a key the registry retired", Topic: t, Payload: msg, Expect: signing.ReasonRevoked}, err
	}
	return Attack{}, fmt.Errorf("unknown attack kind %q", k)
}
