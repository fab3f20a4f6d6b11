package broker_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/signet-city/signet/broker"
)

// noLoginBackoff makes every login back-off a nanosecond, for tests that
// try wrong and right passwords from one address in turn and count what
// each attempt yields; the back-off itself is tested here.
func noLoginBackoff(cfg *broker.Config) {
	cfg.AccessLimits.AddressBackoffBase, cfg.AccessLimits.AddressBackoffMax = time.Nanosecond, time.Nanosecond
	cfg.AccessLimits.NameBackoffBase, cfg.AccessLimits.NameBackoffMax = time.Nanosecond, time.Nanosecond
}

// guessingLimits: two hashes at once, four more waiting, and back-offs
// long enough that none ends during a test.
func guessingLimits(cfg *broker.Config) {
	cfg.AccessLimits = broker.AccessLimits{
		MaxConcurrentHashes: 2, MaxWaitingHashes: 4, MaxHashesPerAddress: 1,
		AddressBackoffBase: time.Hour, AddressBackoffMax: time.Hour, NameBackoffBase: time.Hour, NameBackoffMax: time.Hour,
	}
}

// from dials addr from the loopback address 127.0.0.n, so that each
// attacker in a test is a remote address of its own.
func from(n int) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(n))}, Timeout: 10 * time.Second}
}

// connack5 logs in with MQTT 5 (paho.golang) from 127.0.0.n and returns
// the CONNACK reason code.
func connack5(t *testing.T, addr string, n int, clientID, user, pass string) byte {
	t.Helper()
	conn, err := from(n).Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return 0xff
	}
	defer conn.Close()
	cl := paho5.NewClient(paho5.ClientConfig{Conn: conn, ClientID: clientID})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ack, err := cl.Connect(ctx, &paho5.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30,
		UsernameFlag: true, Username: user, PasswordFlag: true, Password: []byte(pass)})
	if ack == nil {
		t.Errorf("%s from 127.0.0.%d: no CONNACK: %v", clientID, n, err)
		return 0xff
	}
	if ack.ReasonCode == 0 {
		cl.Disconnect(&paho5.Disconnect{})
	}
	return ack.ReasonCode
}

// holdHashes makes the broker's guard hold every hash from an address other
// than 127.0.0.1 in its slot until release is closed, announcing each on
// entered: the test then sees how many run at once without timing them.
func holdHashes(t *testing.T, srv *broker.Server) (entered chan string, release func()) {
	entered, gate := make(chan string, 64), make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release) // a failed test must not leave hashes held under the broker's shutdown
	broker.SetHashHook(srv.PasswordGuard(), func(remote, name string) {
		if host, _, _ := net.SplitHostPort(remote); host != "127.0.0.1" {
			entered <- remote
			<-gate
		}
	})
	return entered, release
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(60 * time.Second):
		t.Fatalf("no %s within 60 s", what)
		panic("unreachable")
	}
}

