package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	paho5 "github.com/eclipse/paho.golang/paho"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/topic"
	"github.com/signet-city/signet/firmware-sim/command"
	"github.com/signet-city/signet/firmware-sim/counter"
	"github.com/signet-city/signet/firmware-sim/runtime"
	"github.com/signet-city/signet/signing"
	"github.com/spf13/cobra"
)

// The exit codes of "signet cmd send", one per outcome, so that a script
// can tell a device's refusal from a broker's and from a lost network.
const (
	exitDone           = 0 // the device acted and acknowledged
	exitLocal          = 1 // bad command line, key, endorsement or counter file
	exitDeviceRefused  = 2 // the device verified and refused it (its reason)
	exitBrokerRefused  = 3 // the broker refused the connection, subscription or command
	exitNoAck          = 4 // no verified ack within --timeout
	exitBrokerOffline  = 5 // the broker could not be reached or dropped us
	operatorCtrReserve = 16
)

func exitf(code int, format string, args ...any) error {
	return exitError{code, fmt.Errorf(format, args...)}
}

// local marks err as a local failure (exit 1), usage errors included:
// cmd send's exit 2 means a device's refusal.
func local(err error) error {
	var e exitError
	if err == nil || errors.As(err, &e) {
		return err
	}
	return exitError{exitLocal, err}
}

func newCmdCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cmd",
		Short: "Send signed commands to devices as an endorsed operator",
		Example: `  signet cmd send --as alice.jwk --endorsement alice.cwt --broker tcp://127.0.0.1:1883 \
      --user alice --password secret --device sl-1 --zone z1 --device-key sl-1.pub.jwk set-level '{"level":40}'`,
	}
	cmd.AddCommand(newCmdSendCmd())
	return cmd
}

// cmdSend is what one "signet cmd send" needs.
type cmdSend struct {
	as, endorsement, brokerURL, user, password, certFile, keyFile, caFile string
	device, zone, deviceKey, api                                          string
	ttl, timeout, connectTimeout                                          time.Duration
	dryRun                                                                bool
	ifVersion                                                             uint64
}

