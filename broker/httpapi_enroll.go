package broker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// MaxEnrollBody bounds the body of POST /api/v1/devices: a device with a few
// ML-DSA-87 keys (2592 bytes each) and its model parameters fits many times.
const MaxEnrollBody = 1 << 20

// keyMembers are the members of a key in a device document, as
// devices.Key.MarshalJSON writes them (signet device export).
var keyMembers = map[string]bool{"kid": true, "alg": true, "public": true, "status": true, "not_after": true}

// privateMembers name private key material: the private JWK parameters
// (RFC 7517 §9.2; RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2) and the
// names people give a private key or seed by hand.
var privateMembers = map[string]bool{
	"d": true, "p": true, "q": true, "dp": true, "dq": true, "qi": true, "oth": true, "k": true,
	"priv": true, "private": true, "private_key": true, "privatekey": true, "seed": true, "secret": true,
}

// deviceEnroller serves POST /api/v1/devices: an admin enrols one device,
// in the shape signet device export writes, into the store and the running
// edge at once. Enrolments are serialised: they are rare, and each one also
// reloads the certificate pins, which must not be replaced by an older load.
type deviceEnroller struct {
	s   *Server
	reg *devices.Registry
	mu  sync.Mutex
}

// enrollError is a refusal: an HTTP status and one line for the caller.
type enrollError struct {
	status int
	msg    string
}

func (e *enrollError) Error() string { return e.msg }

func badField(field, format string, args ...any) *enrollError {
	return &enrollError{http.StatusBadRequest, fmt.Sprintf("field %q: ", field) + fmt.Sprintf(format, args...)}
}

