package edbatch

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"testing"

	"filippo.io/edwards25519"
)

type signer struct {
	priv ed25519.PrivateKey
	pk   *PublicKey
}

func signers(t testing.TB, n int) []signer {
	out := make([]signer, n)
	seed := make([]byte, 32)
	for i := range out {
		seed[0], seed[1] = byte(i), byte(i>>8)
		priv := ed25519.NewKeyFromSeed(seed)
		pk, err := NewPublicKey(priv.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = signer{priv, pk}
	}
	return out
}

// TestBatchAgreesWithSingle: random mixes of valid and invalid entries
// (repeated keys, tampered messages, tampered R and S); VerifyEach must equal
// single verification entry by entry. Every fourth round is large enough
// for the bucket method; the others use Straus.
func TestBatchAgreesWithSingle(t *testing.T) {
	keys := signers(t, 8)
	rng := rand.New(rand.NewPCG(3, 4))
	var b Batch
	for round := range 60 {
		b.Reset()
		n := 1 + rng.IntN(40)
		if round%4 == 0 {
			n = bucketFrom + rng.IntN(200)
		}
		type item struct {
			pk       *PublicKey
			msg, sig []byte
		}
		items := make([]item, n)
		for i := range items {
			k := keys[rng.IntN(len(keys))]
			msg := []byte{byte(round), byte(i), byte(rng.Uint32())}
			sig := ed25519.Sign(k.priv, msg)
			switch rng.IntN(8) {
			case 0:
				msg = append(msg, 1)
			case 1:
				sig[rng.IntN(32)] ^= 1 // R
			case 2:
				sig[32+rng.IntN(31)] ^= 1 // S
			}
			items[i] = item{k.pk, msg, sig}
			b.Add(k.pk, msg, sig)
		}
		got := make([]bool, n)
		b.VerifyEach(got)
		allValid := true
		for i, it := range items {
			want := Verify(it.pk, it.msg, it.sig)
			allValid = allValid && want
			if got[i] != want {
				t.Fatalf("round %d entry %d: batch %v, single %v", round, i, got[i], want)
			}
		}
		if b.Verify() != allValid {
			t.Fatalf("round %d: Verify() = %v, want %v", round, !allValid, allValid)
		}
	}
}

// TestMixedOrderR: R plus a small-order point fails cofactorless
// verification but passes the cofactored equation, in batch and single
// alike (SPEC §3: the two must never disagree).
func TestMixedOrderR(t *testing.T) {
	k := signers(t, 1)[0]
	msg := []byte("mixed order")
	// Sign by hand with R' = R + T where T has order 8; k is computed over R'.
	h := sha512Sum(k.priv.Seed())
	s, _ := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	r, _ := edwards25519.NewScalar().SetUniformBytes(append(make([]byte, 32), h[:32]...))
	R := new(edwards25519.Point).ScalarBaseMult(r)
	torsion, _ := new(edwards25519.Point).SetBytes(mustHex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"))
	R.Add(R, torsion)
	Renc := R.Bytes()
	kk := challenge(Renc, k.pk.raw[:], msg)
	S := edwards25519.NewScalar().MultiplyAdd(kk, s, r)
	sig := append(Renc, S.Bytes()...)
	if ed25519.Verify(k.priv.Public().(ed25519.PublicKey), msg, sig) {
		t.Fatal("setup: cofactorless verification accepted a mixed-order R")
	}
	if !Verify(k.pk, msg, sig) {
		t.Fatal("cofactored single verification refused a mixed-order R")
	}
	for _, size := range []int{2, bucketFrom, 3 * bucketFrom} { // Straus, then the bucket method
		var b Batch
		b.Add(k.pk, msg, sig)
		for i := 1; i < size; i++ {
			m := []byte{byte(i), byte(i >> 8)}
			b.Add(k.pk, m, ed25519.Sign(k.priv, m))
		}
		if !b.Verify() {
			t.Fatalf("batch of %d refused what single verification accepts", size)
		}
	}
}

// TestWycheproofThroughBatch runs every Wycheproof Ed25519 vector through a
// one-entry and a mixed batch: the result equals single verification.
func TestWycheproofThroughBatch(t *testing.T) {
	data, err := os.ReadFile("../testdata/wycheproof/ed25519_test.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		TestGroups []struct {
			PublicKey struct{ PK string } `json:"publicKey"`
			Tests     []struct {
				TcID int    `json:"tcId"`
				Msg  string `json:"msg"`
				Sig  string `json:"sig"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	good := signers(t, 1)[0]
	// Fillers: valid signatures, so a batch is as large as the bucket method needs.
	var fillMsgs, fillSigs [][]byte
	for i := range bucketFrom {
		m := []byte{'f', byte(i)}
		fillMsgs, fillSigs = append(fillMsgs, m), append(fillSigs, ed25519.Sign(good.priv, m))
	}
	checked := 0
	for _, g := range file.TestGroups {
		pk, err := NewPublicKey(mustHex(g.PublicKey.PK))
		if err != nil {
			continue // keys SPEC §3 refuses at load are covered by the signing package's test
		}
		for _, tc := range g.Tests {
			msg, sig := mustHex(tc.Msg), mustHex(tc.Sig)
			want := Verify(pk, msg, sig)
			for _, size := range []int{2, bucketFrom} { // Straus, then the bucket method
				var b Batch
				for i := range size - 1 {
					b.Add(good.pk, fillMsgs[i], fillSigs[i])
				}
				b.Add(pk, msg, sig)
				got := make([]bool, size)
				b.VerifyEach(got)
				for i := range size - 1 {
					if !got[i] {
						t.Fatalf("tcId %d, batch of %d: an honest filler was refused", tc.TcID, size)
					}
				}
				if got[size-1] != want || b.Verify() != want {
					t.Fatalf("tcId %d, batch of %d: batch %v, single %v", tc.TcID, size, got[size-1], want)
				}
			}
			checked++
		}
	}
	if checked < 100 {
		t.Fatalf("only %d vectors checked", checked)
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
