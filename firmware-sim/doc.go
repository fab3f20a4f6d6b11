// Package firmwaresim is the device side of Signet: simulated city devices
// that sign every message as real firmware would. Its sub-packages are the
// counter store (counter), the device behaviour models (model) and the MQTT
// runtime that connects, signs and publishes (runtime).
package firmwaresim
