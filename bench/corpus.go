package bench

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/internal/atomicfile"
	"github.com/signet-city/signet/signing"
)

// A corpus's counters: each device's connect token takes counter
// TokenCounter and its messages follow from FirstMessageCounter, so a fresh
// broker store accepts the token and then every message in order (SPEC §6).
const (
	TokenCounter        = 1
	FirstMessageCounter = 2
)

// connectTopic is the external_aad of a connect token (broker.ConnectTopic;
// bench does not import the broker for one constant).
const connectTopic = "$connect"

// corpusMagic starts every corpus file; the version changes with the format
// or with what the messages are (2: state messages staggered across devices).
const corpusMagic = "signet-corpus/2\n"

// corpusMagicPrefix starts the magic line of every version.
const corpusMagicPrefix = "signet-corpus/"

// corpusTrailer ends every complete corpus file, so that a file cut short
// at a record boundary is still recognised as truncated.
const corpusTrailer = "end\n"

// CorpusOptions sizes a signed corpus.
type CorpusOptions struct {
	Devices  int // streetlights, one Ed25519 key each
	Messages int // messages per device
	Zones    int // devices are spread over this many zones (0: 10)
	// StateEvery makes every n-th message of a device a reported-state
	// merge patch (city/{zone}/{device}/state) and the rest telemetry
	// (city/{zone}/{device}/tele/power); 0: 10. Device i's state messages
	// are offset by i, so that the devices, which send their k-th messages
	// at about the same time, do not all report state at once: a city's
	// devices report state changes independently, and a burst of every
	// device's state at once measured a queue of durable commits that no
	// city sends.
	StateEvery int
}

// CorpusDevice is one device of a corpus: its registration and its key. The
// private key is kept so that a reloaded corpus can sign fresh connect
// tokens (their iat must be recent).
type CorpusDevice struct {
	ID   string
	Zone string
	KID  []byte
	Key  signing.PrivateKey
}

// CorpusMessage is one signed message: an MQTT topic and its COSE_Sign1
// envelope, exactly as a device would publish it.
type CorpusMessage struct {
	Topic   string
	Payload []byte
}

// Corpus is a set of devices and their pre-signed messages, so that a load
// driver spends no CPU on signing. Messages[i] are device i's messages in
// counter order, from FirstMessageCounter.
type Corpus struct {
	Devices  []CorpusDevice
	Messages [][]CorpusMessage
}

// Len is the total number of messages.
func (c *Corpus) Len() int {
	n := 0
	for _, m := range c.Messages {
		n += len(m)
	}
	return n
}

