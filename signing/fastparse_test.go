package signing

import (
	"bytes"
	"reflect"
	"testing"
)

// agree checks that whatever the fast path accepts, the strict path
// accepts too, with the same result.
func agree(t testing.TB, data []byte) (fast bool) {
	t.Helper()
	got, ok := parseFast(data)
	if !ok {
		return false
	}
	want, err := parseStrict(data)
	if err != nil {
		t.Fatalf("fast path accepted what the strict path refuses (%v):\n%x", err, data)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("fast and strict paths disagree on\n%x\nfast   %+v\nstrict %+v", data, got, want)
	}
	if shared, ok := parseFastShared(data); !ok || !reflect.DeepEqual(shared, want) {
		t.Fatalf("the shared fast path disagrees on\n%x\nshared %+v\nstrict %+v", data, shared, want)
	}
	return true
}

// TestParseSharedPointsIntoData: ParseShared's envelope of the usual shape
// is the caller's bytes (so they must not change while it is used), and
// Parse's is a copy; both decode the same, and the size limit holds.
func TestParseSharedPointsIntoData(t *testing.T) {
	data := mustSign(t, mustKey(t, AlgEd25519), Header{Counter: 9}, []byte(`{"on":true}`), testTopic)
	shared, err := ParseShared(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	owned, err := Parse(data, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(shared, owned) {
		t.Fatalf("ParseShared %+v, Parse %+v", shared, owned)
	}
	i := bytes.Index(data, []byte(`{"on":true}`))
	data[i+2] = 'X'
	if shared.Payload[2] != 'X' || owned.Payload[2] != 'o' {
		t.Errorf("after changing data: shared payload %q (want it changed), owned %q (want it kept)", shared.Payload, owned.Payload)
	}
	if _, err := ParseShared(data, len(data)-1); DefectOf(err) != DefectTooLarge {
		t.Errorf("ParseShared over the size limit: %v, want %s", err, DefectTooLarge)
	}
}

// TestFastParseAgrees: every algorithm, counter width, kid length and
// payload length class of the common shape takes the fast path and decodes
// as the strict path does; other headers and every malformed case go the
// strict way.
func TestFastParseAgrees(t *testing.T) {
	for _, alg := range allAlgs {
		k := mustKey(t, alg)
		for _, ctr := range []uint64{1, 23, 24, 255, 256, 1 << 40, 1<<64 - 1} {
			for _, kid := range [][]byte{{7}, bytes.Repeat([]byte{0xab}, 24), bytes.Repeat([]byte{0xcd}, 32)} {
				for _, payload := range [][]byte{nil, []byte(`{"on":true}`), bytes.Repeat([]byte("x"), 300), bytes.Repeat([]byte("y"), 40000)} {
					data := mustSign(t, k, Header{KID: kid, Counter: ctr}, payload, testTopic)
					if !agree(t, data) {
						t.Fatalf("%s counter %d kid %d bytes payload %d bytes: not taken by the fast path", alg, ctr, len(kid), len(payload))
					}
				}
			}
		}
		iat := int64(1_700_000_000)
		for _, h := range []Header{{Counter: 1, ContentType: ContentTypeJSON}, {Counter: 1, IssuedAt: &iat}, {Counter: 1, Endorsement: []byte{1}}} {
			if agree(t, mustSign(t, k, h, nil, testTopic)) {
				t.Errorf("%s header %+v: taken by the fast path, which knows only alg, kid and piv", alg, h)
			}
		}
	}
	valid, cases := malformedCases()
	if !agree(t, valid) {
		t.Error("the valid malformedCases base is not taken by the fast path")
	}
	for _, c := range cases {
		if c.defect == DefectTooLarge {
			continue // well-formed; Parse applies the limit before either path
		}
		if _, ok := parseFast(c.data); ok {
			t.Errorf("%s: the fast path accepted a malformed envelope", c.name)
		}
	}
}

// BenchmarkParse compares the fast path with the strict decoder on a
// telemetry envelope.
func BenchmarkParse(b *testing.B) {
	data := mustSign(b, mustKey(b, AlgEd25519), Header{Counter: 1 << 20}, []byte(`{"power_w":41.5,"lux":120}`), testTopic)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Parse(data, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("shared", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := ParseShared(data, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("strict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := parseStrict(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
