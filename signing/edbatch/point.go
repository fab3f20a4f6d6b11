package edbatch

import (
	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// The bucket method (msm.go) needs point forms that filippo.io/edwards25519
// keeps private: affine points in "Niels" form for 7-multiplication mixed
// additions, and cheap conversions between them. They are written here on
// the package's exported field arithmetic, with the formulas of
// Hisil–Wong–Carter–Dawson, "Twisted Edwards Curves Revisited" (2008), §3.1
// and §3.3 (a = −1), exactly as edwards25519 uses them internally.

// extended is a point in extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z,
// xy = T/Z.
type extended struct {
	X, Y, Z, T field.Element
}

// affine is a point with Z = 1 in Niels form (y+x, y−x, 2d·x·y): what a
// mixed addition needs, 7 multiplications instead of 9.
type affine struct {
	ypx, ymx, t2d field.Element
}

var (
	feOne = new(field.Element).One()
	feTwo = new(field.Element).Add(feOne, feOne)
	// d2 is 2d, d = −121665/121666 the curve constant of RFC 8032 §5.1.
	d2 = func() *field.Element {
		d, err := new(field.Element).SetBytes([]byte{
			0xa3, 0x78, 0x59, 0x13, 0xca, 0x4d, 0xeb, 0x75,
			0xab, 0xd8, 0x41, 0x41, 0x4d, 0x0a, 0x70, 0x00,
			0x98, 0xe8, 0x79, 0x77, 0x79, 0x40, 0xc7, 0x8c,
			0x73, 0xfe, 0x6f, 0x2b, 0xee, 0x6c, 0x03, 0x52})
		if err != nil {
			panic(err)
		}
		return d.Add(d, d)
	}()
)

// setPoint sets a to p. It inverts Z unless Z is already 1 (points fresh
// from SetBytes), so it is cheap for decoded R and A.
func (a *affine) setPoint(p *edwards25519.Point) {
	X, Y, Z, _ := p.ExtendedCoordinates()
	var x, y, xy field.Element
	if Z.Equal(feOne) == 1 {
		x.Set(X)
		y.Set(Y)
	} else {
		var zInv field.Element
		zInv.Invert(Z)
		x.Multiply(X, &zInv)
		y.Multiply(Y, &zInv)
	}
	xy.Multiply(&x, &y)
	a.ypx.Add(&y, &x)
	a.ymx.Subtract(&y, &x)
	a.t2d.Multiply(&xy, d2)
}

// identity sets p to the neutral element (0:1:1:0).
func (p *extended) identity() {
	p.X.Zero()
	p.Y.One()
	p.Z.One()
	p.T.Zero()
}

// setAffine sets p to a, or to −a = (−x, y) when neg, with one
// multiplication: (y+x) − (y−x) = 2x and (y+x) + (y−x) = 2y give
// (4x : 4y : 4 : 4xy).
func (p *extended) setAffine(a *affine, neg bool) {
	var x2, y2 field.Element
	x2.Subtract(&a.ypx, &a.ymx)
	y2.Add(&a.ypx, &a.ymx)
	p.T.Multiply(&x2, &y2)
	p.X.Add(&x2, &x2)
	p.Y.Add(&y2, &y2)
	p.Z.Add(feTwo, feTwo)
	if neg {
		p.X.Negate(&p.X)
		p.T.Negate(&p.T)
	}
}

// addAffine sets p = p + a, or p − a when neg: 7 multiplications
// (HWCD §3.1 "madd", then the P1×P1 to extended conversion).
func (p *extended) addAffine(a *affine, neg bool) {
	var ypx, ymx, pp, mm, tt, z2 field.Element
	ypx.Add(&p.Y, &p.X)
	ymx.Subtract(&p.Y, &p.X)
	if neg { // −a swaps y+x with y−x and negates 2dxy
		pp.Multiply(&ypx, &a.ymx)
		mm.Multiply(&ymx, &a.ypx)
	} else {
		pp.Multiply(&ypx, &a.ypx)
		mm.Multiply(&ymx, &a.ymx)
	}
	tt.Multiply(&p.T, &a.t2d)
	z2.Add(&p.Z, &p.Z)
	var x, y, z, t field.Element
	x.Subtract(&pp, &mm)
	y.Add(&pp, &mm)
	if neg {
		z.Subtract(&z2, &tt)
		t.Add(&z2, &tt)
	} else {
		z.Add(&z2, &tt)
		t.Subtract(&z2, &tt)
	}
	p.fromCompleted(&x, &y, &z, &t)
}

// add sets p = p + q for two extended points: 9 multiplications
// (HWCD §3.1 "add-2008-hwcd-3" with k = 2d).
func (p *extended) add(q *extended) {
	var ypx, ymx, pp, mm, tt, zz field.Element
	ypx.Add(&p.Y, &p.X)
	ymx.Subtract(&p.Y, &p.X)
	var qpx, qmx, qt2d field.Element
	qpx.Add(&q.Y, &q.X)
	qmx.Subtract(&q.Y, &q.X)
	qt2d.Multiply(&q.T, d2)
	pp.Multiply(&ypx, &qpx)
	mm.Multiply(&ymx, &qmx)
	tt.Multiply(&p.T, &qt2d)
	zz.Multiply(&p.Z, &q.Z)
	zz.Add(&zz, &zz)
	var x, y, z, t field.Element
	x.Subtract(&pp, &mm)
	y.Add(&pp, &mm)
	z.Add(&zz, &tt)
	t.Subtract(&zz, &tt)
	p.fromCompleted(&x, &y, &z, &t)
}

// double sets p = 2p (HWCD §3.3 "dbl-2008-hwcd"), 4 squarings and 4
// multiplications.
func (p *extended) double() {
	x, y, z, t := p.doubleCompleted()
	p.fromCompleted(&x, &y, &z, &t)
}

// doubleNoT sets X, Y and Z of p to those of 2p and leaves T stale, one
// multiplication fewer than double: doubling reads only X, Y and Z, so a
// chain of doublings needs T only after its last one.
func (p *extended) doubleNoT() {
	x, y, z, t := p.doubleCompleted()
	p.X.Multiply(&x, &t)
	p.Y.Multiply(&y, &z)
	p.Z.Multiply(&z, &t)
}

// doubleCompleted returns 2p in completed coordinates; it reads only X, Y
// and Z.
func (p *extended) doubleCompleted() (x, y, z, t field.Element) {
	var xx, yy, zz2, s field.Element
	xx.Square(&p.X)
	yy.Square(&p.Y)
	zz2.Square(&p.Z)
	zz2.Add(&zz2, &zz2)
	s.Add(&p.X, &p.Y)
	s.Square(&s)
	y.Add(&yy, &xx)
	z.Subtract(&yy, &xx)
	x.Subtract(&s, &y)
	t.Subtract(&zz2, &z)
	return
}

// fromCompleted sets p from the completed ("P1×P1") coordinates
// ((x:z), (y:t)) that addition and doubling produce.
func (p *extended) fromCompleted(x, y, z, t *field.Element) {
	p.X.Multiply(x, t)
	p.Y.Multiply(y, z)
	p.Z.Multiply(z, t)
	p.T.Multiply(x, y)
}

// isIdentity reports whether p is the neutral element: X = 0 and Y = Z.
func (p *extended) isIdentity() bool {
	var zero field.Element
	return p.X.Equal(&zero) == 1 && p.Y.Equal(&p.Z) == 1
}
