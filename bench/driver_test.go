package bench

import (
	"context"
	"strings"
	"testing"
	"time"
)

// startInProcess starts a broker under test on a loopback port in this
// process, stopped at the end of the test.
func startInProcess(t *testing.T, mode string, c *Corpus) *Target {
	t.Helper()
	tg, err := StartTarget(context.Background(), TargetOptions{
		Mode: mode, Addr: "127.0.0.1:0", Devices: c.Registrations(), Password: "test-password", Dir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := tg.Close(ctx); err != nil {
			t.Errorf("closing %s: %v", mode, err)
		}
	})
	return tg
}

func TestRunLoad(t *testing.T) {
	c, err := GenerateCorpus(context.Background(), CorpusOptions{Devices: 6, Messages: 15, Zones: 2})
	if err != nil {
		t.Fatal(err)
	}
	signetLogin := Login{DeviceTokens: true, User: TargetGatewayUser, Password: "test-password", SubscriberUser: TargetAdminUser, SubscriberPassword: "test-password"}
	anyLogin := Login{User: "x", Password: "y", SubscriberUser: "x", SubscriberPassword: "y"}
	tests := []struct {
		name      string
		mode      string
		qos       byte
		gateways  int
		rate      float64
		login     Login
		wantConns int
	}{
		{"plain qos1 closed loop", ModePlain, 1, 0, 0, anyLogin, 6},
		{"plain qos0", ModePlain, 0, 0, 0, anyLogin, 6},
		{"naive qos1", ModeNaive, 1, 0, 0, anyLogin, 6},
		{"batch qos1", ModeBatch, 1, 0, 0, anyLogin, 6},
		{"plain gateways", ModePlain, 1, 2, 0, anyLogin, 2},
		{"plain open loop", ModePlain, 1, 0, 2000, anyLogin, 6},
		{"strict devices", ModeStrict, 1, 0, 0, signetLogin, 6},
		{"relaxed gateways", ModeRelaxed, 1, 4, 0, signetLogin, 4},
		{"strict-nats devices", ModeStrictNATS, 1, 0, 0, signetLogin, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := startInProcess(t, tt.mode, c)
			var started, ended bool
			res, err := RunLoad(context.Background(), LoadOptions{
				Addr: tg.Addr(), Corpus: c, QoS: tt.qos, Gateways: tt.gateways, Rate: tt.rate,
				// Long enough never to end a run: each ends when the
				// whole corpus is sent and acknowledged.
				Duration: 10 * time.Minute, Login: tt.login, SampleZone: c.Devices[0].Zone,
				Started: func() { started = true }, Ended: func() { ended = true },
			})
			if err != nil {
				t.Fatal(err)
			}
			if !started || !ended {
				t.Errorf("Started called %v, Ended called %v", started, ended)
			}
			total := uint64(c.Len())
			if res.Connections != tt.wantConns || res.Sent != total || !res.Exhausted {
				t.Errorf("connections %d sent %d exhausted %v, want %d, %d, true", res.Connections, res.Sent, res.Exhausted, tt.wantConns, total)
			}
			if tt.qos == 1 && (res.Acked != total || res.PubAck.Count() != total) {
				t.Errorf("acked %d, %d latencies; want %d", res.Acked, res.PubAck.Count(), total)
			}
			if tt.qos == 0 && res.Acked != 0 {
				t.Errorf("QoS 0 run counted %d acknowledgements", res.Acked)
			}
			// Signet refuses nothing of a valid corpus (a refusal would be
			// a security event on the subscriber).
			if res.Rejected != 0 {
				t.Errorf("%d messages refused", res.Rejected)
			}
			if res.MsgsPerSec <= 0 || res.Seconds <= 0 {
				t.Errorf("rate %v over %v s", res.MsgsPerSec, res.Seconds)
			}
			if res.Delivered > total/2 || res.Delivery.Count() != res.Delivered {
				t.Errorf("delivered %d (%d latencies) from a zone of at most %d messages", res.Delivered, res.Delivery.Count(), total/2)
			}
		})
	}
}

func TestRunLoadRefusesBadOptions(t *testing.T) {
	c, err := GenerateCorpus(context.Background(), CorpusOptions{Devices: 1, Messages: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []LoadOptions{
		{Corpus: nil, Duration: time.Second},
		{Corpus: c, QoS: 2, Duration: time.Second},
		{Corpus: c, QoS: 1},
	} {
		if _, err := RunLoad(context.Background(), o); err == nil {
			t.Errorf("RunLoad(%+v) succeeded", o)
		}
	}
}

func TestStartTargetRefusesUnknownMode(t *testing.T) {
	if _, err := StartTarget(context.Background(), TargetOptions{Mode: "fast", Addr: "127.0.0.1:0"}); err == nil {
		t.Fatal("mode fast accepted")
	}
}

// TestRunLoadWarmup: what is sent during the warm-up is not measured, so a
// corpus that runs out before the window opens is an error that says so.
func TestRunLoadWarmup(t *testing.T) {
	c, err := GenerateCorpus(context.Background(), CorpusOptions{Devices: 3, Messages: 4, Zones: 1})
	if err != nil {
		t.Fatal(err)
	}
	tg := startInProcess(t, ModePlain, c)
	started := false
	_, err = RunLoad(context.Background(), LoadOptions{
		Addr: tg.Addr(), Corpus: c, QoS: 1, Duration: time.Minute, Warmup: time.Hour,
		Login: Login{User: "x", Password: "y"}, Started: func() { started = true },
	})
	if err == nil || !strings.Contains(err.Error(), "ran out during the warm-up") {
		t.Fatalf("RunLoad with a corpus shorter than the warm-up: %v, want it to say the corpus ran out", err)
	}
	if started {
		t.Error("Started was called although the window never opened")
	}
}
