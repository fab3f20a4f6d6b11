package signing

import "testing"

func BenchmarkSign(b *testing.B) {
	for _, alg := range allAlgs {
		b.Run(alg.String(), func(b *testing.B) {
			k := mustKey(b, alg)
			kid := KeyID(k.Public())
			payload := []byte(`{"groups":{"2":{"state":"green","since":1732480000123}}}`)
			for i := 0; b.Loop(); i++ {
				if _, err := Sign(k, Header{KID: kid, Counter: uint64(i + 1)}, payload, testTopic); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range allAlgs {
		b.Run(alg.String(), func(b *testing.B) {
			k := mustKey(b, alg)
			env, err := Parse(mustSign(b, k, Header{Counter: 1}, []byte(`{"pm25":12.5}`), testTopic), 0)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := env.Verify(k.Public(), testTopic); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