// TestPasswordGuessingOverMQTT: ten MQTT 5 clients, each from its own
// address, guess admin's password at once. At most two hashes run at once
// (counted in the guard's hash slots while they are held there); the four
// logins beyond the queue are refused at once with 0x89 (server busy); once
// the first wrong guesses land, the queued ones are refused with 0x9F
// (connection rate exceeded) without hashing, and so is every later guess
// from those addresses, over MQTT 3.1.1 too (return code 3). Meanwhile the
// real admin, from the address it logged in from before, logs in with its
// password; and a name that is no user costs a hash like a real one.
func TestPasswordGuessingOverMQTT(t *testing.T) {
	c := startCity(t, guessingLimits)
	addr, guard := c.srv.MQTTAddr(), c.srv.PasswordGuard()
	if code := connack5(t, addr, 1, "ops-1", "admin", testPassword); code != 0 {
		t.Fatalf("admin before the attack: CONNACK %#x", code)
	}
	entered, release := holdHashes(t, c.srv)
	const attackers = 10
	codes := make(chan byte, attackers)
	for i := range attackers {
		go func() {
			codes <- connack5(t, addr, 10+i, fmt.Sprintf("guess-%d", i), "admin", fmt.Sprintf("guess %d", i))
		}()
	}
	recv(t, entered, "first held hash")
	recv(t, entered, "second held hash")
	for range attackers - 6 { // 2 hashing + 4 waiting are admitted
		if code := recv(t, codes, "refusal"); code != 0x89 {
			t.Fatalf("a login beyond the queue: CONNACK %#x, want 0x89 (server busy)", code)
		}
	}
	st := guard.Stats()
	if st.InFlight != 2 || st.Peak != 2 || st.Waiting != 6 {
		t.Fatalf("with two hashes held: %+v, want 2 in flight, peak 2, 6 admitted", st)
	}
	hashesBefore := st.Hashes
	release()
	count := map[byte]int{}
	for range 6 {
		count[recv(t, codes, "answer")]++
	}
	if count[0x86] != 2 || count[0x9F] != 4 {
		t.Fatalf("answers after the held hashes: %v, want 2 x 0x86 (hashed, wrong) and 4 x 0x9F (backing off)", count)
	}
	if st := guard.Stats(); st.Hashes != hashesBefore || st.Peak != 2 {
		t.Fatalf("queued guesses hashed: %+v, want %d hashes and peak 2", st, hashesBefore)
	}

	// The attack goes on: every guess is refused without a hash, over MQTT
	// 5 and 3.1.1 alike...
	for i := range attackers {
		if code := connack5(t, addr, 10+i, fmt.Sprintf("again-%d", i), "admin", "another guess"); code != 0x9F {
			t.Fatalf("guess again from 127.0.0.%d: CONNACK %#x, want 0x9F", 10+i, code)
		}
	}
	opts := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("guess-v3").SetUsername("admin").SetPassword("v3 guess").
		SetAutoReconnect(false).SetConnectRetry(false).SetProtocolVersion(4).SetDialer(from(10))
	v3 := paho.NewClient(opts)
	if tok := v3.Connect(); !tok.WaitTimeout(60*time.Second) || tok.Error() == nil || tok.Error().Error() != "server Unavailable" {
		t.Fatalf("MQTT 3.1.1 guess while backing off: %v, want return code 3 (server unavailable)", tok.Error())
	}
	if st := guard.Stats(); st.Hashes != hashesBefore {
		t.Fatalf("guesses while backing off hashed: %d hashes, want %d", st.Hashes, hashesBefore)
	}
	// ...while the real admin logs in, with one hash.
	if code := connack5(t, addr, 1, "ops-2", "admin", testPassword); code != 0 {
		t.Fatalf("admin during the attack: CONNACK %#x, want success", code)
	}
	if st := guard.Stats(); st.Hashes != hashesBefore+1 {
		t.Fatalf("admin's login: %d hashes, want %d", st.Hashes, hashesBefore+1)
	}
	// A name that is no user is hashed (against the decoy) like a user's.
	if code := connack5(t, addr, 50, "probe", "no-such-user", "guess"); code != 0x86 {
		t.Fatalf("unknown name: CONNACK %#x, want 0x86", code)
	}
	if st := guard.Stats(); st.Hashes != hashesBefore+2 {
		t.Fatalf("unknown name: %d hashes, want %d (a decoy hash)", st.Hashes, hashesBefore+2)
	}
	// One address holds one hash at a time: its second concurrent login is
	// refused at once.
	second := make(chan byte, 1)
	entered2, gate2 := make(chan string, 4), make(chan struct{})
	var once2 sync.Once
	release2 := func() { once2.Do(func() { close(gate2) }) }
	t.Cleanup(release2)
	broker.SetHashHook(guard, func(remote, name string) {
		if name == "viewer-z1" {
			entered2 <- remote
			<-gate2
		}
	})
	go func() { second <- connack5(t, addr, 60, "one", "viewer-z1", "wrong") }()
	recv(t, entered2, "held hash of 127.0.0.60")
	if code := connack5(t, addr, 60, "two", "viewer-z1", "wrong"); code != 0x89 {
		t.Fatalf("second concurrent login from one address: CONNACK %#x, want 0x89", code)
	}
	release2()
	if code := recv(t, second, "first login of 127.0.0.60"); code != 0x86 {
		t.Fatalf("held wrong login: CONNACK %#x, want 0x86", code)
	}
}

