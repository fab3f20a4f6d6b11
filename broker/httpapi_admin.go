package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// adminAPI serves the registry changes an admin makes on a running broker,
// each with immediate effect on the edge (Edge.Refresh) and, for a revoked
// device, on its connected sessions (Server.CloseDevice):
//
//	DELETE /api/v1/devices/{id}            revoke every key of a device
//	DELETE /api/v1/keys/{kid}              revoke one key, whoever holds it
//	POST   /api/v1/devices/{id}/keys       rotate: {"key": {...}, "grace": "24h"}
//	GET    /api/v1/operators[/{id}]        operators (and authorities, in the list)
//	POST   /api/v1/operators               enrol an operator
//	DELETE /api/v1/operators/{id}          revoke every key of an operator
//	POST   /api/v1/authorities/{id}/keys   add a control authority's key
//	GET    /api/v1/export                  the registry as signet device export writes it
//	GET    /api/v1/store/backup            an online copy of the store file
//
// Every endpoint is for the admin role only. Bodies are JSON only
// (requireJSON), private key material is refused as at enrolment, and
// cross-origin requests never get here (refuseCrossOrigin). Changes share
// the enroller's lock, so a refresh never races an enrolment's AddDevice.
type adminAPI struct {
	s   *Server
	reg *devices.Registry
	mu  *sync.Mutex
}

// adminRoutes registers the admin endpoints on mux.
func (s *Server) adminRoutes(mux *http.ServeMux, auth *basicAuth, en *deviceEnroller) {
	a := &adminAPI{s: s, reg: en.reg, mu: &en.mu}
	mux.HandleFunc("DELETE /api/v1/devices/{id}", auth.wrap(a.only(a.revokeDevice)))
	mux.HandleFunc("DELETE /api/v1/keys/{kid}", auth.wrap(a.only(a.revokeKey)))
	mux.HandleFunc("POST /api/v1/devices/{id}/keys", requireJSON(auth.wrap(a.only(a.rotate))))
	mux.HandleFunc("GET /api/v1/operators", auth.wrap(a.only(a.operators)))
	mux.HandleFunc("GET /api/v1/operators/{id}", auth.wrap(a.only(a.operator)))
	mux.HandleFunc("POST /api/v1/operators", requireJSON(auth.wrap(a.only(a.enrollOperator))))
	mux.HandleFunc("DELETE /api/v1/operators/{id}", auth.wrap(a.only(a.revokeOperator)))
	mux.HandleFunc("POST /api/v1/authorities/{id}/keys", requireJSON(auth.wrap(a.only(a.addAuthorityKey))))
	mux.HandleFunc("GET /api/v1/export", auth.wrap(a.only(a.export)))
	mux.HandleFunc("GET /api/v1/store/backup", auth.wrap(a.only(a.backup)))
}

// AdminResult is the answer to a revocation: whose keys, how many, and how
// many connected sessions were closed because of it.
type AdminResult struct {
	Owner          string `json:"owner"` // e.g. "device sl-1"
	Keys           int    `json:"keys"`
	SessionsClosed int    `json:"sessions_closed"`
}

// RotateRequest is the body of POST /api/v1/devices/{id}/keys.
type RotateRequest struct {
	Key   json.RawMessage `json:"key"`   // the new public key, as in a device document
	Grace string          `json:"grace"` // how long the old keys stay valid, a Go duration ("24h", "0s")
}

type adminFunc func(w http.ResponseWriter, r *http.Request, id Identity) error

// only lets the admin role through and turns a handler's error into one
// line with its status.
func (a *adminAPI) only(h adminFunc) func(http.ResponseWriter, *http.Request, Identity) {
	return func(w http.ResponseWriter, r *http.Request, id Identity) {
		if id.Role != RoleAdmin {
			a.record(r, id, "admin_forbidden", "", fmt.Sprintf("role %s may not administer the registry", id.Role))
			http.Error(w, "administering the registry is for the admin role", http.StatusForbidden)
			return
		}
		if err := h(w, r, id); err != nil {
			var refused *enrollError
			if errors.As(err, &refused) {
				http.Error(w, refused.msg, refused.status)
				return
			}
			http.Error(w, oneLine(err), registryStatus(err))
		}
	}
}

