package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// LoadOptions describes one run of the load driver against one broker.
type LoadOptions struct {
	Addr   string  // broker host:port
	Corpus *Corpus // the pre-signed messages
	QoS    byte    // 0 or 1
	// Gateways is the number of gateway connections, each publishing for
	// every Gateways-th device, interleaved; 0 means one connection per
	// device, logged in as that device.
	Gateways int
	// Rate is the open-loop total rate in messages per second, spread
	// evenly over the connections; 0 runs closed loop (every connection
	// publishes as fast as its Inflight window allows).
	Rate     float64
	Duration time.Duration // the measured window
	// Warmup is how long the load runs before the measured window opens,
	// so that the start (every connection's first message at once, cold
	// caches, the broker's first batches) is not measured.
	Warmup time.Duration
	// Inflight bounds each connection's unacknowledged QoS 1 messages
	// (0: 1 per device connection, 32 per gateway connection).
	Inflight int
	Login    Login
	// SampleZone is the zone whose messages a subscriber receives, for
	// publish-to-delivery latency ("": no subscriber).
	SampleZone string
	// Started, if set, is called when the measured window opens, after the
	// warm-up (the broker's CPU is read there).
	Started func()
	// Ended, if set, is called as the measured window ends, before the
	// connections close.
	Ended func()
}

// Login says how the driver's clients authenticate.
type Login struct {
	// DeviceTokens makes each device connection log in as its device with
	// a fresh connect token (Signet); otherwise device connections send
	// User and Password (a plain broker accepts anything).
	DeviceTokens bool
	// User and Password log in gateway connections (and device ones
	// without DeviceTokens).
	User, Password string
	// Subscriber logs in the sampling subscriber, which also counts
	// security events ($security/events) when the broker publishes them.
	SubscriberUser, SubscriberPassword string
}

// LoadResult is what one run measured.
type LoadResult struct {
	Connections int
	Sent        uint64  // messages written in the measured window
	Acked       uint64  // QoS 1: PUBACKs received in the window
	Seconds     float64 // the measured window
	MsgsPerSec  float64 // acknowledged (QoS 1) or sent (QoS 0) per second
	Delivered   uint64  // messages received by the sampling subscriber
	Rejected    uint64  // security events seen by the subscriber (refusals)
	Exhausted   bool    // a connection sent its whole plan before the end
	PubAck      Histogram
	// StatePubAck and TelemetryPubAck split PubAck by the kind of message:
	// state patches (durable with their twin before the PUBACK) and the
	// rest (telemetry and events, durable once their counter's lease is).
	StatePubAck, TelemetryPubAck Histogram
	Delivery                     Histogram
}

// conn plan: which messages a connection sends, in order.
type connPlan struct {
	clientID string
	device   int // device index for DeviceTokens logins; -1 for gateways
	msgs     []*CorpusMessage
	sent     []atomic.Int64 // ns since the run's epoch, per message, for delivery latency
}

// plan assigns the corpus to connections.
func plan(c *Corpus, gateways int) []*connPlan {
	if gateways <= 0 {
		out := make([]*connPlan, len(c.Devices))
		for i, d := range c.Devices {
			p := &connPlan{clientID: d.ID, device: i}
			for j := range c.Messages[i] {
				p.msgs = append(p.msgs, &c.Messages[i][j])
			}
			out[i] = p
		}
		return out
	}
	gateways = min(gateways, len(c.Devices))
	out := make([]*connPlan, gateways)
	for g := range out {
		out[g] = &connPlan{clientID: fmt.Sprintf("bench-gw-%03d", g), device: -1}
	}
	perDevice := len(c.Messages[0])
	for j := range perDevice {
		for i := range c.Devices {
			p := out[i%gateways]
			p.msgs = append(p.msgs, &c.Messages[i][j])
		}
	}
	return out
}

// sigKey identifies a message by the last 8 bytes of its envelope (its
// signature's tail), so the subscriber can find when it was sent.
func sigKey(payload []byte) uint64 {
	if len(payload) < 8 {
		return 0
	}
	return binary.LittleEndian.Uint64(payload[len(payload)-8:])
}