// TestPasswordGuessingOverHTTP: the same guard answers HTTP basic auth.
// Ten HTTP clients, each from its own address, guess viewer-z1's password
// at once: at most two hashes run at once, four logins beyond the queue get
// 503, the queued ones 429 without hashing once the first guesses fail,
// and so does every later guess. The real viewer, who logged in over MQTT
// from 127.0.0.1 before (one guard for both faces), reads the API
// meanwhile; an unknown name costs a hash.
func TestPasswordGuessingOverHTTP(t *testing.T) {
	c := startCity(t, func(cfg *broker.Config) { cfg.HTTP = "127.0.0.1:0"; guessingLimits(cfg) })
	base, guard := "http://"+c.srv.HTTPAddr(), c.srv.PasswordGuard()
	if code := connack5(t, c.srv.MQTTAddr(), 1, "app-1", "viewer-z1", testPassword); code != 0 {
		t.Fatalf("viewer before the attack: CONNACK %#x", code)
	}
	get := func(n int, user, pass string) (int, http.Header) {
		t.Helper()
		client := &http.Client{Transport: &http.Transport{DialContext: from(n).DialContext, DisableKeepAlives: true}, Timeout: 60 * time.Second}
		req, _ := http.NewRequest("GET", base+"/api/v1/twins", nil)
		req.SetBasicAuth(user, pass)
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return 0, nil
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	entered, release := holdHashes(t, c.srv)
	const attackers = 10
	codes := make(chan int, attackers)
	for i := range attackers {
		go func() {
			code, _ := get(10+i, "viewer-z1", fmt.Sprintf("guess %d", i))
			codes <- code
		}()
	}
	recv(t, entered, "first held hash")
	recv(t, entered, "second held hash")
	for range attackers - 6 {
		if code := recv(t, codes, "refusal"); code != http.StatusServiceUnavailable {
			t.Fatalf("a login beyond the queue: %d, want 503", code)
		}
	}
	if st := guard.Stats(); st.InFlight != 2 || st.Peak != 2 || st.Waiting != 6 {
		t.Fatalf("with two hashes held: %+v, want 2 in flight, peak 2, 6 admitted", st)
	}
	hashesBefore := guard.Stats().Hashes
	release()
	count := map[int]int{}
	for range 6 {
		count[recv(t, codes, "answer")]++
	}
	if count[401] != 2 || count[429] != 4 {
		t.Fatalf("answers after the held hashes: %v, want 2 x 401 and 4 x 429", count)
	}
	for i := range attackers {
		code, h := get(10+i, "viewer-z1", "another guess")
		if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
			t.Fatalf("guess again from 127.0.0.%d: %d (Retry-After %q), want 429 with Retry-After", 10+i, code, h.Get("Retry-After"))
		}
	}
	if st := guard.Stats(); st.Hashes != hashesBefore || st.Peak != 2 {
		t.Fatalf("guesses while backing off hashed: %+v, want %d hashes, peak 2", st, hashesBefore)
	}
	if code, _ := get(1, "viewer-z1", testPassword); code != 200 {
		t.Fatalf("the real viewer during the attack: %d, want 200", code)
	}
	if code, _ := get(50, "no-such-user", "guess"); code != 401 {
		t.Fatalf("unknown name: %d, want 401", code)
	}
	if st := guard.Stats(); st.Hashes != hashesBefore+2 {
		t.Fatalf("real viewer and unknown name: %d hashes, want %d (one each; the unknown name's a decoy)", st.Hashes, hashesBefore+2)
	}
	// Operators see it on /metrics.
	_, metrics, _ := httpCall(t, "GET", base+"/metrics", "", "", "", "")
	st := guard.Stats()
	for _, want := range []string{fmt.Sprintf("signet_login_hashes_total %d", st.Hashes), fmt.Sprintf("signet_login_refused_total %d", st.Refused), "signet_login_hashes_running 0"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
