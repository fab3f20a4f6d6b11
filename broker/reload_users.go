package broker

import (
	"strings"
	"sync/atomic"
)

// userTable is the configured users, swapped whole on a reload: the MQTT
// access hook and the HTTP API read the same table, so a reload changes
// both faces at one instant and a reader never sees half of it.
type userTable struct {
	p atomic.Pointer[userSet]
}

// userSet is one generation of users; it is never changed once made.
type userSet struct {
	list   []User
	byName map[string]User
	byPin  map[string]User // lower-case hex SHA-256 of a client certificate's DER
}

func newUserTable(users []User) *userTable {
	t := &userTable{}
	t.set(users)
	return t
}

// set replaces the users.
func (t *userTable) set(users []User) {
	s := &userSet{list: append([]User(nil), users...), byName: map[string]User{}, byPin: map[string]User{}}
	for _, u := range users {
		s.byName[u.Name] = u
		if u.CertSHA256 != "" {
			s.byPin[strings.ToLower(u.CertSHA256)] = u
		}
	}
	t.p.Store(s)
}

// load is the current generation.
func (t *userTable) load() *userSet { return t.p.Load() }

func (t *userTable) byName(name string) (User, bool) {
	u, ok := t.load().byName[name]
	return u, ok
}

func (t *userTable) byPin(pin string) (User, bool) {
	u, ok := t.load().byPin[pin]
	return u, ok
}

// cachedLogin is a basic-auth login the HTTP API checked, with the
// generation of users it was checked against: after a reload it is checked
// again, so a changed role or password applies at once.
type cachedLogin struct {
	id    Identity
	users *userSet
}
