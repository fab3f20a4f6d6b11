package broker

import (
	"errors"
	"fmt"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/prometheus/client_golang/prometheus"
)

// sessionTable ties each client id to the identity whose session it is,
// for as long as mochi keeps that session: until a clean session ends at
// disconnect, a persistent one expires, or it is taken over. Only the same
// identity may take a session over (its subscriptions and queued messages,
// MQTT 5 §3.1.2.4), and a registered device's id is that device's alone.
//
// Keeping the identity of a disconnected persistent session is what lets
// mochi queue messages for it under the same read rules as when it was
// connected (MQTT-3.1.2-5): the read ACL asks who the session is.
type sessionTable struct {
	mu                       sync.Mutex
	maxTotal, maxPerIdentity int                       // under mu: a reload changes them (setLimits)
	byID                     map[string]*session       // client id -> its session
	byClient                 map[*mqtt.Client]Identity // connections whose session lives, connected or not
	perIdentity              map[string]int            // quota key -> sessions held
}

// session is one client id's session.
type session struct {
	id    Identity
	quota string       // what the session counts against (quotaKey)
	cl    *mqtt.Client // the connection holding it now
}

// Refusals of bind.
var (
	errForeignSession = errors.New("client id is another identity's")
	errSessionQuota   = errors.New("session quota exceeded")
)

func newSessionTable(maxTotal, maxPerIdentity int) *sessionTable {
	return &sessionTable{
		maxTotal: maxTotal, maxPerIdentity: maxPerIdentity,
		byID: map[string]*session{}, byClient: map[*mqtt.Client]Identity{}, perIdentity: map[string]int{},
	}
}

// quotaKey is what a session counts against: its identity, except that all
// anonymous clients (each its own identity) share one allowance, so that
// they cannot fill the table by inventing client ids.
func quotaKey(id Identity) string {
	if id.Role == RoleAnonymous {
		return string(RoleAnonymous)
	}
	return id.key()
}

// bind gives cl's client id to id. own says the id is id's own device id:
// it is admitted over any quota and over a session another identity holds
// (one bound before the device was enrolled), which mochi then takes over.
func (t *sessionTable) bind(cl *mqtt.Client, id Identity, own bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.byID[cl.ID]
	switch {
	case ok && s.id.key() == id.key():
		if s.cl != cl && s.cl.Closed() {
			// A disconnected session resumed: its old connection's
			// OnDisconnect has run; mochi moves its state to cl.
			delete(t.byClient, s.cl)
		}
		s.cl, s.id = cl, id
		t.byClient[cl] = id
		return nil
	case ok && !own:
		return fmt.Errorf("%w: client id %q belongs to %s; %s may not take over its session", errForeignSession, cl.ID, s.id.key(), id.key())
	case ok: // own device id held by another identity: the device wins
		t.drop(cl.ID, s)
		if s.cl.Closed() {
			delete(t.byClient, s.cl)
		}
	case !own && len(t.byID) >= t.maxTotal:
		return fmt.Errorf("%w: the broker holds %d sessions (clients.max_sessions)", errSessionQuota, len(t.byID))
	case !own && t.perIdentity[quotaKey(id)] >= t.maxPerIdentity:
		return fmt.Errorf("%w: %s holds %d sessions (clients.max_sessions_per_identity)", errSessionQuota, quotaKey(id), t.perIdentity[quotaKey(id)])
	}
	s = &session{id: id, quota: quotaKey(id), cl: cl}
	t.byID[cl.ID] = s
	t.perIdentity[s.quota]++
	t.byClient[cl] = id
	return nil
}

// drop removes the session s of client id (t.mu held).
func (t *sessionTable) drop(clientID string, s *session) {
	delete(t.byID, clientID)
	if t.perIdentity[s.quota]--; t.perIdentity[s.quota] <= 0 {
		delete(t.perIdentity, s.quota)
	}
}

// identity returns who cl's session belongs to, while it lives.
func (t *sessionTable) identity(cl *mqtt.Client) (Identity, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id, ok := t.byClient[cl]
	return id, ok
}

// identityOf returns who holds the session of a client id.
func (t *sessionTable) identityOf(clientID string) (Identity, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.byID[clientID]
	if !ok {
		return Identity{}, false
	}
	return s.id, true
}

// disconnected is cl's connection ending. expire says mochi ends its
// session too (clean start, or session expiry 0); otherwise the session,
// and the identity it reads with, live on until ended or taken over.
func (t *sessionTable) disconnected(cl *mqtt.Client, expire bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.byID[cl.ID]
	if !ok || s.cl != cl {
		delete(t.byClient, cl) // taken over: the session is another connection's
		return
	}
	if expire {
		delete(t.byClient, cl)
		t.drop(cl.ID, s)
	}
}

// ended is cl's session ending after it was disconnected (mochi's session
// expiry).
func (t *sessionTable) ended(cl *mqtt.Client) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.byClient, cl)
	if s, ok := t.byID[cl.ID]; ok && s.cl == cl {
		t.drop(cl.ID, s)
	}
}

// len is how many sessions the table holds.
func (t *sessionTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID)
}

// RegisterMetrics exports the session table's size (signet_client_sessions).
func (h *AccessHook) RegisterMetrics(reg prometheus.Registerer) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "signet_client_sessions",
		Help: "Sessions the broker holds: client ids bound to an identity, connected or kept for a persistent client.",
	}, func() float64 { return float64(h.Sessions()) }))
}
