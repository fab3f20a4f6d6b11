package devices

import "encoding/json"

// Params returns the model parameters a device was enrolled with, as the
// edge holds them for its kind profile (nil if none or unknown). The broker
// checks a device's telemetry against them (kinds.CheckTelemetry) without a
// store read per message. The bytes are never changed; do not change them.
func (e *Edge) Params(device string) json.RawMessage {
	d, ok := e.index.Load().devices[device]
	if !ok {
		return nil
	}
	return d.params
}
