package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"testing"
)

func TestTokenNewPrintsTheHashOfTheTokenItself(t *testing.T) {
	seen := map[string]bool{}
	for range 3 {
		var out bytes.Buffer
		root := newRootCmd()
		root.SetOut(&out)
		root.SetArgs([]string{"token", "new"})
		if err := root.Execute(); err != nil {
			t.Fatal(err)
		}
		m := regexp.MustCompile(`(?m)^token: +([0-9a-f]{64})\ntoken_sha256: +([0-9a-f]{64})$`).FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("output %q is not a token and its hash", out.String())
		}
		sum := sha256.Sum256([]byte(m[1]))
		if hex.EncodeToString(sum[:]) != m[2] {
			t.Fatalf("token_sha256 %s is not the SHA-256 of token %s", m[2], m[1])
		}
		if seen[m[1]] {
			t.Fatalf("token %s printed twice", m[1])
		}
		seen[m[1]] = true
	}
}