// GenerateCorpus makes o.Devices streetlights with fresh Ed25519 keys and
// signs o.Messages messages for each, on every core.
func GenerateCorpus(ctx context.Context, o CorpusOptions) (*Corpus, error) {
	if o.Devices <= 0 || o.Devices > 1_000_000 {
		return nil, fmt.Errorf("corpus: devices %d: want 1 to 1000000", o.Devices)
	}
	if o.Messages <= 0 {
		return nil, fmt.Errorf("corpus: messages %d: must be positive", o.Messages)
	}
	if o.Zones <= 0 {
		o.Zones = 10
	}
	if o.StateEvery <= 0 {
		o.StateEvery = 10
	}
	c := &Corpus{Devices: make([]CorpusDevice, o.Devices), Messages: make([][]CorpusMessage, o.Devices)}
	next := make(chan int)
	errs := make(chan error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := c.signDevice(i, o); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	var err error
feed:
	for i := range o.Devices {
		select {
		case next <- i:
		case err = <-errs:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	if err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	return c, nil
}

// signDevice makes device i's key and signs its messages.
func (c *Corpus) signDevice(i int, o CorpusOptions) error {
	priv, err := signing.GenerateKey(signing.AlgEd25519)
	if err != nil {
		return err
	}
	d := CorpusDevice{ID: fmt.Sprintf("sl-%06d", i), Zone: fmt.Sprintf("z%02d", i%o.Zones), KID: signing.KeyID(priv.Public()), Key: priv}
	msgs := make([]CorpusMessage, o.Messages)
	for j := range msgs {
		ctr := uint64(FirstMessageCounter + j)
		var t string
		var payload []byte
		if (i+j)%o.StateEvery == o.StateEvery-1 {
			t = "city/" + d.Zone + "/" + d.ID + "/state"
			payload = fmt.Appendf(nil, `{"on":true,"level":%d}`, ctr%101)
		} else {
			t = "city/" + d.Zone + "/" + d.ID + "/tele/power"
			payload = fmt.Appendf(nil, `{"w":%d.%d,"v":230.1,"seq":%d}`, 30+ctr%10, ctr%7, ctr)
		}
		env, err := signing.Sign(priv, signing.Header{KID: d.KID, Counter: ctr}, payload, t)
		if err != nil {
			return fmt.Errorf("device %s message %d: %w", d.ID, j, err)
		}
		msgs[j] = CorpusMessage{Topic: t, Payload: env}
	}
	c.Devices[i], c.Messages[i] = d, msgs
	return nil
}

// ConnectToken signs device i's connect token for a fresh broker: payload
// the client id (= device id), topic "$connect", iat now, counter
// TokenCounter (see broker.AccessHook).
func (c *Corpus) ConnectToken(i int, now time.Time) ([]byte, error) {
	d := c.Devices[i]
	iat := now.Unix()
	return signing.Sign(d.Key, signing.Header{KID: d.KID, Counter: TokenCounter, IssuedAt: &iat}, []byte(d.ID), connectTopic)
}

// Registrations are the corpus's devices as registry records (kind
// streetlight, one active Ed25519 key each), for one devices.Batch.
func (c *Corpus) Registrations() []devices.Device {
	out := make([]devices.Device, len(c.Devices))
	for i, d := range c.Devices {
		pub := d.Key.Public()
		out[i] = devices.Device{
			ID: d.ID, Zone: d.Zone, Kind: "streetlight",
			Keys: []devices.Key{{KID: d.KID, Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive}},
		}
	}
	return out
}

// Zones lists the corpus's zones in order of first appearance.
func (c *Corpus) Zones() []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range c.Devices {
		if !seen[d.Zone] {
			seen[d.Zone] = true
			out = append(out, d.Zone)
		}
	}
	return out
}

// WriteFile writes the corpus to path (mode 0600: it holds private keys),
// through a temporary file renamed into place, so a failed write leaves no
// half corpus.
//
// Format: the magic line, uvarint device and per-device message counts;
// per device its id, zone and private JWK; then per device its messages
// (topic, envelope); then the trailer. Every string is a uvarint length and
// its bytes.
func (c *Corpus) WriteFile(path string) error {
	return atomicfile.Write(path, 0o600, c.write)
}

// write encodes the corpus (see WriteFile).
func (c *Corpus) write(out io.Writer) error {
	w := bufio.NewWriterSize(out, 1<<20)
	var scratch []byte
	put := func(b []byte) {
		scratch = binary.AppendUvarint(scratch[:0], uint64(len(b)))
		w.Write(scratch)
		w.Write(b)
	}
	perDevice := 0
	if len(c.Messages) > 0 {
		perDevice = len(c.Messages[0])
	}
	w.WriteString(corpusMagic)
	w.Write(binary.AppendUvarint(binary.AppendUvarint(nil, uint64(len(c.Devices))), uint64(perDevice)))
	for _, d := range c.Devices {
		jwk, err := signing.MarshalPrivateJWK(d.Key, d.KID)
		if err != nil {
			return fmt.Errorf("device %s key: %w", d.ID, err)
		}
		put([]byte(d.ID))
		put([]byte(d.Zone))
		put(jwk)
	}
	for i, msgs := range c.Messages {
		if len(msgs) != perDevice {
			return fmt.Errorf("device %s has %d messages, the others %d", c.Devices[i].ID, len(msgs), perDevice)
		}
		for _, m := range msgs {
			put([]byte(m.Topic))
			put(m.Payload)
		}
	}
	w.WriteString(corpusTrailer)
	return w.Flush()
}

// maxCorpusString bounds one length-prefixed string, so a corrupt length
// cannot make ReadCorpus allocate gigabytes.
const maxCorpusString = 1 << 20

// ReadCorpus loads a corpus written by WriteFile. A truncated or corrupt
// file is an error that names the file and where it ends.
func ReadCorpus(path string) (*Corpus, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	fail := func(where string, err error) (*Corpus, error) {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("corpus %s: truncated in %s: the file ends early; generate it again", path, where)
		}
		return nil, fmt.Errorf("corpus %s: %s: %w", path, where, err)
	}
	magic := make([]byte, len(corpusMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != corpusMagic {
		if err == nil {
			line, _, _ := strings.Cut(string(magic), "\n")
			want := strings.TrimSuffix(corpusMagic, "\n")
			if strings.HasPrefix(line, corpusMagicPrefix) {
				return nil, fmt.Errorf("corpus %s: written as %s, this signet reads %s: generate it again", path, line, want)
			}
			err = fmt.Errorf("not a Signet corpus (want %q at the start)", want)
		}
		return fail("header", err)
	}
	nDev, err := binary.ReadUvarint(r)
	if err != nil {
		return fail("header", err)
	}
	nMsg, err := binary.ReadUvarint(r)
	if err != nil {
		return fail("header", err)
	}
	if nDev == 0 || nDev > 1_000_000 || nMsg > 1_000_000 || nDev*nMsg > 100_000_000 {
		return fail("header", fmt.Errorf("%d devices × %d messages is not a plausible corpus", nDev, nMsg))
	}
	get := func() ([]byte, error) {
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return nil, err
		}
		if n > maxCorpusString {
			return nil, fmt.Errorf("a %d-byte field is over the %d-byte limit", n, maxCorpusString)
		}
		b := make([]byte, n)
		_, err = io.ReadFull(r, b)
		return b, err
	}
	c := &Corpus{Devices: make([]CorpusDevice, nDev), Messages: make([][]CorpusMessage, nDev)}
	for i := range c.Devices {
		where := fmt.Sprintf("device %d of %d", i+1, nDev)
		id, err := get()
		if err != nil {
			return fail(where, err)
		}
		zone, err := get()
		if err != nil {
			return fail(where, err)
		}
		jwkBytes, err := get()
		if err != nil {
			return fail(where, err)
		}
		jwk, err := signing.ParseJWK(jwkBytes)
		if err != nil || jwk.Private == nil {
			if err == nil {
				err = errors.New("the key is not a private key")
			}
			return fail(where+" key", err)
		}
		kid := jwk.KID
		if kid == nil {
			kid = signing.KeyID(jwk.Public)
		}
		c.Devices[i] = CorpusDevice{ID: string(id), Zone: string(zone), KID: kid, Key: jwk.Private}
	}
	for i := range c.Messages {
		msgs := make([]CorpusMessage, nMsg)
		for j := range msgs {
			t, err := get()
			if err == nil {
				msgs[j].Topic = string(t)
				msgs[j].Payload, err = get()
			}
			if err != nil {
				return fail(fmt.Sprintf("device %s message %d of %d", c.Devices[i].ID, j+1, nMsg), err)
			}
		}
		c.Messages[i] = msgs
	}
	trailer := make([]byte, len(corpusTrailer))
	if _, err := io.ReadFull(r, trailer); err != nil {
		return fail("trailer", err)
	}
	if string(trailer) != corpusTrailer {
		return fail("trailer", errors.New("unexpected bytes where the trailer should be"))
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return fail("trailer", errors.New("trailing bytes after the end of the corpus"))
	}
	return c, nil
}