// RunLoad connects every client, runs the load for o.Duration and returns
// what it measured. Connections are made before the window starts and are
// not measured.
func RunLoad(ctx context.Context, o LoadOptions) (*LoadResult, error) {
	if o.Corpus == nil || len(o.Corpus.Devices) == 0 {
		return nil, errors.New("load: empty corpus")
	}
	if o.QoS > 1 {
		return nil, fmt.Errorf("load: qos %d: want 0 or 1", o.QoS)
	}
	if o.Duration <= 0 {
		return nil, fmt.Errorf("load: duration %v must be positive", o.Duration)
	}
	if o.Warmup < 0 {
		return nil, fmt.Errorf("load: warm-up %v must not be negative", o.Warmup)
	}
	if o.Inflight <= 0 {
		o.Inflight = 1
		if o.Gateways > 0 {
			o.Inflight = 32
		}
	}
	plans := plan(o.Corpus, o.Gateways)
	for _, p := range plans {
		p.sent = make([]atomic.Int64, len(p.msgs))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	conns, err := connectAll(ctx, o, plans)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err != nil {
		return nil, err
	}
	res := &LoadResult{Connections: len(conns)}
	epoch := time.Now()
	// Counting and latency recording are on only between the end of the
	// warm-up and the end of the window.
	var gate measureGate
	var sub *subscriber
	if o.SampleZone != "" {
		if sub, err = startSubscriber(ctx, o, plans, epoch, &gate); err != nil {
			return nil, err
		}
		defer sub.close()
	}

	defer quietGC()()
	var sent, acked atomic.Uint64
	var exhausted atomic.Bool
	openWindow := func() time.Time {
		if o.Started != nil {
			o.Started()
		}
		t := time.Now()
		gate.open(max(1, t.Sub(epoch).Nanoseconds()))
		return t
	}
	var opened time.Time
	if o.Warmup == 0 {
		opened = openWindow() // every message counts, the first included
	}
	window, stop := context.WithTimeout(ctx, o.Warmup+o.Duration)
	defer stop()
	workers := make([]*connWorker, len(conns))
	var wg, finished sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		w := &connWorker{o: &o, conn: c, plan: plans[i], epoch: epoch, gate: &gate, sent: &sent, acked: &acked, exhausted: &exhausted}
		if o.Rate > 0 {
			w.interval = time.Duration(float64(len(conns)) / o.Rate * float64(time.Second))
			// Spread the connections' schedules over one interval, so the
			// load is smooth rather than 1000 messages at each tick.
			w.phase = w.interval * time.Duration(i) / time.Duration(len(conns))
		}
		workers[i] = w
		wg.Add(1)
		finished.Add(1)
		go func() {
			defer wg.Done()
			w.run(window, start, finished.Done)
		}()
	}
	// The window ends after o.Duration, or sooner when every connection
	// has sent its whole plan and (QoS 1) had it all acknowledged.
	allFinished := make(chan struct{})
	go func() { finished.Wait(); close(allFinished) }()
	if o.Warmup > 0 {
		warm := time.NewTimer(o.Warmup)
		select {
		case <-warm.C:
		case <-allFinished:
			warm.Stop()
			return nil, errors.New("load: the corpus ran out during the warm-up (use more messages per device)")
		case <-ctx.Done():
			warm.Stop()
			return nil, ctx.Err()
		}
		opened = openWindow()
	}
	select {
	case <-window.Done():
	case <-allFinished:
	}
	gate.close()
	elapsed := time.Since(opened)
	res.Sent, res.Acked = sent.Load(), acked.Load()
	if o.Ended != nil {
		o.Ended()
	}
	cancel() // stop senders blocked on the window; close connections below
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	res.Seconds = elapsed.Seconds()
	res.Exhausted = exhausted.Load()
	count := res.Acked
	if o.QoS == 0 {
		count = res.Sent
	}
	res.MsgsPerSec = float64(count) / res.Seconds
	for _, w := range workers {
		res.PubAck.Merge(&w.hist)
		res.StatePubAck.Merge(&w.stateHist)
		res.TelemetryPubAck.Merge(&w.teleHist)
	}
	if sub != nil {
		sub.close()
		res.Delivered, res.Rejected = sub.delivered, sub.rejected
		res.Delivery = sub.hist
	}
	return res, nil
}

