package signing

// The fast path of Parse. Nearly every message at the broker is a device's
// telemetry or state: a COSE_Sign1 whose protected header holds alg, kid
// and piv and nothing else. parseFast decodes exactly that shape by hand,
// about ten times cheaper than the general strict decoder
// (BenchmarkParse). It accepts only what the strict path accepts and
// returns the same Envelope (TestFastParseAgrees, and FuzzParse on every
// input); anything else, malformed input included, it leaves to the strict
// path, which alone words the rejections.

// parseFast decodes data if it is an envelope of the common shape, into
// memory of its own.
func parseFast(data []byte) (*Envelope, bool) {
	env, ok := parseFastShared(data)
	if !ok {
		return nil, false
	}
	// One copy, as the strict path returns memory of its own.
	protected, payload, sig, kid := env.Protected, env.Payload, env.Signature, env.Header.KID
	buf := make([]byte, 0, len(protected)+len(payload)+len(sig)+len(kid))
	buf = append(append(append(append(buf, protected...), payload...), sig...), kid...)
	n1, n2, n3 := len(protected), len(protected)+len(payload), len(protected)+len(payload)+len(sig)
	env.Header.KID = buf[n3:len(buf):len(buf)]
	env.Protected, env.Payload, env.Signature = buf[:n1:n1], buf[n1:n2:n2], buf[n2:n3:n3]
	return env, true
}

// ParseShared is Parse for a caller that leaves data unchanged for as long
// as it uses the Envelope: an envelope of the usual shape then points into
// data instead of into a copy of it (the broker's packets are never reused,
// and the copy was one allocation of the message's size per message). Any
// other envelope is decoded as by Parse, into memory of its own.
func ParseShared(data []byte, maxSize int) (*Envelope, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	if len(data) > maxSize {
		return nil, rejectMalformed(DefectTooLarge, "envelope", "%d bytes exceeds the %d-byte limit", len(data), maxSize)
	}
	if env, ok := parseFastShared(data); ok {
		return env, nil
	}
	return parseStrict(data)
}

// parseFastShared is parseFast with every field within data.
func parseFastShared(data []byte) (*Envelope, bool) {
	if len(data) < 2 || data[0] != 0xc0|tagSign1 || data[1] != 0x80|4 {
		return nil, false
	}
	off := 2
	protected, off, ok := fastBytes(data, off)
	if !ok || off >= len(data) || data[off] != 0xa0 { // unprotected: {}
		return nil, false
	}
	payload, off, ok := fastBytes(data, off+1)
	if !ok {
		return nil, false
	}
	sig, off, ok := fastBytes(data, off)
	if !ok || off != len(data) {
		return nil, false
	}
	var h Header
	kid, ok := fastHeader(protected, &h)
	if !ok {
		return nil, false
	}
	if want := h.Alg.SignatureSize(); want > 0 && len(sig) != want {
		return nil, false
	}
	h.KID = kid[:len(kid):len(kid)]
	return &Envelope{
		Header:    h,
		Protected: protected[:len(protected):len(protected)],
		Payload:   payload[:len(payload):len(payload)],
		Signature: sig[:len(sig):len(sig)],
	}, true
}

// fastHeader decodes a protected header map of exactly alg, kid and piv, in
// any order, each once; it returns the kid (within p).
func fastHeader(p []byte, h *Header) (kid []byte, ok bool) {
	major, n, off, ok := fastHead(p, 0)
	if !ok || major != 5 || n != 3 {
		return nil, false
	}
	var seen [7]bool
	for range 3 {
		var label uint64
		if major, label, off, ok = fastHead(p, off); !ok || major != 0 || label >= uint64(len(seen)) || seen[label] {
			return nil, false
		}
		seen[label] = true
		switch label {
		case labelAlg:
			var v uint64
			if major, v, off, ok = fastHead(p, off); !ok || (major != 0 && major != 1) || v > 1<<16 {
				return nil, false
			}
			a := int64(v)
			if major == 1 {
				a = -1 - a
			}
			if h.Alg = Alg(a); !h.Alg.Known() {
				return nil, false
			}
		case labelKID:
			if kid, off, ok = fastBytes(p, off); !ok || len(kid) < 1 || len(kid) > maxKIDLen {
				return nil, false
			}
		case labelPIV:
			var piv []byte
			if piv, off, ok = fastBytes(p, off); !ok || len(piv) < 1 || len(piv) > maxPIVLen || piv[0] == 0 {
				return nil, false
			}
			for _, x := range piv {
				h.Counter = h.Counter<<8 | uint64(x)
			}
		default:
			return nil, false
		}
	}
	return kid, off == len(p)
}

// fastBytes reads a byte string item at off and returns its content and
// the offset after it.
func fastBytes(b []byte, off int) (content []byte, next int, ok bool) {
	major, n, off, ok := fastHead(b, off)
	if !ok || major != 2 || n > uint64(len(b)-off) {
		return nil, 0, false
	}
	end := off + int(n)
	return b[off:end], end, true
}

// fastHead reads an item's head at off: its major type and argument, in
// shortest form (RFC 8949 §4.2.1) and of definite length only.
func fastHead(b []byte, off int) (major byte, arg uint64, next int, ok bool) {
	if off >= len(b) {
		return 0, 0, 0, false
	}
	major, ai := b[off]>>5, b[off]&0x1f
	off++
	var size int
	var least uint64
	switch {
	case ai < 24:
		return major, uint64(ai), off, true
	case ai == 24:
		size, least = 1, 24
	case ai == 25:
		size, least = 2, 1<<8
	case ai == 26:
		size, least = 4, 1<<16
	case ai == 27:
		size, least = 8, 1<<32
	default:
		return 0, 0, 0, false // reserved, or indefinite length
	}
	if len(b)-off < size {
		return 0, 0, 0, false
	}
	for _, x := range b[off : off+size] {
		arg = arg<<8 | uint64(x)
	}
	if arg < least {
		return 0, 0, 0, false
	}
	return major, arg, off + size, true
}