func newCmdSendCmd() *cobra.Command {
	var o cmdSend
	cmd := &cobra.Command{
		Use:   "send --as OP.jwk --endorsement OP.cwt --broker URL --device ID [--zone Z] NAME [JSON]",
		Short: "Sign a command, publish it, and wait for the device's signed ack",
		Long: `Sign command NAME for a device with the operator's key (--as) and its
endorsement (--endorsement), publish it over MQTT 5 at QoS 1, and wait for the
device's signed ack on city/{zone}/{device}/ack, which is verified under the
device's public key before it is believed.

The command carries iat (now) and exp (--ttl later, at most 60 s) and a counter
kept in a file beside the key (OP.jwk.ctr), reserved ahead on disk as devices
do, so a counter is never used twice, even after a crash; one key's counter
file is locked while a command is signed. Never copy the key to another
machine with its counter file and use both.

The device's public key comes from --device-key FILE, or, with --api URL, from
the broker's HTTP API (GET /api/v1/devices/{id}, with the same --user and
--password), which also gives the zone when --zone is absent.

--broker is tcp://HOST:PORT, or tls://HOST:PORT with --ca (the broker's CA)
and optionally --cert/--key (a client certificate). --dry-run prints the topic
and the envelope in base64 ("signet inspect" reads it) and sends nothing; it
still uses up a counter.

--if-version N signs the command with if_version N, the twin version it was
decided on (the "version" of GET /api/v1/twins/{id} or $twin/{zone}/{id}): the
broker refuses it with stale_version (exit 3) if the twin is at another
version when the command would change it. Without it, no version is checked.

Exit codes: 0 done; 1 usage or local error; 2 refused by the device (its
reason); 3 refused by the broker (its MQTT 5 reason code); 4 no ack within
--timeout of the broker taking the command; 5 broker unreachable (nothing
within --connect-timeout).`,
		Example: `  signet cmd send --as alice.jwk --endorsement alice.cwt --broker tcp://127.0.0.1:1883 \
      --user alice --password secret --device sl-1 --zone z1 --device-key sl-1.pub.jwk set-level '{"level":40}'
  signet cmd send --as alice.jwk --endorsement alice.cwt --broker tcp://127.0.0.1:1883 \
      --user alice --password secret --api http://127.0.0.1:8080 --device tl-07 flash '{"reason":"incident"}'
  signet cmd send --as alice.jwk --endorsement alice.cwt --device sl-1 --zone z1 --dry-run set-level '{"level":40}' | signet inspect -`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return local(usagef("cmd send takes NAME and an optional JSON payload, got %d argument(s)", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			payload := "{}"
			if len(args) == 2 {
				payload = args[1]
			}
			return local(o.run(cmd, args[0], []byte(payload)))
		},
	}
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return local(usageError{err}) })
	f := cmd.Flags()
	f.StringVar(&o.as, "as", "", "the operator's private key (JWK or PEM)")
	f.StringVar(&o.endorsement, "endorsement", "", "the operator's endorsement (signet operator endorse)")
	f.StringVar(&o.brokerURL, "broker", "", "the broker: tcp://HOST:PORT or tls://HOST:PORT")
	f.StringVar(&o.user, "user", "", "MQTT (and API) user name")
	f.StringVar(&o.password, "password", "", "MQTT (and API) password")
	f.StringVar(&o.certFile, "cert", "", "client certificate (PEM) for tls://")
	f.StringVar(&o.keyFile, "key", "", "client certificate's private key (PEM) for tls://")
	f.StringVar(&o.caFile, "ca", "", "CA certificate (PEM) the broker's certificate must chain to")
	f.StringVar(&o.device, "device", "", "the device to command")
	f.StringVar(&o.zone, "zone", "", "the device's zone (default: from --api)")
	f.StringVar(&o.deviceKey, "device-key", "", "the device's public key, to verify its ack")
	f.StringVar(&o.api, "api", "", "the broker's HTTP API, for the device's key and zone (e.g. http://127.0.0.1:8080)")
	f.DurationVar(&o.ttl, "ttl", 30*time.Second, "how long the command stays valid (at most 60s)")
	f.DurationVar(&o.timeout, "timeout", 10*time.Second, "how long to wait for the device's ack once the broker took the command")
	f.DurationVar(&o.connectTimeout, "connect-timeout", 10*time.Second, "how long to wait for the broker to connect, subscribe and acknowledge the command")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the signed envelope (base64) and send nothing")
	f.Uint64Var(&o.ifVersion, "if-version", 0, "the twin version the command was decided on: the broker refuses it (stale_version) if the twin has moved on")
	return cmd
}

func (o *cmdSend) run(cmd *cobra.Command, name string, payload []byte) error {
	switch {
	case o.as == "" || o.endorsement == "" || o.device == "":
		return usagef("cmd send needs --as, --endorsement and --device")
	case o.endorsement == "-":
		return usagef("--endorsement must name a file (standard input is not read)")
	case o.timeout <= 0 || o.connectTimeout <= 0:
		return usagef("--timeout and --connect-timeout must be positive")
	case o.ttl <= 0 || o.ttl > command.MaxLifetime:
		return usagef("--ttl %s: a command lives more than 0 and at most %s", o.ttl, command.MaxLifetime)
	case o.zone == "" && o.api == "":
		return usagef("cmd send needs --zone, or --api to look the device's zone up")
	case !o.dryRun && o.brokerURL == "":
		return usagef("cmd send needs --broker (or --dry-run)")
	case !o.dryRun && o.deviceKey == "" && o.api == "":
		return usagef("cmd send needs --device-key or --api: the device's ack is believed only once verified under its key")
	case !json.Valid(payload):
		return usagef("the command's payload %q is not JSON", payload)
	}
	if err := topic.ValidID("command name", name); err != nil {
		return usageError{err}
	}
	payload, err := withIfVersion(payload, o.ifVersion)
	if err != nil {
		return err
	}
	op, err := o.operator()
	if err != nil {
		return err
	}
	var devKeys []signing.PublicKey
	if o.deviceKey != "" {
		k, err := signing.LoadKeyFile(o.deviceKey)
		if err != nil {
			return err
		}
		devKeys = append(devKeys, k.Public)
	}
	if o.api != "" {
		d, err := o.fetchDevice(cmd.Context())
		if err != nil {
			return err
		}
		if o.zone == "" {
			o.zone = d.Zone
		}
		for _, k := range d.Keys {
			if pub, err := signing.NewPublicKey(k.Alg, k.Public); err == nil && k.Usable(time.Now()) {
				devKeys = append(devKeys, pub)
			}
		}
	}
	t, msg, err := o.sign(op, name, payload)
	if err != nil {
		return err
	}
	if o.dryRun {
		fmt.Fprintf(cmd.OutOrStdout(), "%s\n", base64.StdEncoding.EncodeToString(msg))
		fmt.Fprintf(cmd.ErrOrStderr(), "signed %s (counter %d), not sent\n", t, lastCounter(msg))
		return nil
	}
	ack, err := o.exchange(cmd.Context(), t, msg, devKeys, name, lastCounter(msg))
	if err != nil {
		return err
	}
	if ack.Status != "done" {
		return exitf(exitDeviceRefused, "device %s refused %s: %s", o.device, name, ack.Reason)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "done: device %s acted on %s (counter %d)\n", o.device, name, ack.Counter)
	return nil
}

