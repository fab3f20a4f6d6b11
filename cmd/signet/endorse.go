package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/firmware-sim/counter"
	"github.com/signet-city/signet/internal/atomicfile"
	"github.com/signet-city/signet/signing"
	"github.com/spf13/cobra"
)

// MaxEndorsementTTL bounds how long an endorsement may live: an operator
// whose key is stolen keeps commanding until the endorsement expires or the
// edge revokes the key, and devices, which know no revocation list, only
// stop at the expiry.
const MaxEndorsementTTL = 30 * 24 * time.Hour

// endorsementSerialReserve is how many endorsement serials (the CWT's piv)
// one write of the authority's serial file covers (firmware-sim/counter's
// reserve-ahead: a serial is never issued twice, even after a crash).
const endorsementSerialReserve = 16

func newOperatorEndorseCmd() *cobra.Command {
	var authPath, operator, keyPath, out string
	var zones, kinds, commands []string
	var ttl time.Duration
	cmd := &cobra.Command{
		Use:   "endorse --authority authority.jwk --operator ID --key OP.pub.jwk --zones Z,... --kinds K,... --commands C,... --ttl 8h --out OP.cwt",
		Short: "Endorse an operator's key with the control authority's key (a CWT)",
		Long: `Sign an endorsement (a CWT, RFC 8392) with the control authority's private key:
sub is the operator id, cnf (RFC 8747) its public key, iat now, exp after
--ttl (at most 30 days), and a scope of zones, device kinds and command names,
each a comma-separated list or "*" for all. A command carries the endorsement;
the broker and the device both check it, so it must grant at least what the
command needs. The endorsement's serial number comes from a counter file
beside the authority key (AUTHORITY.jwk.ctr), so no two endorsements share one.

The endorsement is not secret: give it to the operator with its key.`,
		Example: `  signet operator endorse --authority authority.jwk --operator alice --key alice.pub.jwk \
      --zones z1 --kinds traffic-signal --commands flash,resume --ttl 8h --out alice.cwt
  signet operator show-endorsement alice.cwt`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if authPath == "" || operator == "" || keyPath == "" || out == "" || len(zones) == 0 || len(kinds) == 0 || len(commands) == 0 {
				return usagef("operator endorse needs --authority, --operator, --key, --zones, --kinds, --commands and --out")
			}
			if ttl <= 0 || ttl > MaxEndorsementTTL {
				return usagef("--ttl %s: must be more than 0 and at most %s (30 days): an endorsement is the only brake a device has on a stolen operator key", ttl, MaxEndorsementTTL)
			}
			auth, err := signing.LoadKeyFile(authPath)
			if err != nil {
				return err
			}
			if auth.Private == nil {
				return fmt.Errorf("%s: is a public key; endorsing needs the authority's private key", authPath)
			}
			opKey, err := loadPublicKey(keyPath)
			if err != nil {
				return err
			}
			scope := devices.Scope{Zones: zones, Kinds: kinds, Commands: commands}
			// The registry's own rules for ids and scopes, so an endorsement
			// never names what enrolment would refuse.
			if err := (&devices.Operator{ID: operator, Keys: []devices.Key{opKey}, Scope: scope}).Validate(); err != nil {
				return err
			}
			pub, err := signing.NewPublicKey(opKey.Alg, opKey.Public)
			if err != nil {
				return err
			}
			authKID := auth.KID
			if len(authKID) == 0 {
				authKID = signing.KeyID(auth.Public)
			}
			serials, err := counter.Open(authPath+".ctr", endorsementSerialReserve)
			if err != nil {
				return err
			}
			serial, err := serials.Next()
			if err != nil {
				return err
			}
			now := time.Now()
			claims := signing.EndorsementClaims{Operator: operator, Scope: signing.CommandScope(scope), IssuedAt: now, Expires: now.Add(ttl)}
			cwt, err := signing.SignEndorsement(auth.Private, authKID, serial, pub, claims)
			if err != nil {
				return err
			}
			if dir := filepath.Dir(out); dir != "" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					return fmt.Errorf("creating the folder for %s: %w", out, err)
				}
			}
			if err := atomicfile.Write(out, 0o644, atomicfile.Bytes(cwt)); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "endorsed operator %s key %s until %s (serial %d) in %s\n",
				operator, signing.FormatKeyID(signing.KeyID(pub)), claims.Expires.UTC().Format(time.RFC3339), serial, out)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&authPath, "authority", "", "the control authority's private key (signet authority init)")
	f.StringVar(&operator, "operator", "", "operator id (the CWT's sub)")
	f.StringVar(&keyPath, "key", "", "the operator's public key (JWK or PEM)")
	f.StringSliceVar(&zones, "zones", nil, `zones it may command, or "*"`)
	f.StringSliceVar(&kinds, "kinds", nil, `device kinds it may command, or "*"`)
	f.StringSliceVar(&commands, "commands", nil, `command names it may send, or "*"`)
	f.DurationVar(&ttl, "ttl", 8*time.Hour, "how long the endorsement is valid (at most 720h)")
	f.StringVarP(&out, "out", "o", "", "endorsement file to write (CWT, COSE_Sign1)")
	return cmd
}

