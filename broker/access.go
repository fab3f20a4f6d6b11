package broker

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/signet-city/signet/broker/audit"
	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/signing"
)

// ConnectTopic is the external_aad of a device's connect token.
const ConnectTopic = "$connect"

// tokenSkew is how far a connect token's iat may be from the broker's clock.
const tokenSkew = 5 * time.Minute

// User is a person or application: it logs in with a password, an HTTP API
// bearer token, or (over the mTLS listener) a pinned client certificate.
type User struct {
	Name         string   `yaml:"name"`
	Role         Role     `yaml:"role"`
	Zones        []string `yaml:"zones"`
	PasswordHash string   `yaml:"password_hash"` // argon2id PHC string
	// TokenSHA256 is the hex SHA-256 of an HTTP API bearer token ("" for none).
	TokenSHA256 string `yaml:"token_sha256"`
	// CertSHA256 is the hex SHA-256 of the DER of a client certificate that
	// logs in as this user on the mTLS listener ("" for none).
	CertSHA256 string `yaml:"cert_sha256"`
}

// AccessHook authenticates clients, binds client ids to identities,
// enforces the role and zone ACL, and refuses wills aimed at Signet's roots.
//
// Devices log in with a client certificate pinned in the registry (TLS
// listener; client id = device id), or with username = device id and
// password = a connect token:
// a COSE_Sign1 by the device key over payload = client id, with topic
// "$connect" as external_aad, an iat within 5 minutes of the broker's clock,
// and a counter that goes through the device key's replay window like any
// message. People and applications log in with a name and an argon2id
// password, or on the mTLS listener with a client certificate pinned by
// their cert_sha256 (the CONNECT username, if any, must then be their name;
// a password beside it is not needed and not checked).
//
// A verified client certificate pinned to no device and no user is refused
// when the CONNECT carries no username or password (even with
// allow_anonymous: a client that shows a certificate claims an identity);
// with them, the certificate only secured the transport and the password or
// connect token decides.
type AccessHook struct {
	mqtt.HookBase
	edge           *devices.Edge
	users          *userTable // by name and by certificate pin; swapped by Reload
	allowAnonymous bool
	events         EventSink
	log            *slog.Logger
	now            func() time.Time
	logins         *PasswordGuard // user passwords (passwordguard.go)

	sessions   *sessionTable // client id -> identity, for each session's lifetime
	maxIDBytes *liveInt      // longest client id accepted; a reload swaps it
	maxExpiry  uint32        // longest session expiry interval, seconds

	mu   sync.Mutex
	pins map[string]Identity // hex SHA-256 of a client certificate's DER -> device
}

// NewAccessHook returns the hook, with the default bounds of client ids
// and sessions (LimitClients changes them).
func NewAccessHook(edge *devices.Edge, users []User, allowAnonymous bool, events EventSink, log *slog.Logger) *AccessHook {
	if log == nil {
		log = slog.Default()
	}
	h := &AccessHook{
		edge: edge, users: newUserTable(users), allowAnonymous: allowAnonymous, events: events, log: log, now: time.Now,
		logins: NewPasswordGuard(AccessLimits{}, users),
	}
	h.LimitClients(ClientsConfig{})
	return h
}

// LimitClients sets the bounds of client ids and sessions (zero fields: the
// defaults). Call it before the broker serves: it starts an empty session
// table.
func (h *AccessHook) LimitClients(c ClientsConfig) {
	c = c.resolved()
	h.sessions = newSessionTable(c.MaxSessions, c.MaxSessionsPerIdentity)
	h.maxIDBytes, h.maxExpiry = newLiveInt(c.MaxClientIDBytes), uint32(c.MaxSessionExpirySeconds)
}

// ID names the hook.
func (h *AccessHook) ID() string { return "signet-access" }

// SetCertPins sets the devices' pinned client certificates (hex SHA-256 of
// the DER). A certificate pinned to a device and to a user is refused at
// CONNECT; the overlap is logged here so an operator can remove one pin.
func (h *AccessHook) SetCertPins(pins map[string]Identity) {
	for pin, id := range pins {
		if u, ok := h.users.byPin(strings.ToLower(pin)); ok {
			h.log.Warn("client certificate pinned to a device and a user; it will be refused", "sha256", pin, "device", id.Device, "user", u.Name)
		}
	}
	h.mu.Lock()
	h.pins = pins
	h.mu.Unlock()
}

// errUnpinned is a verified client certificate that no device or user pins.
var errUnpinned = errors.New("client certificate is pinned to no device or user")

