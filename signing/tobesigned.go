package signing

// sigContext is the COSE_Sign1 context string (RFC 9052 §4.4).
const sigContext = "Signature1"

// AppendToBeSigned appends the Sig_structure of RFC 9052 §4.4,
//
//	["Signature1", protected, external_aad, payload]
//
// to dst, with the MQTT topic's UTF-8 bytes as external_aad (SPEC §2): a
// signature made for one topic never verifies on another.
func AppendToBeSigned(dst, protected []byte, topic string, payload []byte) []byte {
	dst = append(dst, 0x84) // array(4)
	dst = appendHead(dst, 3, uint64(len(sigContext)))
	dst = append(dst, sigContext...)
	dst = appendHead(dst, 2, uint64(len(protected)))
	dst = append(dst, protected...)
	dst = appendHead(dst, 2, uint64(len(topic)))
	dst = append(dst, topic...)
	dst = appendHead(dst, 2, uint64(len(payload)))
	return append(dst, payload...)
}

// ToBeSigned returns the bytes the envelope's signature covers on topic.
func (e *Envelope) ToBeSigned(topic string) []byte {
	n := len(sigContext) + len(e.Protected) + len(topic) + len(e.Payload) + 4*9 + 1
	return AppendToBeSigned(make([]byte, 0, n), e.Protected, topic, e.Payload)
}

// appendHead appends a CBOR head (RFC 8949 §3) for major type major and
// argument n in its shortest form.
func appendHead(dst []byte, major byte, n uint64) []byte {
	m := major << 5
	switch {
	case n < 24:
		return append(dst, m|byte(n))
	case n <= 0xff:
		return append(dst, m|24, byte(n))
	case n <= 0xffff:
		return append(dst, m|25, byte(n>>8), byte(n))
	case n <= 0xffffffff:
		return append(dst, m|26, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(dst, m|27, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32),
			byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// appendInt appends a CBOR integer (major type 0 or 1) in shortest form.
func appendInt(dst []byte, v int64) []byte {
	if v >= 0 {
		return appendHead(dst, 0, uint64(v))
	}
	return appendHead(dst, 1, uint64(-1-v))
}

// appendBytes appends a CBOR byte string.
func appendBytes(dst, b []byte) []byte {
	return append(appendHead(dst, 2, uint64(len(b))), b...)
}