// connectAll logs every connection in, 32 at a time.
func connectAll(ctx context.Context, o LoadOptions, plans []*connPlan) ([]*mqttConn, error) {
	conns := make([]*mqttConn, len(plans))
	sem := make(chan struct{}, 32)
	errs := make(chan error, len(plans))
	var wg sync.WaitGroup
	for i, p := range plans {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			user, pass := o.Login.User, []byte(o.Login.Password)
			if o.Login.DeviceTokens && p.device >= 0 {
				tok, err := o.Corpus.ConnectToken(p.device, time.Now())
				if err != nil {
					errs <- fmt.Errorf("load: connect token of %s: %w", p.clientID, err)
					return
				}
				user, pass = p.clientID, tok
			}
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			c, err := dialMQTT(cctx, o.Addr, p.clientID, user, pass)
			if err != nil {
				errs <- fmt.Errorf("load: %w", err)
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	return conns, <-errs // nil when none failed
}

// connWorker publishes one connection's plan and reads its PUBACKs.
type connWorker struct {
	o         *LoadOptions
	conn      *mqttConn
	plan      *connPlan
	epoch     time.Time
	gate      *measureGate
	interval  time.Duration // open loop: time between this connection's messages
	phase     time.Duration
	sent      *atomic.Uint64
	acked     *atomic.Uint64
	exhausted *atomic.Bool
	hist      Histogram // PUBACK latency; written by the reader only
	// stateHist and teleHist split hist by message kind (isState).
	stateHist, teleHist Histogram
}

// isState says whether a corpus topic is a state message's
// (city/{zone}/{device}/state), whose PUBACK waits for its twin change.
func isState(topic string) bool { return strings.HasSuffix(topic, "/state") }

func (w *connWorker) run(ctx context.Context, start time.Time, finished func()) {
	var once sync.Once
	defer once.Do(finished)
	qos1 := w.o.QoS == 1
	ring := 1
	for ring < w.o.Inflight {
		ring <<= 1
	}
	// slots[pid-1] is the start time (ns since epoch) of the message with
	// that packet id; ids cycle through 1..ring, and the credits below keep
	// at most Inflight ≤ ring of them outstanding.
	slots := make([]atomic.Int64, ring)
	// state[pid-1]: the message with that packet id is a state message.
	state := make([]atomic.Bool, ring)
	credits := make(chan struct{}, w.o.Inflight)
	readerDone := make(chan struct{})
	allAcked := make(chan struct{})
	if qos1 {
		go func() {
			defer close(readerDone)
			w.readAcks(ctx, slots, state, credits, len(w.plan.msgs), allAcked)
		}()
	} else {
		close(readerDone)
	}
	// The reader owns w.hist until it ends (the connection is closed at
	// the end of the window).
	defer func() { <-readerDone }()
	var buf []byte
	for k, m := range w.plan.msgs {
		intended := time.Now()
		if w.interval > 0 {
			intended = start.Add(w.phase + time.Duration(k)*w.interval)
			if d := time.Until(intended); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					return
				}
			}
		}
		if qos1 {
			select {
			case credits <- struct{}{}:
			case <-ctx.Done():
				return
			}
		} else if ctx.Err() != nil {
			return
		}
		if w.interval == 0 {
			intended = time.Now() // closed loop: from the actual send
		}
		// Latency counts from the intended send time in open loop, so a
		// stalled broker shows as latency rather than as a slower sender
		// (no coordinated omission).
		ns := intended.Sub(w.epoch).Nanoseconds()
		pid := uint16(k%ring) + 1
		state[pid-1].Store(isState(m.Topic))
		slots[pid-1].Store(ns)
		w.plan.sent[k].Store(ns)
		buf = appendPublish(buf[:0], m.Topic, m.Payload, w.o.QoS, pid)
		if _, err := w.conn.conn.Write(buf); err != nil {
			return // closed at the end of the window
		}
		if w.gate.counts(ns) {
			w.sent.Add(1)
		}
	}
	w.exhausted.Store(true)
	if qos1 {
		select {
		case <-allAcked:
		case <-ctx.Done():
		}
	}
	once.Do(finished)
}