// verifiedCertSHA256 returns the hex SHA-256 of the leaf certificate the
// client presented on a TLS connection, if the TLS layer verified it against
// the client CA (mTLS); an unverified certificate proves nothing.
func verifiedCertSHA256(cl *mqtt.Client) (string, bool) {
	tc, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return "", false
	}
	chains := tc.ConnectionState().VerifiedChains
	if len(chains) == 0 || len(chains[0]) == 0 {
		return "", false
	}
	sum := sha256.Sum256(chains[0][0].Raw)
	return hex.EncodeToString(sum[:]), true
}

// certIdentity returns the device or user that pins the certificate pin;
// user is the CONNECT username. It returns an error wrapping errUnpinned
// when nobody pins it.
func (h *AccessHook) certIdentity(cl *mqtt.Client, pin, user string) (Identity, string, error) {
	h.mu.Lock()
	dev, isDevice := h.pins[pin]
	h.mu.Unlock()
	u, isUser := h.users.byPin(pin)
	switch {
	case isDevice && isUser:
		return Identity{}, "bad_certificate", fmt.Errorf("certificate sha256 %s is pinned to both device %q and user %q; remove one pin", pin, dev.Device, u.Name)
	case isDevice:
		if cl.ID != dev.Device {
			return Identity{}, "bad_certificate", fmt.Errorf("certificate of device %q used with client id %q", dev.Device, cl.ID)
		}
		return dev, "", nil
	case isUser:
		if user != "" && user != u.Name {
			return Identity{}, "bad_certificate", fmt.Errorf("certificate of user %q presented with username %q", u.Name, user)
		}
		return Identity{Role: u.Role, Name: u.Name, Zones: u.Zones}, "", nil
	}
	return Identity{}, "unpinned_certificate", fmt.Errorf("%w: sha256 %s", errUnpinned, pin)
}

// Provides lists the events the hook handles.
func (h *AccessHook) Provides(b byte) bool {
	return oneOf(b, mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnWill, mqtt.OnDisconnect,
		mqtt.OnClientExpired, mqtt.OnSelectSubscribers)
}

// Identity returns who cl authenticated as, for as long as its session
// lives (a disconnected persistent session included).
func (h *AccessHook) Identity(cl *mqtt.Client) (Identity, bool) {
	return h.sessions.identity(cl)
}

// Sessions is how many sessions (client ids bound to an identity) the
// broker holds.
func (h *AccessHook) Sessions() int { return h.sessions.len() }

// OnConnectAuthenticate decides a CONNECT. Connect-time proof must be here:
// MQTT 5 AUTH packets reach hooks only after CONNACK.
func (h *AccessHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	// Wills skip OnPublish and the write ACL: refuse one aimed at Signet's
	// roots before anything else (and before a connect token's counter is
	// spent).
	if pk.Connect.WillFlag && topic.IsReserved(pk.Connect.WillTopic) {
		h.record(cl, "will_refused", fmt.Errorf("a will on %q would publish unverified on a Signet topic", pk.Connect.WillTopic))
		return false
	}
	id, reason, err := h.authenticate(cl, pk)
	if err == nil {
		reason, err = h.bind(cl, id)
	}
	if err != nil {
		h.record(cl, reason, err)
		return false
	}
	return true
}

// bind ties the client id to the identity for the session's lifetime: a
// registered device's id is that device's alone, and a different identity
// can never take over a session (its subscriptions and queued messages) by
// reusing its id.
func (h *AccessHook) bind(cl *mqtt.Client, id Identity) (string, error) {
	registered, own := h.ownDeviceID(cl.ID, id)
	if registered && !own {
		return "client_id_reserved", fmt.Errorf("client id %q is the id of a registered device; only that device may use it, not %s", cl.ID, id.key())
	}
	err := h.sessions.bind(cl, id, own)
	switch {
	case errors.Is(err, errSessionQuota):
		return "session_quota", err
	case err != nil:
		return "session_takeover", err
	}
	return "", nil
}

func (h *AccessHook) authenticate(cl *mqtt.Client, pk packets.Packet) (Identity, string, error) {
	user, pass := string(pk.Connect.Username), pk.Connect.Password
	if pin, ok := verifiedCertSHA256(cl); ok {
		id, reason, err := h.certIdentity(cl, pin, user)
		if !errors.Is(err, errUnpinned) || (user == "" && len(pass) == 0) {
			return id, reason, err
		}
		// Pinned to nobody, with credentials: the certificate only secured
		// the transport; the password or connect token decides.
	}
	if user == "" && len(pass) == 0 {
		if h.allowAnonymous {
			return Identity{Role: RoleAnonymous, Name: "anonymous:" + cl.ID}, "", nil
		}
		return Identity{}, "anonymous_refused", fmt.Errorf("anonymous clients are not allowed")
	}
	// Users, and names that are neither user nor device, go through the
	// password guard (passwordguard_mqtt.go).
	if _, isDevice := h.edge.Twin(user); h.isUser(user) || !isDevice {
		return h.passwordLogin(cl, user, pass)
	}
	return h.deviceToken(cl, user, pass)
}