// operator loads the key and its endorsement, and refuses, before any
// counter is spent, an endorsement of another key or one that has expired.
func (o *cmdSend) operator() (*command.Operator, error) {
	k, err := signing.LoadKeyFile(o.as)
	if err != nil {
		return nil, err
	}
	if k.Private == nil {
		return nil, fmt.Errorf("%s: is a public key; signing a command needs the operator's private key", o.as)
	}
	cwt, err := readInput(nil, o.endorsement)
	if err != nil {
		return nil, err
	}
	e, err := describeEndorsement(cwt, nil, time.Now())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.endorsement, err)
	}
	if mine := signing.FormatKeyID(signing.KeyID(k.Public)); e.KeyKID != mine {
		return nil, fmt.Errorf("%s endorses key %s, not %s (key %s): use the key it was issued for", o.endorsement, e.KeyKID, o.as, mine)
	}
	if !time.Now().Before(e.Expires) {
		return nil, fmt.Errorf("%s: the endorsement of %s expired at %s; ask the authority for a new one", o.endorsement, e.Operator, e.Expires.Format(time.RFC3339))
	}
	kid := k.KID
	if len(kid) == 0 {
		kid = signing.KeyID(k.Public)
	}
	return &command.Operator{Key: k.Private, KID: kid, Endorsement: cwt}, nil
}

// sign takes the next counter under an exclusive lock of the key's counter
// file (two sends at once must not both resume at the same reservation) and
// signs the command.
func (o *cmdSend) sign(op *command.Operator, name string, payload []byte) (string, []byte, error) {
	path := o.as + ".ctr"
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("counter lock: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", nil, fmt.Errorf("counter lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	store, err := counter.Open(path, operatorCtrReserve)
	if err != nil {
		return "", nil, err
	}
	op.Counter = store
	return op.Sign(o.zone, o.device, name, payload, time.Now(), o.ttl)
}

func lastCounter(msg []byte) uint64 {
	env, err := signing.Parse(msg, 0)
	if err != nil {
		return 0
	}
	return env.Header.Counter
}

// fetchDevice reads the device's record from the broker's HTTP API.
func (o *cmdSend) fetchDevice(ctx context.Context) (*devices.Device, error) {
	u := strings.TrimRight(o.api, "/") + "/api/v1/devices/" + url.PathEscape(o.device)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, usagef("--api %q: %v", o.api, err)
	}
	if o.user != "" {
		req.SetBasicAuth(o.user, o.password)
	}
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: o.connectTimeout, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, exitf(exitBrokerOffline, "broker API %s: %v", o.api, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, exitf(exitBrokerRefused, "broker API GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
	}
	var d devices.Device
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("broker API GET %s: %w", u, err)
	}
	return &d, nil
}

// tlsConfig is the client side of --ca, --cert and --key.
func (o *cmdSend) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it", o.caFile)
		}
		cfg.RootCAs = pool
	}
	if (o.certFile == "") != (o.keyFile == "") {
		return nil, usagef("--cert and --key go together")
	}
	if o.certFile != "" {
		c, err := tls.LoadX509KeyPair(o.certFile, o.keyFile)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	return cfg, nil
}