func (en *deviceEnroller) serve(w http.ResponseWriter, r *http.Request, id Identity) {
	if id.Role != RoleAdmin {
		en.record(r, id, "enroll_forbidden", "", "", fmt.Sprintf("role %s may not enrol devices", id.Role))
		http.Error(w, "enrolling devices is for the admin role", http.StatusForbidden)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxEnrollBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			// The smaller of MaxEnrollBody and access_limits.http_max_body_bytes.
			http.Error(w, fmt.Sprintf("body: larger than %d bytes; send one device", tooBig.Limit), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	d, err := decodeEnrollment(body)
	var refused *enrollError
	if errors.As(err, &refused) {
		if strings.Contains(refused.msg, "private key material") {
			// A private key sent to the edge is a private key leaked.
			en.record(r, id, "private_key_refused", d.ID, "", refused.msg)
		}
		http.Error(w, refused.msg, refused.status)
		return
	}

	en.mu.Lock()
	defer en.mu.Unlock()
	if err := en.reg.Enroll(r.Context(), d); err != nil {
		var dup *devices.DuplicateKIDError
		switch {
		case errors.As(err, &dup), errors.Is(err, devices.ErrConflict):
			http.Error(w, oneLine(err), http.StatusConflict)
		default:
			en.s.log.Error("enrolling a device failed", "device", d.ID, "err", err)
			http.Error(w, "store: "+oneLine(err), http.StatusInternalServerError)
		}
		return
	}
	kids := make([]string, len(d.Keys))
	for i, k := range d.Keys {
		kids[i] = signing.FormatKeyID(k.KID) + " (" + k.Alg.String() + ")"
	}
	en.record(r, id, "device_enrolled", d.ID, signing.FormatKeyID(d.Keys[0].KID),
		fmt.Sprintf("zone %s, kind %s, keys %s", d.Zone, d.Kind, strings.Join(kids, ", ")))
	if err := en.s.edge.AddDevice(d); err != nil {
		// The store has it: a restart loads it. Say so rather than pretend.
		en.s.log.Error("enrolled device not loaded into the running edge", "device", d.ID, "err", err)
		http.Error(w, fmt.Sprintf("device %s is enrolled in the store but the running broker could not load it (%s); restart the broker", d.ID, oneLine(err)), http.StatusInternalServerError)
		return
	}
	if len(d.Credentials.CertSHA256) > 0 {
		if err := en.s.loadCertPins(r.Context()); err != nil {
			en.s.log.Error("reloading certificate pins after an enrolment", "device", d.ID, "err", err)
		}
	}
	stored, err := en.reg.Device(r.Context(), d.ID)
	if err != nil {
		http.Error(w, "store: "+oneLine(err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Location", "/api/v1/devices/"+d.ID)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(stored)
}

// record writes one admin security event (audit log, $security/events).
func (en *deviceEnroller) record(r *http.Request, id Identity, reason, device, kid, detail string) {
	en.s.events.Record(audit.Event{
		Time: time.Now().UTC(), Kind: "admin", User: id.Name, Remote: r.RemoteAddr,
		Device: device, KID: kid, Topic: r.Method + " " + r.URL.Path, Reason: reason, Detail: detail,
	})
}

// decodeEnrollment reads one device document strictly and validates it:
// unknown members, private key material, trailing data and every field the
// registry checks. Errors are *enrollError with status 400, naming the field.
// The device's id is returned even on error when it could be read, for the
// security event.
func decodeEnrollment(body []byte) (devices.Device, error) {
	var d devices.Device
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return d, &enrollError{http.StatusBadRequest, "body: want one device as a JSON object (as signet device export writes it)"}
	}
	if raw, ok := members["id"]; ok && json.Unmarshal(raw, &d.ID) == nil && len(d.ID) > 64 {
		d.ID = "" // not an id; keep the security event short
	}
	if err := refusePrivate(members); err != nil {
		return d, err
	}
	if raw, ok := members["keys"]; ok {
		var keys []json.RawMessage
		if err := json.Unmarshal(raw, &keys); err != nil {
			return d, badField("keys", "want a list of public keys")
		}
		if len(keys) == 0 {
			return d, badField("keys", "empty; a device needs at least one public key")
		}
		for i, kr := range keys {
			if err := checkKeyMembers(fmt.Sprintf("keys[%d]", i), kr); err != nil {
				return d, err
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return d, jsonFieldError(err)
	}
	if dec.More() {
		return d, &enrollError{http.StatusBadRequest, "body: trailing data after the device; send one device"}
	}
	if len(d.Keys) == 0 {
		return d, badField("keys", "missing; a device needs at least one public key")
	}
	if err := d.Validate(); err != nil {
		return d, &enrollError{http.StatusBadRequest, oneLine(err)}
	}
	return d, nil
}

// refusePrivate looks for private key material where a device document can
// hold a key: top-level members, credentials, and anything PEM-armoured as
// a private key anywhere (params and metadata included).
func refusePrivate(members map[string]json.RawMessage) error {
	names := make([]string, 0, len(members))
	for name := range members {
		names = append(names, name)
	}
	sort.Strings(names) // the same body always names the same field
	for _, name := range names {
		if privateMembers[strings.ToLower(name)] {
			return privateField(name)
		}
		if bytes.Contains(bytes.ToUpper(members[name]), []byte("PRIVATE KEY")) {
			return privateField(name)
		}
	}
	if raw, ok := members["credentials"]; ok {
		var cred map[string]json.RawMessage
		if json.Unmarshal(raw, &cred) == nil {
			for name := range cred {
				if privateMembers[strings.ToLower(name)] {
					return privateField("credentials." + name)
				}
			}
		}
	}
	return nil
}

// checkKeyMembers refuses a key with private parameters (a private JWK
// pasted whole) or members a public key does not have.
func checkKeyMembers(field string, raw json.RawMessage) error {
	var km map[string]json.RawMessage
	if err := json.Unmarshal(raw, &km); err != nil {
		return badField(field, "want a key object {kid, alg, public, status}")
	}
	names := make([]string, 0, len(km))
	for name := range km {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if privateMembers[strings.ToLower(name)] {
			return privateField(field + "." + name)
		}
	}
	for _, name := range names {
		if !keyMembers[name] {
			return badField(field+"."+name, "unknown; a key has kid, alg, public, status and not_after (signet device export shows one)")
		}
	}
	var k devices.Key
	if err := json.Unmarshal(raw, &k); err != nil {
		return badField(field, "%s", oneLine(err))
	}
	return nil
}

func privateField(field string) error {
	return badField(field, "private key material; the edge takes public keys only: treat this key as leaked, generate a new one and send its public half")
}

// jsonFieldError turns a decoding error into one line naming the field.
func jsonFieldError(err error) error {
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &typ):
		return badField(typ.Field, "want %s, got JSON %s", typ.Type, typ.Value)
	case errors.As(err, &syn):
		return &enrollError{http.StatusBadRequest, "body: not JSON: " + syn.Error()}
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badField(strings.Trim(name, `"`), "unknown; a device has id, zone, kind, keys, params, metadata and credentials")
	}
	return &enrollError{http.StatusBadRequest, "body: " + oneLine(err)}
}

// oneLine keeps an error to one line (an HTTP answer, a config refusal):
// a decoder may quote a scalar of its input, newlines included.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