// deviceToken checks a device's connect token (see AccessHook).
func (h *AccessHook) deviceToken(cl *mqtt.Client, device string, token []byte) (Identity, string, error) {
	env, err := signing.Parse(token, 0)
	if err != nil {
		return Identity{}, "bad_token", fmt.Errorf("user %q is no known user, and the password is no connect token: %w", device, err)
	}
	key, ok := h.edge.KeyByKID(env.Header.KID)
	if !ok || key.Role != devices.RoleDevice || key.Owner != device {
		return Identity{}, "bad_token", fmt.Errorf("connect token kid %s is not a key of device %q", signing.FormatKeyID(env.Header.KID), device)
	}
	if !key.Usable(h.now()) {
		return Identity{}, "revoked", fmt.Errorf("device %q key %s is revoked or expired", device, signing.FormatKeyID(env.Header.KID))
	}
	if string(env.Payload) != cl.ID {
		return Identity{}, "bad_token", fmt.Errorf("connect token is for client id %q, not %q", env.Payload, cl.ID)
	}
	if iat := env.Header.IssuedAt; iat == nil || h.now().Sub(time.Unix(*iat, 0)).Abs() > tokenSkew {
		return Identity{}, "expired", fmt.Errorf("connect token iat missing or more than %s from now", tokenSkew)
	}
	if err := h.edge.PreCheck(env.Header.KID, env.Header.Counter); err != nil {
		return Identity{}, "replay", err
	}
	if err := env.Verify(key.Public, ConnectTopic); err != nil {
		return Identity{}, string(signing.ReasonOf(err)), err
	}
	if _, err := h.edge.Commit(context.Background(), devices.Update{KID: env.Header.KID, Counter: env.Header.Counter, Kind: devices.Event, TS: h.now()}); err != nil {
		return Identity{}, string(signing.ReasonOf(err)), err
	}
	return Identity{Role: RoleDevice, Name: device, Device: device, Zones: []string{key.Zone}}, "", nil
}

// OnACLCheck applies the identity's ACL. mochi calls it with the filter at
// SUBSCRIBE and with the topic for every message delivered.
func (h *AccessHook) OnACLCheck(cl *mqtt.Client, t string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	id, ok := h.Identity(cl)
	if !ok {
		return false
	}
	switch {
	case write:
		if !id.MayWrite(t) {
			h.record(cl, "acl_denied", fmt.Errorf("%s %q may not publish on %q", id.Role, id.Name, t))
			return false
		}
		return true
	case strings.ContainsAny(t, "+#") || strings.HasPrefix(t, "$share/"):
		// A filter (a topic name has no wildcard, and $share/ is only a
		// filter's prefix, MQTT 5 §4.8.2).
		return id.MaySubscribe(t)
	default:
		return id.MayRead(t)
	}
}

// OnWill neutralises a will aimed at Signet's roots, as defence in depth:
// such a client is refused at CONNECT, and mochi ignores an error from
// OnWill, so the hook clears the topic instead (no subscriber matches "").
func (h *AccessHook) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	if topic.IsReserved(will.TopicName) {
		h.record(cl, "will_refused", fmt.Errorf("will on %q dropped", will.TopicName))
		will.TopicName, will.Payload, will.Retain = "", nil, false
	}
	return will, nil
}

// OnDisconnect ends the client id's binding with its session: at once for
// a clean session, at expiry (OnClientExpired) for a persistent one, whose
// queued messages are meanwhile read with its identity. A client may raise
// its session expiry in DISCONNECT (MQTT 5 §3.14.2.2.2); it is held to
// clients.max_session_expiry_seconds here, as CONNACK held it at connect.
func (h *AccessHook) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	if p := &cl.Properties.Props; p.SessionExpiryInterval > h.maxExpiry {
		p.SessionExpiryInterval = h.maxExpiry
	}
	h.sessions.disconnected(cl, expire)
}

// OnClientExpired ends a persistent session's binding when mochi drops the
// session.
func (h *AccessHook) OnClientExpired(cl *mqtt.Client) { h.sessions.ended(cl) }

func (h *AccessHook) record(cl *mqtt.Client, reason string, err error) {
	if h.events == nil {
		return
	}
	user := string(cl.Properties.Username)
	if len(user) > 64 {
		user = user[:64]
	}
	client := cl.ID
	if maxID := h.maxIDBytes.get(); len(client) > maxID {
		client = client[:maxID]
	}
	h.events.Record(audit.Event{Time: h.now().UTC(), Kind: "auth_failed", Client: client, User: user, Remote: cl.Net.Remote, Reason: reason, Detail: err.Error()})
}
