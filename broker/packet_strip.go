package broker

import "github.com/mochi-mqtt/server/v2/packets"

// stripProperties removes every MQTT 5 property a client put on a PUBLISH
// under city/.
//
// A message there is trusted for its COSE_Sign1 envelope, which binds the
// payload and the topic and nothing else. User properties, content type,
// response topic, correlation data and the payload format indicator ride
// beside it unsigned, and mochi would hand them to every subscriber (and
// keep them on a retained message) as if they came with the signature:
// a subscriber acting on a response topic or a user property would act on
// what anyone on the path wrote. They are dropped, not checked: the
// envelope says all a device may say.
//
// The client's Message Expiry Interval is dropped as well: it too is
// unsigned, and a device's message is valid for as long as its envelope's
// own claims say. mochi still gives every delivered message its own bound
// (the server's maximum message expiry), which is the broker's, not the
// sender's.
//
// The topic alias has been resolved by then, and a client may not send
// subscription identifiers (MQTT 5 §3.3.4, mochi refuses them), so nothing a
// PUBLISH needs is lost.
func stripProperties(pk *packets.Packet) {
	pk.Properties = packets.Properties{}
}
