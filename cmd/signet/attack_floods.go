package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/signet-city/signet/firmware-sim/attack"
	simrt "github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
)

// floodWorkers is how many connections a flood runs at once.
const floodWorkers = 16

// connectFlood opens --flood connections as fast as they go, floodWorkers
// at a time, each logging in as the victim with a connect token a forger
// signed under the victim's kid: the broker must verify and refuse every
// one (CONNACK 0x86 or 0x87, MQTT 5 §3.2.2.2) or close it (its connecting
// cap), and keep serving the honest fleet.
func connectFlood(ctx context.Context, e *scenarioEnv) (hostileResult, error) {
	var h hostileResult
	victim, err := e.boot(e.cast.victim)
	if err != nil {
		return h, err
	}
	u, err := url.Parse(e.broker)
	if err != nil {
		return h, err
	}
	forger, err := signing.GenerateKey(victim.Key.Alg())
	if err != nil {
		return h, err
	}
	var next atomic.Int64
	var mu sync.Mutex
	outcomes := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < floodWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(e.o.scen.flood) {
					return
				}
				ok, what := floodConnect(ctx, u.Host, victim, forger, fmt.Sprintf("%s-flood-%d", victim.ID, i))
				mu.Lock()
				h.sent++
				if ok {
					h.accepted++
				} else {
					h.refused++
				}
				outcomes[what]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	h.note = summarise(outcomes)
	return h, nil
}

// floodConnect makes one hostile CONNECT and says whether the broker let
// it in, and what it answered.
func floodConnect(ctx context.Context, host string, victim *simrt.Device, forger signing.PrivateKey, clientID string) (bool, string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return false, "dial refused"
	}
	defer nc.Close()
	now := time.Now().Unix()
	tok, err := signing.Sign(forger, signing.Header{KID: victim.KID, Counter: uint64(time.Now().UnixNano()), IssuedAt: &now}, []byte(clientID), simrt.ConnectTopic)
	if err != nil {
		return false, "token: " + err.Error()
	}
	cl := paho5.NewClient(paho5.ClientConfig{Conn: nc, ClientID: clientID})
	ack, err := cl.Connect(ctx, &paho5.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30,
		UsernameFlag: true, Username: victim.ID, PasswordFlag: true, Password: tok})
	switch {
	case ack != nil && ack.ReasonCode < 0x80 && err == nil:
		cl.Disconnect(&paho5.Disconnect{})
		return true, "CONNACK " + attack.CodeName(ack.ReasonCode)
	case ack != nil:
		return false, "CONNACK " + attack.CodeName(ack.ReasonCode)
	}
	return false, "closed by the broker"
}

// publishFlood has the victim publish --flood messages under its kid with
// a forger's signature, as fast as floodWorkers sessions get PUBACKs: past
// the per-identity rate limit they are refused as rate_limited before any
// signature is checked; every one must be refused.
func publishFlood(ctx context.Context, e *scenarioEnv) (hostileResult, error) {
	var h hostileResult
	var next atomic.Int64
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, floodWorkers)
	for w := 0; w < floodWorkers; w++ {
		victim, err := e.boot(e.cast.victim)
		if err != nil {
			return h, err
		}
		conn, err := attack.Dial(ctx, e.broker, victim, fmt.Sprintf("%s-flood-%d", victim.ID, w))
		if err != nil {
			return h, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer conn.Close()
			scene := attack.Scene{Victim: victim}
			for ctx.Err() == nil && next.Add(1) <= int64(e.o.scen.flood) {
				a, err := scene.Build(attack.KindForgedSignature)
				if err != nil {
					errs <- err
					return
				}
				code, err := conn.Publish(ctx, a.Topic, a.Payload)
				mu.Lock()
				h.sent++
				switch {
				case err != nil:
					h.unanswered++
				case attack.Refused(code):
					h.refused++
					codes[attack.CodeName(code)]++
				default:
					h.accepted++
					codes[attack.CodeName(code)]++
				}
				mu.Unlock()
				if err != nil {
					return // the session is gone; the others carry on
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return h, err
	}
	h.note = summarise(codes)
	return h, nil
}

// poisonedBatches has the victim publish --flood/2 of its own real
// readings from floodWorkers goroutines at once (so they reach the broker's
// verifier together), every hundredth one tampered in flight: the 1% must be
// refused as bad_signature and the 99% accepted, which a verifier that
// rejected a whole batch on one bad signature would fail.
func poisonedBatches(ctx context.Context, e *scenarioEnv) (hostileResult, error) {
	var h hostileResult
	victim, err := e.boot(e.cast.victim)
	if err != nil {
		return h, err
	}
	conn, err := attack.Dial(ctx, e.broker, victim, victim.ID+"-attacker")
	if err != nil {
		return h, err
	}
	defer conn.Close()
	// Under the per-identity rate limit (200/s by default), so every
	// refusal is the signature's.
	rate := min(e.o.rate, 150)
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	total := max(100, e.o.scen.flood/2)
	var mu sync.Mutex
	var signMu sync.Mutex // the victim's counter store is one sequence
	valid, validAcked := 0, 0
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, floodWorkers)
	for w := 0; w < floodWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scene := attack.Scene{Victim: victim}
			for {
				i := next.Add(1)
				if i > int64(total) || ctx.Err() != nil {
					return
				}
				select {
				case <-tick.C:
				case <-ctx.Done():
					return
				}
				poisoned := i%100 == 0
				signMu.Lock()
				var topic string
				var msg []byte
				if poisoned {
					a, err := scene.Build(attack.KindTamper)
					topic, msg = a.Topic, a.Payload
					if err != nil {
						signMu.Unlock()
						errs <- err
						return
					}
				} else {
					c, err := attack.Capture(victim, time.Now())
					topic, msg = c.Topic, c.Message
					if err != nil {
						signMu.Unlock()
						errs <- err
						return
					}
				}
				signMu.Unlock()
				code, err := conn.Publish(ctx, topic, msg)
				mu.Lock()
				switch {
				case poisoned && err != nil:
					h.sent++
					h.unanswered++
				case poisoned && attack.Refused(code):
					h.sent++
					h.refused++
				case poisoned:
					h.sent++
					h.accepted++
				default:
					valid++
					if err == nil && !attack.Refused(code) {
						validAcked++
					} else {
						h.collateral++
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return h, err
	}
	h.note = fmt.Sprintf("its own valid readings in the same batches: %d/%d accepted", validAcked, valid)
	return h, nil
}

// summarise lists outcomes with their counts, most frequent first.
func summarise(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || (m[keys[i]] == m[keys[j]] && keys[i] < keys[j]) })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
