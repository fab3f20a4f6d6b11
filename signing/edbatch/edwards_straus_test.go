package edbatch

import "filippo.io/edwards25519"

// edwardsStraus verifies a Batch with edwards25519's VarTimeMultiScalarMult
// on full-size scalars, as Batch verified small batches before straus.go:
// BenchmarkBatchSizes's "edwards" baseline. Its slices are reused as
// Batch's were; the scalars and the library's tables are allocated per call
// as they were.
type edwardsStraus struct {
	scalars []*edwards25519.Scalar
	points  []*edwards25519.Point
}

// verify is Batch.Verify by edwards25519's Straus.
func (v *edwardsStraus) verify(b *Batch) bool {
	idx := b.all()
	negSumS, done, ok := b.prepare(idx)
	if done {
		return ok
	}
	v.scalars, v.points = v.scalars[:0], v.points[:0]
	for i, t := range b.short {
		s, err := edwards25519.NewScalar().SetCanonicalBytes(t.scalar[:])
		if err != nil {
			panic(err)
		}
		v.scalars = append(v.scalars, s)
		v.points = append(v.points, &b.entries[idx[i]].r)
	}
	for i := range b.keySum {
		v.scalars = append(v.scalars, new(edwards25519.Scalar).Negate(&b.keySum[i].s))
		v.points = append(v.points, &b.keySum[i].pk.negA)
	}
	v.scalars = append(v.scalars, &negSumS)
	v.points = append(v.points, edwards25519.NewGeneratorPoint())
	var check edwards25519.Point
	check.VarTimeMultiScalarMult(v.scalars, v.points)
	check.MultByCofactor(&check)
	return check.Equal(edwards25519.NewIdentityPoint()) == 1
}
