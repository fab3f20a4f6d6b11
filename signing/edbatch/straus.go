package edbatch

import (
	"encoding/binary"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// Straus (interleaved window-NAF) multiscalar multiplication, variable time,
// for the small batches under bucketFrom, where the bucket method's bucket
// sums cost more than they share. It takes the bucket method's terms (every
// scalar below 2^128, full-size ones split on P and [2^128]P), so all points
// share one chain of about 128 doublings. Each term's point gets a table of
// its odd multiples, built on every call into scratch the Batch keeps, so
// nothing is allocated once the scratch has grown; B and [2^128]B use wider
// tables computed once for the package.
//
// Tables are kept in projective (cached) form: affine tables, made with one
// batch inversion across the batch, save a multiplication per addition but
// cost more to make than they save (BenchmarkBatchSizes, the two built in
// turn). Keys' tables are not cached in PublicKey: at a window of 4 they would
// take most of the memory a registered device may still use (DESIGN: 2 KiB
// for everything), for a modest gain on small batches only.

// strausWindow is the window NAF width w for points whose tables are built
// per call: digits are odd and in (−2^(w−1), 2^(w−1)), so a table holds the
// 2^(w−2) odd multiples P, 3P, …, (2^(w−1)−1)P. 4 is as fast as 5 with half
// the scratch, and 6 is slower (`go test ./signing/edbatch -run '^$' -bench
// 'BatchSizes/^n=(2|4|16|24)$/^msm=straus$'`, each width built into its own
// test binary and the binaries run in turn).
const strausWindow = 4

// baseWindow is the width for B and [2^128]B, whose tables cost nothing per
// call: wider means fewer additions. 7 is as fast as 8 with half the
// memory, and 6 is slower at small batches (measured as strausWindow was).
const baseWindow = 7

const (
	strausTable = 1 << (strausWindow - 2)
	baseTable   = 1 << (baseWindow - 2)
)

// nafLen is the number of window NAF digits of a scalar below 2^128: the
// carry out of the top window can set digit 128.
const nafLen = 128 + 1

// cached is a point in projective Niels form (Y+X, Y−X, Z, 2d·T): what an
// addition to an extended point needs, 8 multiplications, with no
// inversion to make it (the affine form saves one multiplication per
// addition but needs Z = 1).
type cached struct {
	ypx, ymx, z, t2d field.Element
}

// fromExtended sets c to p, one multiplication.
func (c *cached) fromExtended(p *extended) {
	c.ypx.Add(&p.Y, &p.X)
	c.ymx.Subtract(&p.Y, &p.X)
	c.z.Set(&p.Z)
	c.t2d.Multiply(&p.T, d2)
}

// fromAffine sets c to a, which is c with Z = 1.
func (c *cached) fromAffine(a *affine) {
	c.ypx.Set(&a.ypx)
	c.ymx.Set(&a.ymx)
	c.z.One()
	c.t2d.Set(&a.t2d)
}

// addCached sets p = p + c, or p − c when neg: 8 multiplications
// (HWCD §3.1 "add-2008-hwcd-3" with c's sums precomputed).
func (p *extended) addCached(c *cached, neg bool) {
	var ypx, ymx, pp, mm, tt, zz field.Element
	ypx.Add(&p.Y, &p.X)
	ymx.Subtract(&p.Y, &p.X)
	if neg { // −c swaps y+x with y−x and negates 2dT
		pp.Multiply(&ypx, &c.ymx)
		mm.Multiply(&ymx, &c.ypx)
	} else {
		pp.Multiply(&ypx, &c.ypx)
		mm.Multiply(&ymx, &c.ymx)
	}
	tt.Multiply(&p.T, &c.t2d)
	zz.Multiply(&p.Z, &c.z)
	zz.Add(&zz, &zz)
	var x, y, z, t field.Element
	x.Subtract(&pp, &mm)
	y.Add(&pp, &mm)
	if neg {
		z.Subtract(&zz, &tt)
		t.Add(&zz, &tt)
	} else {
		z.Add(&zz, &tt)
		t.Subtract(&zz, &tt)
	}
	p.fromCompleted(&x, &y, &z, &t)
}

// strausMSM is scratch memory for Straus multiscalar multiplication, reused
// across batches.
type strausMSM struct {
	tables []cached // strausTable odd multiples per term
	// digits[pos*stride+i] is the window NAF digit at bit pos of term i;
	// the last two of each row are the halves of the base point's scalar.
	digits []int8
}

// sum sets out = Σ scalar·p over terms, plus base·B, and returns out. Every
// term's scalar must be below 2^128; base may be any scalar.
func (m *strausMSM) sum(out *extended, terms []term, base *edwards25519.Scalar) *extended {
	n := len(terms)
	stride := n + 2
	m.tables = grow(m.tables, n*strausTable)
	m.digits = grow(m.digits, nafLen*stride)
	clear(m.digits)
	for i := range terms {
		oddMultiples(m.tables[i*strausTable:(i+1)*strausTable], terms[i].p)
		windowNAF(m.digits, i, stride, &terms[i].scalar, strausWindow)
	}
	enc := base.Bytes()
	var lo, hi [32]byte
	copy(lo[:16], enc[:16])
	copy(hi[:16], enc[16:])
	windowNAF(m.digits, n, stride, &lo, baseWindow)
	windowNAF(m.digits, n+1, stride, &hi, baseWindow)

	out.identity()
	started := false
	for pos := nafLen - 1; pos >= 0; pos-- {
		row := m.digits[pos*stride : (pos+1)*stride]
		active := nonZero(row)
		if started {
			// T is needed only by the additions that follow, and by the
			// caller after the last doubling.
			if active || pos == 0 {
				out.double()
			} else {
				out.doubleNoT()
			}
		}
		if !active {
			continue
		}
		started = true
		for i, d := range row[:n] {
			switch {
			case d > 0:
				out.addCached(&m.tables[i*strausTable+int(d)/2], false)
			case d < 0:
				out.addCached(&m.tables[i*strausTable+int(-d)/2], true)
			}
		}
		for h, d := range row[n:] {
			switch {
			case d > 0:
				out.addAffine(&baseTables[h][int(d)/2], false)
			case d < 0:
				out.addAffine(&baseTables[h][int(-d)/2], true)
			}
		}
	}
	return out
}

// nonZero reports whether any digit of row is non-zero.
func nonZero(row []int8) bool {
	for _, d := range row {
		if d != 0 {
			return true
		}
	}
	return false
}

// oddMultiples sets tab[k] = (2k+1)·a, for k < len(tab).
func oddMultiples(tab []cached, a *affine) {
	var p, p2 extended
	p.setAffine(a, false)
	p2 = p
	p2.double()
	var twice cached
	twice.fromExtended(&p2)
	tab[0].fromAffine(a)
	for k := 1; k < len(tab); k++ {
		p.addCached(&twice, false)
		tab[k].fromExtended(&p)
	}
}

// windowNAF writes the width-w non-adjacent form of the little-endian scalar
// s < 2^128 into digits[pos*stride+i], which the caller has zeroed: every
// non-zero digit is odd and in (−2^(w−1), 2^(w−1)), any w consecutive digits
// hold at most one non-zero, and Σ digit_pos·2^pos = s. It is the
// curve25519-dalek algorithm edwards25519 uses, on 128 bits: a negative
// digit leaves a carry into the next window.
func windowNAF(digits []int8, i, stride int, s *[32]byte, w uint) {
	lo := binary.LittleEndian.Uint64(s[0:8])
	hi := binary.LittleEndian.Uint64(s[8:16])
	width := uint64(1) << w
	mask := width - 1
	carry := uint64(0)
	for pos := uint(0); pos < nafLen; {
		var bits uint64 // s >> pos; Go's shifts by ≥ 64 give 0
		if pos < 64 {
			bits = lo>>pos | hi<<(64-pos)
		} else {
			bits = hi >> (pos - 64)
		}
		window := carry + bits&mask
		if window&1 == 0 {
			pos++ // an even window keeps its carry: see edwards25519's nonAdjacentForm
			continue
		}
		if window < width/2 {
			carry = 0
			digits[int(pos)*stride+i] = int8(window)
		} else {
			carry = 1
			digits[int(pos)*stride+i] = int8(int(window) - int(width))
		}
		pos += w
	}
}

// baseTables holds the odd multiples of B and of [2^128]B in affine form,
// for the two halves of the base point's scalar.
var baseTables = func() *[2][baseTable]affine {
	var tabs [2][baseTable]affine
	for h, a := range []*affine{basePoint, base128} {
		var p, p2 extended
		p.setAffine(a, false)
		p2 = p
		p2.double()
		ext := make([]extended, baseTable)
		ext[0] = p
		for k := 1; k < baseTable; k++ {
			ext[k] = ext[k-1]
			ext[k].add(&p2)
		}
		toAffine(tabs[h][:], ext)
	}
	return &tabs
}()

// toAffine sets out[k] to in[k] with one field inversion for all of them
// (Montgomery's trick: invert the product of the Zs, then peel each inverse
// off with two multiplications).
func toAffine(out []affine, in []extended) {
	prefix := make([]field.Element, len(in)) // prefix[k] = Z_0 ⋯ Z_(k−1)
	var acc field.Element
	acc.One()
	for k := range in {
		prefix[k].Set(&acc)
		acc.Multiply(&acc, &in[k].Z)
	}
	acc.Invert(&acc) // 1 / (Z_0 ⋯ Z_(n−1))
	for k := len(in) - 1; k >= 0; k-- {
		var zInv, x, y, xy field.Element
		zInv.Multiply(&acc, &prefix[k])
		acc.Multiply(&acc, &in[k].Z)
		x.Multiply(&in[k].X, &zInv)
		y.Multiply(&in[k].Y, &zInv)
		xy.Multiply(&x, &y)
		out[k].ypx.Add(&y, &x)
		out[k].ymx.Subtract(&y, &x)
		out[k].t2d.Multiply(&xy, d2)
	}
}