// dial opens the broker connection --broker names.
func (o *cmdSend) dial(ctx context.Context) (net.Conn, error) {
	u, err := url.Parse(o.brokerURL)
	if err != nil || u.Host == "" {
		return nil, usagef("--broker %q: want tcp://HOST:PORT or tls://HOST:PORT", o.brokerURL)
	}
	d := &net.Dialer{Timeout: o.connectTimeout}
	switch u.Scheme {
	case "tcp", "mqtt":
		nc, err := d.DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, exitf(exitBrokerOffline, "broker %s: %v (is it running?)", o.brokerURL, err)
		}
		return nc, nil
	case "tls", "ssl", "mqtts":
		cfg, err := o.tlsConfig()
		if err != nil {
			return nil, err
		}
		cfg.ServerName = u.Hostname()
		nc, err := (&tls.Dialer{NetDialer: d, Config: cfg}).DialContext(ctx, "tcp", u.Host)
		if err != nil {
			return nil, exitf(exitBrokerOffline, "broker %s: %v", o.brokerURL, err)
		}
		return nc, nil
	}
	return nil, usagef("--broker %q: scheme %q, want tcp:// or tls://", o.brokerURL, u.Scheme)
}

// exchange connects (MQTT 5), subscribes to the device's acks before the
// command goes out (so the ack cannot slip past), publishes the command at
// QoS 1, and waits for the first ack that verifies under a device key and
// answers this command.
func (o *cmdSend) exchange(parent context.Context, cmdTopic string, msg []byte, keys []signing.PublicKey, name string, ctr uint64) (*runtime.Ack, error) {
	ctx, cancel := context.WithTimeout(parent, o.connectTimeout)
	defer cancel()
	nc, err := o.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	ackTopic := topic.City{Zone: o.zone, Device: o.device, Class: topic.Ack}.String()
	acks := make(chan runtime.Ack, 8)
	opKID := ""
	if env, err := signing.Parse(msg, 0); err == nil {
		opKID = signing.FormatKeyID(env.Header.KID)
	}
	onPublish := func(p paho5.PublishReceived) (bool, error) {
		if p.Packet.Topic != ackTopic {
			return false, nil
		}
		a, ok := verifyAck(p.Packet.Topic, p.Packet.Payload, keys)
		// Only an ack of this command: its name, and its counter and kid
		// when the device got far enough to read them.
		if ok && a.Command == name && (a.Counter == ctr || a.Counter == 0) && (a.KID == opKID || a.KID == "") {
			select {
			case acks <- a:
			default:
			}
		}
		return true, nil
	}
	id := make([]byte, 6)
	rand.Read(id)
	clientID := "signet-cmd-" + hex.EncodeToString(id)
	lost := make(chan error, 1)
	cl := paho5.NewClient(paho5.ClientConfig{
		Conn: nc, ClientID: clientID, PacketTimeout: o.connectTimeout,
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){onPublish},
		OnClientError: func(err error) {
			select {
			case lost <- err:
			default:
			}
		},
		OnServerDisconnect: func(d *paho5.Disconnect) {
			select {
			case lost <- fmt.Errorf("the broker disconnected us (reason %s)", mqttCode(d.ReasonCode, d.Properties)):
			default:
			}
		},
	})
	cp := &paho5.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 30}
	if o.user != "" {
		cp.UsernameFlag, cp.Username, cp.PasswordFlag, cp.Password = true, o.user, true, []byte(o.password)
	}
	ca, err := cl.Connect(ctx, cp)
	if err != nil {
		if ca != nil {
			return nil, exitf(exitBrokerRefused, "broker %s refused the connection: CONNACK %s", o.brokerURL, mqttCode(ca.ReasonCode, ca.Properties))
		}
		return nil, exitf(exitBrokerOffline, "broker %s: connect: %v", o.brokerURL, err)
	}
	defer cl.Disconnect(&paho5.Disconnect{ReasonCode: 0})
	sa, err := cl.Subscribe(ctx, &paho5.Subscribe{Subscriptions: []paho5.SubscribeOptions{{Topic: ackTopic, QoS: 1}}})
	if sa != nil && len(sa.Reasons) == 1 && sa.Reasons[0] >= 0x80 {
		return nil, exitf(exitBrokerRefused, "broker refused the subscription to %s: SUBACK %s", ackTopic, mqttCode(sa.Reasons[0], sa.Properties))
	}
	if err != nil {
		return nil, exitf(exitBrokerOffline, "subscribe %s: %v", ackTopic, err)
	}
	// MQTT 5 §3.3.4: a QoS 1 PUBLISH is answered with a PUBACK whose reason
	// code (§3.4.2.1) says whether the broker took it: Signet answers 0x87
	// or 0x99 for a command it refused.
	pr, err := cl.Publish(ctx, &paho5.Publish{Topic: cmdTopic, QoS: 1, Payload: msg})
	if pr != nil && pr.ReasonCode >= 0x80 {
		return nil, exitf(exitBrokerRefused, "broker refused %s: PUBACK %s", cmdTopic, mqttCode(pr.ReasonCode, pr.Properties))
	}
	if err != nil {
		return nil, exitf(exitBrokerOffline, "publish %s: %v", cmdTopic, err)
	}
	// The broker took the command: from now on, --timeout for the ack.
	wait := time.NewTimer(o.timeout)
	defer wait.Stop()
	select {
	case a := <-acks:
		return &a, nil
	case err := <-lost:
		return nil, exitf(exitBrokerOffline, "waiting for the ack: %v", err)
	case <-parent.Done():
		return nil, exitf(exitBrokerOffline, "stopped while waiting for the ack: %v", parent.Err())
	case <-wait.C:
		return nil, exitf(exitNoAck, "no verified ack from device %s within %s (is it online, and flashed with the authority's key?)", o.device, o.timeout)
	}
}