func newOperatorShowEndorsementCmd() *cobra.Command {
	var authPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show-endorsement [--authority authority.pub.jwk] [--json] FILE",
		Short: "Print what an endorsement allows, and until when",
		Long: `Decode an endorsement CWT and print its issuer (the authority key's kid), the
operator, the operator key's kid, the scope, and iat/exp with how long it has
left. With --authority (the authority's public key) its signature is checked
too; without, the claims are shown as the file says, unchecked. FILE "-" reads
standard input.`,
		Example: `  signet operator show-endorsement alice.cwt
  signet operator show-endorsement --authority authority.pub.jwk --json alice.cwt`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			raw, err := readInput(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			var authority signing.PublicKey
			if authPath != "" {
				k, err := signing.LoadKeyFile(authPath)
				if err != nil {
					return err
				}
				authority = k.Public
			}
			v, err := describeEndorsement(raw, authority, time.Now())
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), v)
			}
			v.print(cmd.OutOrStdout(), "")
			return nil
		},
	}
	cmd.Flags().StringVar(&authPath, "authority", "", "the authority's public key, to check the signature")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// endorsementView is what show-endorsement and inspect print about a CWT.
type endorsementView struct {
	Issuer    string        `json:"issuer_kid"`
	Serial    uint64        `json:"serial"`
	Operator  string        `json:"operator"`
	KeyKID    string        `json:"key_kid"`
	KeyAlg    string        `json:"key_alg"`
	Scope     devices.Scope `json:"scope"`
	IssuedAt  *time.Time    `json:"iat,omitempty"`
	Expires   time.Time     `json:"exp"`
	ExpiresIn string        `json:"expires_in"` // "expired 3h ago" once past
	Signature string        `json:"signature"`  // "valid" or "not checked"
}

// endorsementWire is the claims map as signing writes it (signing/endorsement.go),
// decoded here without the authority's key so that an operator can read
// what an endorsement says before anything checks it.
type endorsementWire struct {
	Sub   string                  `cbor:"2,keyasint"`
	Exp   int64                   `cbor:"4,keyasint"`
	Iat   int64                   `cbor:"6,keyasint,omitempty"`
	Cnf   map[int]cbor.RawMessage `cbor:"8,keyasint"`
	Scope signing.CommandScope    `cbor:"-65537,keyasint"`
}

// coseKeyWire is the operator's COSE_Key in cnf (RFC 8747 §3.2, RFC 9053 §7).
type coseKeyWire struct {
	Kty int64  `cbor:"1,keyasint"`
	Alg int64  `cbor:"3,keyasint,omitempty"`
	Crv any    `cbor:"-1,keyasint"` // a curve number, or AKP's public key
	X   []byte `cbor:"-2,keyasint,omitempty"`
	Y   []byte `cbor:"-3,keyasint,omitempty"`
}

