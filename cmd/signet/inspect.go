package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/signet-city/signet/signing"
	"github.com/spf13/cobra"
)

func newInspectCmd() *cobra.Command {
	var keyPath, topic string
	var maxSize int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect [--key pub.jwk] [--topic TOPIC] FILE",
		Short: "Decode a captured message and, with --key, verify it",
		Long: `Decode a captured COSE_Sign1 message (docs/protocol.md) with the broker's strict rules
and print its headers (alg, kid, counter, content type, iat/exp), its payload and
a verdict. With --key (a JWK or PEM public or private key) and --topic (the MQTT
topic it was published on, which is signed as external_aad) the signature is
verified too. FILE "-" reads standard input. The message may also be given as
base64 or hex text (as "signet cmd send --dry-run" prints it). A command's
endorsement is decoded and its claims shown, unchecked.

The exit code is 0 when the message decodes (and verifies, with --key), and 1 with
the stable rejection reason (malformed, alg_mismatch, bad_signature) otherwise. A
malformed message also names the strict-decoding rule it broke ("defect":
too_large, truncated, trailing_bytes, indefinite_length, non_shortest,
duplicate_label, unknown_label, unprotected_not_empty, not_cose_sign1,
wrong_type, missing_label, bad_value, unknown_alg, forbidden_item).`,
		Example: `  signet inspect --key dev.pub.jwk --topic city/zone-1/tl-0001/state msg.cose
  mosquitto_sub -t 'city/#' -C 1 | signet inspect -
  signet cmd send --dry-run --as alice.jwk --endorsement alice.cwt --device sl-1 --zone z1 set-level '{"level":40}' | signet inspect -`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath != "" && topic == "" {
				return usagef("--key needs --topic: the signature covers the topic it was published on")
			}
			data, err := readInput(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			var pub signing.PublicKey
			if keyPath != "" {
				k, err := signing.LoadKeyFile(keyPath)
				if err != nil {
					return err
				}
				pub = k.Public
			}
			rep, verdictErr := inspect(data, maxSize, pub, topic)
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				if err := enc.Encode(rep); err != nil {
					return err
				}
			} else {
				rep.print(cmd.OutOrStdout())
			}
			if verdictErr != nil {
				return fmt.Errorf("%s: %w", args[0], verdictErr)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "public key (JWK or PEM) to verify the signature with")
	cmd.Flags().StringVar(&topic, "topic", "", "MQTT topic the message was published on (external_aad)")
	cmd.Flags().IntVar(&maxSize, "max-size", signing.DefaultMaxSize, "size limit in bytes, as the broker applies it")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

// inspection is what inspect reports about one message.
type inspection struct {
	Bytes       int    `json:"bytes"`
	Alg         string `json:"alg,omitempty"`
	KID         string `json:"kid,omitempty"`
	Counter     uint64 `json:"counter,omitempty"`
	ContentType string `json:"content_type,omitempty"`
	IssuedAt    *int64 `json:"iat,omitempty"`
	Expires     *int64 `json:"exp,omitempty"`
	Endorsement int    `json:"endorsement_bytes,omitempty"`
	// Endorsed is what the command's endorsement says (unchecked: inspect
	// does not hold the authority's key; show-endorsement --authority does).
	Endorsed *endorsementView `json:"endorsement,omitempty"`
	Encoding string           `json:"encoding,omitempty"` // "base64" or "hex" when the input was text
	Payload  string           `json:"payload,omitempty"`
	Verdict  string           `json:"verdict"`
	Reason   string           `json:"reason,omitempty"`
	Defect   string           `json:"defect,omitempty"` // which strict-decoding rule, for malformed
	Detail   string           `json:"detail,omitempty"`
}

func inspect(data []byte, maxSize int, pub signing.PublicKey, topic string) (inspection, error) {
	rep := inspection{}
	data, rep.Encoding = decodeText(data)
	rep.Bytes = len(data)
	env, err := signing.Parse(data, maxSize)
	if err != nil {
		return rep.reject(err), err
	}
	h := env.Header
	rep.Alg = fmt.Sprintf("%s (%d)", h.Alg, int64(h.Alg))
	rep.KID = signing.FormatKeyID(h.KID)
	rep.Counter = h.Counter
	rep.ContentType = h.ContentType
	if rep.ContentType == "" {
		rep.ContentType = signing.ContentTypeJSON + " (default)"
	}
	rep.IssuedAt, rep.Expires = h.IssuedAt, h.Expires
	rep.Endorsement = len(h.Endorsement)
	if len(h.Endorsement) > 0 {
		if e, err := describeEndorsement(h.Endorsement, nil, time.Now()); err == nil {
			e.Signature = "not checked (signet operator show-endorsement --authority)"
			rep.Endorsed = e
		}
	}
	rep.Payload = printable(env.Payload)
	if pub == nil {
		rep.Verdict = "not verified (give --key and --topic)"
		return rep, nil
	}
	if err := env.Verify(pub, topic); err != nil {
		return rep.reject(err), err
	}
	rep.Verdict = "valid"
	return rep, nil
}

func (r inspection) reject(err error) inspection {
	r.Verdict = "rejected"
	r.Reason = string(signing.ReasonOf(err))
	r.Defect = string(signing.DefectOf(err))
	r.Detail = err.Error()
	return r
}

func (r inspection) print(w io.Writer) {
	line := func(k, v string) { fmt.Fprintf(w, "%-12s %s\n", k, v) }
	env := fmt.Sprintf("%d bytes", r.Bytes)
	if r.Encoding != "" {
		env += ", read as " + r.Encoding
	}
	line("envelope", env)
	if r.Alg != "" {
		line("alg", r.Alg)
		line("kid", r.KID)
		line("counter", fmt.Sprint(r.Counter))
		line("content", r.ContentType)
		if r.IssuedAt != nil {
			line("iat", unixTime(*r.IssuedAt))
		}
		if r.Expires != nil {
			line("exp", unixTime(*r.Expires))
		}
		if r.Endorsement > 0 {
			line("endorsement", fmt.Sprintf("%d bytes (operator CWT)", r.Endorsement))
			if r.Endorsed != nil {
				r.Endorsed.print(w, "  ")
			}
		}
		line("payload", r.Payload)
	}
	if r.Defect != "" {
		line("defect", r.Defect)
	}
	v := r.Verdict
	if r.Detail != "" {
		v += ": " + r.Detail
	}
	line("verdict", v)
}

func unixTime(s int64) string {
	return fmt.Sprintf("%d (%s)", s, time.Unix(s, 0).UTC().Format(time.RFC3339))
}

// printable shows text payloads as text and anything else as hex.
func printable(b []byte) string {
	if utf8.Valid(b) {
		for _, r := range string(b) {
			if r < 0x20 && r != '\n' && r != '\t' {
				return fmt.Sprintf("%x (binary, %d bytes)", b, len(b))
			}
		}
		return string(b)
	}
	return fmt.Sprintf("%x (binary, %d bytes)", b, len(b))
}

// readInput reads path, or standard input for "-", with an error naming the file.
func readInput(stdin io.Reader, path string) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, fmt.Errorf("reading standard input: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: no such file", path)
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

// decodeText turns a message pasted as text (base64, as "signet cmd send
// --dry-run" prints it, or hex) back into bytes. A binary envelope starts
// with CBOR tag 18 (0xd2), which is neither, so it is left alone.
func decodeText(data []byte) ([]byte, string) {
	if len(data) > 0 && data[0] == 0xd2 {
		return data, ""
	}
	text := strings.Join(strings.Fields(string(data)), "")
	if b, err := hex.DecodeString(text); err == nil && len(b) > 0 {
		return b, "hex"
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(text); err == nil && len(b) > 0 {
			return b, "base64"
		}
	}
	return data, ""
}