// verifyAck returns the ack in payload if it is a Signet envelope signed for
// topic t by one of keys.
func verifyAck(t string, payload []byte, keys []signing.PublicKey) (runtime.Ack, bool) {
	var a runtime.Ack
	env, err := signing.Parse(payload, 0)
	if err != nil {
		return a, false
	}
	for _, k := range keys {
		if env.Verify(k, t) == nil {
			return a, json.Unmarshal(env.Payload, &a) == nil
		}
	}
	return a, false
}

// mqttCode is an MQTT 5 reason code in hex with its name, and the reason
// string the broker sent with it, if any (MQTT 5 §3.4.2.2.2).
func mqttCode(code byte, props any) string {
	s := fmt.Sprintf("0x%02x %s", code, reasonName(code))
	var rs string
	switch p := props.(type) {
	case *paho5.PublishResponseProperties:
		if p != nil {
			rs = p.ReasonString
		}
	case *paho5.ConnackProperties:
		if p != nil {
			rs = p.ReasonString
		}
	case *paho5.SubackProperties:
		if p != nil {
			rs = p.ReasonString
		}
	case *paho5.DisconnectProperties:
		if p != nil {
			rs = p.ReasonString
		}
	}
	if rs != "" {
		s += ": " + rs
	}
	return s
}

// reasonName names the MQTT 5 reason codes (§2.4) a broker sends here.
func reasonName(code byte) string {
	if n, ok := map[byte]string{
		0x00: "success", 0x10: "no matching subscribers", 0x80: "unspecified error",
		0x83: "implementation specific error", 0x84: "unsupported protocol version",
		0x85: "client identifier not valid", 0x86: "bad user name or password", 0x87: "not authorized",
		0x88: "server unavailable", 0x89: "server busy", 0x8a: "banned", 0x8e: "session taken over",
		0x8f: "topic filter invalid", 0x90: "topic name invalid", 0x97: "quota exceeded", 0x99: "payload format invalid",
	}[code]; ok {
		return n
	}
	return "(unnamed)"
}
