package bench

import (
	"context"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// TestBatchHookDeliversOnlyVerifiedMessages publishes with a real paho
// client to a batch broker on a loopback port: a message whose signature
// was tampered with, then another device's envelope on this device's
// topic, then the genuine message. A subscriber of city/# must
// receive the genuine message and nothing before it (mochi delivers one
// connection's messages in order), and the broker's Verifier must have
// counted the signatures it decided.
func TestBatchHookDeliversOnlyVerifiedMessages(t *testing.T) {
	c, err := GenerateCorpus(context.Background(), CorpusOptions{Devices: 2, Messages: 1, Zones: 1})
	if err != nil {
		t.Fatal(err)
	}
	tg := startInProcess(t, ModeBatch, c)
	if tg.Metrics() == nil {
		t.Fatal("batch target has no Verifier metrics")
	}
	dial := func(id string) paho.Client {
		opts := paho.NewClientOptions().AddBroker("tcp://" + tg.Addr()).SetClientID(id).SetAutoReconnect(false)
		cl := paho.NewClient(opts)
		if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", id, tok.Error())
		}
		t.Cleanup(func() { cl.Disconnect(0) })
		return cl
	}
	got := make(chan paho.Message, 4)
	sub := dial("subscriber")
	if tok := sub.Subscribe("city/#", 1, func(_ paho.Client, m paho.Message) { got <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	genuine := c.Messages[0][0]
	tampered := append([]byte(nil), genuine.Payload...)
	tampered[len(tampered)-1] ^= 1 // the last byte is the signature's
	other := c.Messages[1][0]      // device 1's envelope on device 0's topic: its key, another message
	pub := dial("publisher")
	// The refused two go at QoS 0: mochi drops a refused message without
	// an acknowledgement. The genuine one's PUBACK says all three were read.
	for _, m := range []CorpusMessage{{genuine.Topic, tampered}, {genuine.Topic, other.Payload}} {
		if tok := pub.Publish(m.Topic, 0, false, m.Payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish to %s: %v", m.Topic, tok.Error())
		}
	}
	if tok := pub.Publish(genuine.Topic, 1, false, genuine.Payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish the genuine message: no acknowledgement (%v)", tok.Error())
	}
	select {
	case m := <-got:
		if m.Topic() != genuine.Topic || string(m.Payload()) != string(genuine.Payload) {
			t.Errorf("first delivery: %s, %d bytes; want the genuine message on %s", m.Topic(), len(m.Payload()), genuine.Topic)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the genuine message was not delivered")
	}
	st, err := readStages(tg.Metrics())
	if err != nil {
		t.Fatal(err)
	}
	b := batchingBetween(nil, st.counters)
	if b.Signatures < 3 || b.MeanBatch < 1 {
		t.Errorf("the Verifier counted %d signatures, mean batch %.1f; want all three messages' at least", b.Signatures, b.MeanBatch)
	}
}
