package signing

// checkShortest walks exactly one CBOR data item at the start of b and returns
// its length. It refuses what RFC 8949 §4.2.1 ("Core Deterministic Encoding")
// forbids and fxamacker/cbor's decode options cannot: an argument (integer,
// length, tag number) not in its shortest form. It also refuses indefinite
// lengths, reserved additional-information values and floating-point values
// (SPEC §2 uses integers only), and nesting deeper than maxDepth.
//
// Duplicate map keys and types are left to the decoder; this is a well-formedness
// and canonical-form pass over bytes we are about to hash, so that one message
// has exactly one accepted encoding.
func checkShortest(b []byte, maxDepth int) (int, error) {
	if maxDepth < 0 {
		return 0, defectf(DefectForbiddenItem, "CBOR nesting too deep")
	}
	if len(b) == 0 {
		return 0, defectf(DefectTruncated, "truncated CBOR item")
	}
	major, ai := b[0]>>5, b[0]&0x1f
	arg, n, err := readArgument(b, ai)
	if err != nil {
		return 0, err
	}
	switch major {
	case 0, 1: // unsigned, negative integer
		return n, nil
	case 2, 3: // byte string, text string
		if arg > uint64(len(b)-n) {
			return 0, defectf(DefectTruncated, "truncated CBOR string: %d bytes declared, %d present", arg, len(b)-n)
		}
		return n + int(arg), nil
	case 4, 5: // array, map
		items := arg
		if major == 5 {
			if arg > uint64(len(b)) {
				return 0, defectf(DefectTruncated, "truncated CBOR map")
			}
			items = 2 * arg
		}
		if items > uint64(len(b)) { // every item takes at least one byte
			return 0, defectf(DefectTruncated, "truncated CBOR array")
		}
		off := n
		for i := uint64(0); i < items; i++ {
			m, err := checkShortest(b[off:], maxDepth-1)
			if err != nil {
				return 0, err
			}
			off += m
		}
		return off, nil
	case 6: // tag
		m, err := checkShortest(b[n:], maxDepth-1)
		if err != nil {
			return 0, err
		}
		return n + m, nil
	default: // 7: simple values and floats
		if ai >= 25 && ai <= 27 {
			return 0, defectf(DefectForbiddenItem, "floating-point values are not allowed")
		}
		if ai == 24 && arg < 32 {
			return 0, defectf(DefectNonShortest, "simple value not in shortest form")
		}
		return n, nil
	}
}

// readArgument decodes the argument of a CBOR head (RFC 8949 §3) and requires
// its shortest form. It returns the argument and the head's length.
func readArgument(b []byte, ai byte) (uint64, int, error) {
	switch {
	case ai < 24:
		return uint64(ai), 1, nil
	case ai <= 27:
		size := 1 << (ai - 24) // 1, 2, 4 or 8 bytes
		if len(b) < 1+size {
			return 0, 0, defectf(DefectTruncated, "truncated CBOR head")
		}
		var v uint64
		for _, c := range b[1 : 1+size] {
			v = v<<8 | uint64(c)
		}
		if (b[0]>>5) != 7 && v < minForSize(size) {
			return 0, 0, defectf(DefectNonShortest, "CBOR argument %d not in shortest form", v)
		}
		return v, 1 + size, nil
	case ai == 31:
		return 0, 0, defectf(DefectIndefiniteLength, "indefinite-length CBOR items are not allowed")
	default:
		return 0, 0, defectf(DefectForbiddenItem, "reserved CBOR additional information %d", ai)
	}
}

// minForSize is the smallest argument that needs a following field of size bytes.
func minForSize(size int) uint64 {
	switch size {
	case 1:
		return 24
	case 2:
		return 1 << 8
	case 4:
		return 1 << 16
	default:
		return 1 << 32
	}
}