// registryStatus maps a registry error to its HTTP status: an unknown
// record 404, a duplicate or a concurrent change 409, anything else (a
// record the registry refused) 400.
func registryStatus(err error) int {
	var dup *devices.DuplicateKIDError
	switch {
	case errors.Is(err, devices.ErrNotFound), strings.HasPrefix(err.Error(), "unknown "):
		return http.StatusNotFound
	case errors.As(err, &dup), errors.Is(err, devices.ErrConflict):
		return http.StatusConflict
	}
	return http.StatusBadRequest
}

// refresh makes a change the registry just stored take effect in the
// running edge. The store has it either way; a failure says so.
func (a *adminAPI) refresh(ctx context.Context, what string) error {
	if err := a.s.edge.Refresh(ctx); err != nil {
		a.s.log.Error("registry change not loaded into the running edge", "change", what, "err", err)
		return &enrollError{http.StatusInternalServerError, fmt.Sprintf("%s is stored but the running broker could not load it (%s); restart the broker", what, oneLine(err))}
	}
	return nil
}

func (a *adminAPI) revokeDevice(w http.ResponseWriter, r *http.Request, id Identity) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	d, err := a.reg.RevokeDevice(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := a.refresh(r.Context(), "the revocation of device "+d.ID); err != nil {
		return err
	}
	// After the refresh: a device that reconnects at once meets the revoked keys.
	closed := a.s.CloseDevice(d.ID)
	a.record(r, id, "device_revoked", d.ID, fmt.Sprintf("%d key(s) revoked, %d session(s) closed", len(d.Keys), closed))
	writeJSON(w, AdminResult{Owner: "device " + d.ID, Keys: len(d.Keys), SessionsClosed: closed})
	return nil
}