// readAcks reads PUBACKs until the connection closes.
func (w *connWorker) readAcks(ctx context.Context, slots []atomic.Int64, state []atomic.Bool, credits chan struct{}, want int, allAcked chan struct{}) {
	got := 0
	for {
		typ, body, err := w.conn.readPacket()
		if err != nil {
			return
		}
		if typ>>4 != mqttPuback || len(body) < 2 {
			continue
		}
		now := time.Since(w.epoch).Nanoseconds()
		pid := binary.BigEndian.Uint16(body)
		if int(pid) == 0 || int(pid) > len(slots) {
			continue
		}
		if w.gate.isOpen() {
			w.acked.Add(1) // the rate: every PUBACK while the window is open
		}
		if sent := slots[pid-1].Load(); w.gate.counts(sent) {
			d := time.Duration(now - sent)
			w.hist.Record(d) // latency: messages sent in it
			if state[pid-1].Load() {
				w.stateHist.Record(d)
			} else {
				w.teleHist.Record(d)
			}
		}
		select {
		case <-credits:
		default:
		}
		if got++; got == want {
			close(allAcked)
		}
	}
}

// measureGate says whether a message belongs to the measured window: sent
// (ns since the epoch) after the warm-up, and seen while the window is open.
type measureGate struct {
	from atomic.Int64 // ns since the epoch when the window opened; 0: not yet
	shut atomic.Bool
}

func (g *measureGate) open(at int64) { g.from.Store(at) }
func (g *measureGate) close()        { g.shut.Store(true) }

// isOpen reports whether the window is open now.
func (g *measureGate) isOpen() bool { return g.from.Load() > 0 && !g.shut.Load() }

// counts reports whether a message sent at sentNs is measured now.
func (g *measureGate) counts(sentNs int64) bool {
	from := g.from.Load()
	return from > 0 && sentNs >= from && !g.shut.Load()
}

// subscriber samples delivery latency on one zone and counts security
// events.
type subscriber struct {
	conn      *mqttConn
	done      chan struct{}
	once      sync.Once
	delivered uint64
	rejected  uint64
	hist      Histogram
}

func startSubscriber(ctx context.Context, o LoadOptions, plans []*connPlan, epoch time.Time, gate *measureGate) (*subscriber, error) {
	// Index the sampled zone's messages by signature tail.
	type ref struct{ conn, msg int32 }
	index := map[uint64]ref{}
	prefix := "city/" + o.SampleZone + "/"
	for ci, p := range plans {
		for mi, m := range p.msgs {
			if len(m.Topic) > len(prefix) && m.Topic[:len(prefix)] == prefix {
				index[sigKey(m.Payload)] = ref{int32(ci), int32(mi)}
			}
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	c, err := dialMQTT(cctx, o.Addr, "bench-subscriber", o.Login.SubscriberUser, []byte(o.Login.SubscriberPassword))
	if err != nil {
		return nil, fmt.Errorf("load: subscriber: %w", err)
	}
	if err := c.subscribe(prefix+"#", "$security/events"); err != nil {
		c.Close()
		return nil, fmt.Errorf("load: subscriber: %w", err)
	}
	s := &subscriber{conn: c, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for {
			typ, body, err := c.readPacket()
			if err != nil {
				return
			}
			if typ>>4 != mqttPublish {
				continue
			}
			t, payload, ok := publishTopic(typ, body)
			if !ok {
				continue
			}
			if t == "$security/events" {
				s.rejected++ // warm-up included: every refusal is worth a note
				continue
			}
			now := time.Since(epoch).Nanoseconds()
			r, ok := index[sigKey(payload)]
			if !ok {
				continue
			}
			if at := plans[r.conn].sent[r.msg].Load(); at > 0 && gate.counts(at) {
				s.delivered++
				s.hist.Record(time.Duration(now - at))
			}
		}
	}()
	return s, nil
}

// close ends the subscription and waits for the reader, after which its
// counts may be read.
func (s *subscriber) close() {
	s.once.Do(func() {
		s.conn.Close()
		<-s.done
	})
}