// describeEndorsement decodes raw and, if authority is set, verifies it.
func describeEndorsement(raw []byte, authority signing.PublicKey, now time.Time) (*endorsementView, error) {
	env, err := signing.Parse(raw, 0)
	if err != nil {
		return nil, fmt.Errorf("not an endorsement (COSE_Sign1 CWT): %w", err)
	}
	v := &endorsementView{Issuer: signing.FormatKeyID(env.Header.KID), Serial: env.Header.Counter, Signature: "not checked (give --authority)"}
	if authority != nil {
		if _, err := signing.VerifyEndorsement(raw, func([]byte) (signing.PublicKey, error) { return authority, nil }); err != nil {
			return nil, err
		}
		v.Signature = "valid"
	}
	var c endorsementWire
	if err := cbor.Unmarshal(env.Payload, &c); err != nil {
		return nil, fmt.Errorf("endorsement claims: %w", err)
	}
	if c.Sub == "" || c.Exp == 0 || len(c.Cnf[1]) == 0 {
		return nil, errors.New("endorsement claims: sub, exp and cnf (COSE_Key) are required")
	}
	pub, err := coseKeyPublic(c.Cnf[1])
	if err != nil {
		return nil, err
	}
	v.Operator, v.Scope = c.Sub, devices.Scope(c.Scope)
	v.KeyKID, v.KeyAlg = signing.FormatKeyID(signing.KeyID(pub)), pub.Alg().String()
	if c.Iat != 0 {
		t := time.Unix(c.Iat, 0).UTC()
		v.IssuedAt = &t
	}
	v.Expires = time.Unix(c.Exp, 0).UTC()
	if left := v.Expires.Sub(now); left > 0 {
		v.ExpiresIn = "expires in " + left.Round(time.Second).String()
	} else {
		v.ExpiresIn = "expired " + (-left).Round(time.Second).String() + " ago"
	}
	return v, nil
}

// coseKeyPublic turns a cnf COSE_Key into a public key, for its kid.
func coseKeyPublic(raw []byte) (signing.PublicKey, error) {
	var k coseKeyWire
	if err := cbor.Unmarshal(raw, &k); err != nil {
		return nil, fmt.Errorf("endorsement cnf: %w", err)
	}
	crv, _ := k.Crv.(uint64)
	switch {
	case k.Kty == 1 && crv == 6:
		return signing.NewPublicKey(signing.AlgEd25519, k.X)
	case k.Kty == 1 && crv == 7:
		return signing.NewPublicKey(signing.AlgEd448, k.X)
	case k.Kty == 2 && crv == 1:
		return signing.NewPublicKey(signing.AlgES256, append(append([]byte{4}, k.X...), k.Y...))
	case k.Kty == 7:
		b, _ := k.Crv.([]byte)
		return signing.NewPublicKey(signing.Alg(k.Alg), b)
	}
	return nil, fmt.Errorf("endorsement cnf: COSE_Key kty %d is no key Signet knows", k.Kty)
}

// print writes the view as aligned lines, each prefixed.
func (v *endorsementView) print(w io.Writer, prefix string) {
	line := func(k, val string) { fmt.Fprintf(w, "%s%-12s %s\n", prefix, k, val) }
	line("issuer", "authority key "+v.Issuer)
	line("serial", fmt.Sprint(v.Serial))
	line("operator", v.Operator)
	line("key", v.KeyKID+" ("+v.KeyAlg+")")
	line("zones", strings.Join(v.Scope.Zones, ","))
	line("kinds", strings.Join(v.Scope.Kinds, ","))
	line("commands", strings.Join(v.Scope.Commands, ","))
	if v.IssuedAt != nil {
		line("iat", v.IssuedAt.Format(time.RFC3339))
	}
	line("exp", v.Expires.Format(time.RFC3339)+" ("+v.ExpiresIn+")")
	line("signature", v.Signature)
}
