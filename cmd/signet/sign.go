package main

import (
	"fmt"
	"os"

	"github.com/signet-city/signet/signing"
	"github.com/spf13/cobra"
)

func newSignCmd() *cobra.Command {
	var keyPath, topic, out, ctype string
	var counter uint64
	cmd := &cobra.Command{
		Use:   "sign --key dev.jwk --topic TOPIC --counter N [--out FILE] PAYLOAD_FILE",
		Short: "Sign a payload as a device would (COSE_Sign1)",
		Long: `Wrap a payload in a COSE_Sign1 envelope signed with a private key, with the
topic as external_aad and N as the anti-replay counter, exactly as a device does.
It is a tool for engineers and tests: a real device keeps its counter itself and
never reuses one. PAYLOAD_FILE "-" reads standard input; the envelope goes to
--out or, if that is absent, to standard output.`,
		Example: `  echo '{"on":true,"level":80}' | signet sign --key sl-1.jwk --topic city/z1/sl-1/state --counter 1 --out msg.cose -
  signet sign --key dev.jwk --topic city/z1/aq-1/tele/air --counter 7 reading.json | mosquitto_pub -t city/z1/aq-1/tele/air -s`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" || topic == "" || counter == 0 {
				return usagef("sign needs --key, --topic and --counter (≥ 1)")
			}
			k, err := signing.LoadKeyFile(keyPath)
			if err != nil {
				return err
			}
			if k.Private == nil {
				return fmt.Errorf("%s: is a public key; signing needs the private key", keyPath)
			}
			payload, err := readInput(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			kid := k.KID
			if len(kid) == 0 {
				kid = signing.KeyID(k.Public)
			}
			msg, err := signing.Sign(k.Private, signing.Header{KID: kid, Counter: counter, ContentType: ctype}, payload, topic)
			if err != nil {
				return err
			}
			if out == "" {
				_, err = cmd.OutOrStdout().Write(msg)
				return err
			}
			if err := os.WriteFile(out, msg, 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "private key (JWK or PKCS#8 PEM)")
	cmd.Flags().StringVar(&topic, "topic", "", "MQTT topic the message will be published on")
	cmd.Flags().Uint64Var(&counter, "counter", 0, "anti-replay counter (piv), ≥ 1")
	cmd.Flags().StringVar(&ctype, "content-type", "", `"application/json" or "application/cbor" (default: absent, meaning JSON)`)
	cmd.Flags().StringVarP(&out, "out", "o", "", "write the envelope here instead of standard output")
	return cmd
}