func (a *adminAPI) revokeKey(w http.ResponseWriter, r *http.Request, id Identity) error {
	kid, err := signing.ParseKeyID(r.PathValue("kid"))
	if err != nil {
		return &enrollError{http.StatusBadRequest, "kid: " + oneLine(err)}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	owner, err := a.reg.RevokeKey(r.Context(), kid)
	if err != nil {
		return err
	}
	if err := a.refresh(r.Context(), "the revocation of key "+signing.FormatKeyID(kid)); err != nil {
		return err
	}
	closed := 0
	if owner.Role == devices.RoleDevice {
		// A connection does not say which of its device's keys signed its
		// connect token: close them all; one with another key comes back.
		closed = a.s.CloseDevice(owner.ID)
	}
	a.record(r, id, "key_revoked", deviceOf(owner), fmt.Sprintf("key %s of %s revoked, %d session(s) closed", signing.FormatKeyID(kid), owner, closed))
	writeJSON(w, AdminResult{Owner: owner.String(), Keys: 1, SessionsClosed: closed})
	return nil
}

func deviceOf(o devices.Owner) string {
	if o.Role == devices.RoleDevice {
		return o.ID
	}
	return ""
}

func (a *adminAPI) rotate(w http.ResponseWriter, r *http.Request, id Identity) error {
	var req RotateRequest
	if err := decodeStrict(r, &req); err != nil {
		return err
	}
	if len(req.Key) == 0 {
		return badField("key", "missing; send the new public key")
	}
	if req.Grace == "" {
		return badField("grace", `missing; how long the old keys stay valid, e.g. "24h" or "0s"`)
	}
	grace, err := time.ParseDuration(req.Grace)
	if err != nil || grace < 0 {
		return badField("grace", "want a duration that is not negative, e.g. \"24h\", got %q", req.Grace)
	}
	key, err := decodeKey("key", req.Key)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	d, err := a.reg.Rotate(r.Context(), r.PathValue("id"), key, grace)
	if err != nil {
		return err
	}
	if err := a.refresh(r.Context(), "the new key of device "+d.ID); err != nil {
		return err
	}
	a.record(r, id, "key_rotated", d.ID, fmt.Sprintf("key %s (%s) added, old keys valid for %v", signing.FormatKeyID(key.KID), key.Alg, grace))
	writeJSON(w, d)
	return nil
}

// OperatorList is the answer to GET /api/v1/operators.
type OperatorList struct {
	Operators   []devices.Operator  `json:"operators"`
	Authorities []devices.Authority `json:"authorities"`
}

func (a *adminAPI) operators(w http.ResponseWriter, r *http.Request, _ Identity) error {
	ops, err := a.reg.Operators(r.Context())
	if err != nil {
		return err
	}
	auths, err := a.reg.Authorities(r.Context())
	if err != nil {
		return err
	}
	out := OperatorList{Operators: ops, Authorities: auths}
	if out.Operators == nil {
		out.Operators = []devices.Operator{}
	}
	if out.Authorities == nil {
		out.Authorities = []devices.Authority{}
	}
	writeJSON(w, out)
	return nil
}

func (a *adminAPI) operator(w http.ResponseWriter, r *http.Request, _ Identity) error {
	o, err := a.reg.Operator(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, o)
	return nil
}

func (a *adminAPI) enrollOperator(w http.ResponseWriter, r *http.Request, id Identity) error {
	var raw struct {
		ID    string            `json:"id"`
		Keys  []json.RawMessage `json:"keys"`
		Scope devices.Scope     `json:"scope"`
	}
	if err := decodeStrict(r, &raw); err != nil {
		return err
	}
	if len(raw.Keys) == 0 {
		return badField("keys", "missing; an operator needs at least one public key")
	}
	o := devices.Operator{ID: raw.ID, Scope: raw.Scope}
	for i, kr := range raw.Keys {
		k, err := decodeKey(fmt.Sprintf("keys[%d]", i), kr)
		if err != nil {
			return err
		}
		o.Keys = append(o.Keys, k)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.reg.EnrollOperator(r.Context(), o); err != nil {
		return err
	}
	if err := a.refresh(r.Context(), "operator "+o.ID); err != nil {
		return err
	}
	a.record(r, id, "operator_enrolled", "", fmt.Sprintf("operator %s, key %s, zones %s, kinds %s, commands %s", o.ID, signing.FormatKeyID(o.Keys[0].KID),
		strings.Join(o.Scope.Zones, ","), strings.Join(o.Scope.Kinds, ","), strings.Join(o.Scope.Commands, ",")))
	stored, err := a.reg.Operator(r.Context(), o.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/api/v1/operators/"+o.ID)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(stored)
}

func (a *adminAPI) revokeOperator(w http.ResponseWriter, r *http.Request, id Identity) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	o, err := a.reg.RevokeOperator(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if err := a.refresh(r.Context(), "the revocation of operator "+o.ID); err != nil {
		return err
	}
	a.record(r, id, "operator_revoked", "", fmt.Sprintf("operator %s: %d key(s) revoked", o.ID, len(o.Keys)))
	writeJSON(w, AdminResult{Owner: "operator " + o.ID, Keys: len(o.Keys)})
	return nil
}

func (a *adminAPI) addAuthorityKey(w http.ResponseWriter, r *http.Request, id Identity) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	key, err := decodeKey("body", body)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	auth, err := a.reg.AddAuthorityKey(r.Context(), r.PathValue("id"), key)
	if err != nil {
		return err
	}
	if err := a.refresh(r.Context(), "the key of authority "+auth.ID); err != nil {
		return err
	}
	a.record(r, id, "authority_key_added", "", fmt.Sprintf("authority %s: key %s (%s) added, %d key(s) in all", auth.ID, signing.FormatKeyID(key.KID), key.Alg, len(auth.Keys)))
	writeJSON(w, auth)
	return nil
}

func (a *adminAPI) export(w http.ResponseWriter, r *http.Request, id Identity) error {
	// Into memory first: an export that fails halfway must be an error
	// status, not a truncated document that looks whole.
	var buf bytes.Buffer
	if err := a.reg.Export(r.Context(), &buf); err != nil {
		return &enrollError{http.StatusInternalServerError, "export: " + oneLine(err)}
	}
	a.record(r, id, "registry_exported", "", fmt.Sprintf("%d bytes", buf.Len()))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.Write(buf.Bytes()) // a client that went away has nothing left to be told
	return nil
}

// backupStore is a store that can copy itself whole (the embedded bbolt
// store); a shared store such as NATS JetStream is backed up by its own
// tools.
type backupStore interface {
	Backup(ctx context.Context, size func(int64), w io.Writer) (int64, error)
}

func (a *adminAPI) backup(w http.ResponseWriter, r *http.Request, id Identity) error {
	store, ok := a.s.store.(backupStore)
	if !ok {
		return &enrollError{http.StatusNotImplemented, "backup: this broker's store is shared (NATS JetStream): back it up with the NATS tools (nats stream backup)"}
	}
	// A store of many devices takes longer to send than the API's write
	// timeout allows an ordinary answer; this one is an admin's, streamed
	// from one read transaction, and the client's Content-Length check
	// tells a cut-off copy from a whole one.
	http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="signet.db"`)
	n, err := store.Backup(r.Context(), func(size int64) {
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
	}, w)
	if err != nil {
		a.s.log.Error("online backup failed", "bytes", n, "err", err)
		if n == 0 {
			return &enrollError{http.StatusInternalServerError, "backup: " + oneLine(err)}
		}
		return nil // the headers are gone; the short body tells the client
	}
	a.record(r, id, "store_backup", "", fmt.Sprintf("%d bytes", n))
	return nil
}

// record writes one admin security event (audit log, $security/events).
func (a *adminAPI) record(r *http.Request, id Identity, reason, device, detail string) {
	a.s.events.Record(audit.Event{
		Time: time.Now().UTC(), Kind: "admin", User: id.Name, Remote: r.RemoteAddr,
		Device: device, Topic: r.Method + " " + r.URL.Path, Reason: reason, Detail: detail,
	})
}

// readBody reads a request body within MaxEnrollBody.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxEnrollBody+1))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &enrollError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", tooBig.Limit)}
		}
		return nil, &enrollError{http.StatusBadRequest, "body: " + oneLine(err)}
	}
	if len(body) > MaxEnrollBody {
		return nil, &enrollError{http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than %d bytes", MaxEnrollBody)}
	}
	return body, nil
}

// decodeStrict reads one JSON object into v: unknown members, trailing
// data and private key material anywhere in it are refused, naming them.
func decodeStrict(r *http.Request, v any) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return &enrollError{http.StatusBadRequest, "body: want one JSON object"}
	}
	if err := refusePrivate(members); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonFieldError(err)
	}
	if dec.More() {
		return &enrollError{http.StatusBadRequest, "body: trailing data after the object"}
	}
	return nil
}

// decodeKey reads one public key (kid, alg, public, status, not_after),
// refusing private members as enrolment does.
func decodeKey(field string, raw json.RawMessage) (devices.Key, error) {
	if err := checkKeyMembers(field, raw); err != nil {
		return devices.Key{}, err
	}
	var k devices.Key
	if err := json.Unmarshal(raw, &k); err != nil {
		return k, badField(field, "%s", oneLine(err))
	}
	if len(k.KID) == 0 || len(k.Public) == 0 {
		return k, badField(field, "want kid, alg and public")
	}
	return k, nil
}
