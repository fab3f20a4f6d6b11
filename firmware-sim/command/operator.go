package command

import (
	"time"

	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/signing"
)

// Counter hands out an operator key's strictly increasing counters
// (firmware-sim/counter.Store is one).
type Counter interface {
	Next() (uint64, error)
}

// Operator signs commands with an endorsed key.
type Operator struct {
	Key         signing.PrivateKey
	KID         []byte
	Endorsement []byte // the CWT from signing.SignEndorsement
	Counter     Counter
}

// Sign makes the command envelope for name on device in zone, issued at now
// and expiring ttl later (at most MaxLifetime). It returns the topic too.
func (o *Operator) Sign(zone, device, name string, payload []byte, now time.Time, ttl time.Duration) (string, []byte, error) {
	t := topic.City{Zone: zone, Device: device, Class: topic.Cmd, Name: name}.String()
	ctr, err := o.Counter.Next()
	if err != nil {
		return "", nil, err
	}
	iat, exp := now.Unix(), now.Add(ttl).Unix()
	msg, err := signing.Sign(o.Key, signing.Header{
		KID: o.KID, Counter: ctr, IssuedAt: &iat, Expires: &exp, Endorsement: o.Endorsement,
	}, payload, t)
	return t, msg, err
}
