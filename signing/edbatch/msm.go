package edbatch

// Bucket (Pippenger) multiscalar multiplication, variable time: the batch
// equation's Σ cᵢPᵢ over hundreds of points. Straus (straus.go) costs every
// point its own table and about 26 additions whatever the batch size; the
// bucket method shares the work across points, so a point's cost falls as
// the batch grows (BenchmarkBatchSizes).
//
// Every scalar here is below 2^128: the batch coefficients zᵢ are 128-bit
// (SPEC §3), and full-size scalars are split into two halves on P and
// [2^128]P by the caller (appendSplit), which halves the number of windows
// and so the cost of summing the buckets. Scalars are recoded into signed
// radix-2^c digits; for each window, from the most significant down, every
// point with a non-zero digit is added (mixed addition, 7M) into the bucket
// of |digit|, negated for a negative digit; the buckets are then summed as
// Σ_k k·bucket[k] with two running sums, and the window sums are combined by
// c doublings in between (Horner).

// term is one point of a multiscalar multiplication with its scalar's
// little-endian encoding, below 2^128.
type term struct {
	p      *affine
	scalar [32]byte
}

// msm is scratch memory for bucket multiscalar multiplication, reused across
// batches.
type msm struct {
	digits  []int16
	buckets []extended
	filled  []bool
}

// scalarBits is the bit length of every scalar, plus one bit that absorbs
// the carry of signed recoding.
const scalarBits = 128 + 1

// windowBits picks c to minimise the cost model: per point one mixed
// addition (7M) per window, plus per window about 2^c full additions (9M)
// to sum the buckets.
func windowBits(n int) int {
	best, bestCost := 1, -1
	for c := 2; c <= 16; c++ {
		w := (scalarBits + c - 1) / c
		cost := 7*n*w + 9*w*(1<<c)
		if bestCost < 0 || cost < bestCost {
			best, bestCost = c, cost
		}
	}
	return best
}

// sum sets out = Σ scalar·p over terms and returns out.
func (m *msm) sum(out *extended, terms []term) *extended {
	n := len(terms)
	c := windowBits(n)
	nwin := (scalarBits + c - 1) / c

	// digits[w*n+i] is the w-th signed digit of term i.
	m.digits = grow(m.digits, nwin*n)
	for i := range terms {
		recode(m.digits, i, n, &terms[i].scalar, c, nwin)
	}
	nb := 1 << (c - 1)
	m.buckets = grow(m.buckets, nb)
	m.filled = grow(m.filled, nb)

	out.identity()
	started := false
	for w := nwin - 1; w >= 0; w-- {
		if started {
			for range c {
				out.double()
			}
		}
		clear(m.filled)
		for i, d := range m.digits[w*n : (w+1)*n] {
			if d == 0 {
				continue
			}
			neg := d < 0
			if neg {
				d = -d
			}
			b := int(d) - 1
			if m.filled[b] {
				m.buckets[b].addAffine(terms[i].p, neg)
			} else {
				m.buckets[b].setAffine(terms[i].p, neg)
				m.filled[b] = true
			}
		}
		// Σ_k (k+1)·bucket[k] = Σ_k running_k, running_k = Σ_{j≥k} bucket[j].
		var running, total extended
		hasRunning, hasTotal := false, false
		for k := nb - 1; k >= 0; k-- {
			if m.filled[k] {
				if hasRunning {
					running.add(&m.buckets[k])
				} else {
					running, hasRunning = m.buckets[k], true
				}
			}
			if hasRunning {
				if hasTotal {
					total.add(&running)
				} else {
					total, hasTotal = running, true
				}
			}
		}
		if hasTotal {
			if started {
				out.add(&total)
			} else {
				*out, started = total, true
			}
		}
	}
	return out
}

// recode writes the nwin signed radix-2^c digits of the little-endian scalar
// s into digits[w*stride+i]; each digit is in (−2^(c−1), 2^(c−1)] and
// Σ digit_w·2^(cw) = s. Allowing +2^(c−1) (rather than −2^(c−1)) means the
// top window never carries out: nwin·c ≥ bits+1 leaves it at most c−1 bits.
func recode(digits []int16, i, stride int, s *[32]byte, c, nwin int) {
	carry := 0
	half := 1 << (c - 1)
	for w := range nwin {
		v := bitsAt(s, w*c, c) + carry
		if v > half {
			digits[w*stride+i] = int16(v - 1<<c)
			carry = 1
		} else {
			digits[w*stride+i] = int16(v)
			carry = 0
		}
	}
}

// bitsAt returns the c ≤ 16 bits of s starting at bit off (zero past the end).
func bitsAt(s *[32]byte, off, c int) int {
	var v uint32
	for k := 0; k < 3; k++ {
		if j := off/8 + k; j < len(s) {
			v |= uint32(s[j]) << (8 * k)
		}
	}
	return int(v>>(off%8)) & (1<<c - 1)
}

// grow returns s resized to n, reusing its memory when it can.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}
