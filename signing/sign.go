package signing

import (
	"fmt"
	"math/bits"
)

// EncodeProtected encodes h as the protected header map of SPEC §2, with
// labels in RFC 8949 §4.2.1 core deterministic order (1, 3, 4, 6, 13, 15) and
// every integer in shortest form, so that Parse accepts exactly what it makes.
func EncodeProtected(h Header) ([]byte, error) {
	if !h.Alg.Known() {
		return nil, fmt.Errorf("protected.alg: unknown algorithm %d", int64(h.Alg))
	}
	if len(h.KID) < 1 || len(h.KID) > maxKIDLen {
		return nil, fmt.Errorf("protected.kid: %d bytes, want 1..%d", len(h.KID), maxKIDLen)
	}
	if h.Counter == 0 {
		return nil, fmt.Errorf("protected.piv: counter must be at least 1")
	}
	pairs := uint64(3)
	for _, present := range []bool{h.ContentType != "", len(h.Endorsement) > 0, h.IssuedAt != nil || h.Expires != nil} {
		if present {
			pairs++
		}
	}
	out := appendHead(make([]byte, 0, 64+len(h.KID)+len(h.Endorsement)), 5, pairs)
	out = appendInt(appendInt(out, labelAlg), int64(h.Alg))
	switch h.ContentType {
	case "":
	case ContentTypeJSON:
		out = appendInt(out, labelContentType)
		out = append(appendHead(out, 3, uint64(len(ContentTypeJSON))), ContentTypeJSON...)
	case ContentTypeCBOR:
		out = appendInt(appendInt(out, labelContentType), contentTypeCBOR)
	default:
		return nil, fmt.Errorf("protected.ctype: %q is not %q or %q", h.ContentType, ContentTypeJSON, ContentTypeCBOR)
	}
	out = appendBytes(appendInt(out, labelKID), h.KID)
	out = appendBytes(appendInt(out, labelPIV), counterBytes(h.Counter))
	if len(h.Endorsement) > 0 {
		out = appendBytes(appendInt(out, labelEndorsement), h.Endorsement)
	}
	if h.IssuedAt != nil || h.Expires != nil {
		out = appendInt(out, labelCWTClaims)
		n := uint64(0)
		if h.Expires != nil {
			n++
		}
		if h.IssuedAt != nil {
			n++
		}
		out = appendHead(out, 5, n)
		if h.Expires != nil { // 4 sorts before 6
			out = appendInt(appendInt(out, claimExp), *h.Expires)
		}
		if h.IssuedAt != nil {
			out = appendInt(appendInt(out, claimIat), *h.IssuedAt)
		}
	}
	return out, nil
}

// counterBytes is the piv encoding of c: big-endian with no leading zero byte.
func counterBytes(c uint64) []byte {
	n := (bits.Len64(c) + 7) / 8
	b := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		b[i] = byte(c)
		c >>= 8
	}
	return b
}

// Sign makes a tagged COSE_Sign1 envelope (SPEC §2) of payload for topic.
// h.Alg may be left zero to take the key's algorithm; if set it must match.
func Sign(priv PrivateKey, h Header, payload []byte, topic string) ([]byte, error) {
	if h.Alg == 0 {
		h.Alg = priv.Alg()
	}
	if h.Alg != priv.Alg() {
		return nil, fmt.Errorf("protected.alg: header says %s but the key is %s", h.Alg, priv.Alg())
	}
	protected, err := EncodeProtected(h)
	if err != nil {
		return nil, err
	}
	if payload == nil {
		payload = []byte{}
	}
	sig, err := priv.Sign(AppendToBeSigned(nil, protected, topic, payload))
	if err != nil {
		return nil, fmt.Errorf("signing with %s: %w", priv.Alg(), err)
	}
	env := Envelope{Header: h, Protected: protected, Payload: payload, Signature: sig}
	return env.Encode(), nil
}

// Encode returns the tagged COSE_Sign1 encoding of e, reusing e.Protected as is.
func (e *Envelope) Encode() []byte {
	out := make([]byte, 0, 16+len(e.Protected)+len(e.Payload)+len(e.Signature))
	out = append(out, 0xc0|tagSign1, 0x84)
	out = appendBytes(out, e.Protected)
	out = append(out, 0xa0) // unprotected: {}
	out = appendBytes(out, e.Payload)
	return appendBytes(out, e.Signature)
}

// Verify checks that e may be verified under pub (the alg pin of SPEC §4
// step 6) and that its signature is valid for topic (step 8). It returns a
// *Rejection with ReasonAlgMismatch or ReasonBadSignature.
func (e *Envelope) Verify(pub PublicKey, topic string) error {
	if e.Header.Alg != pub.Alg() {
		return Reject(ReasonAlgMismatch, "protected.alg", "message says %s, key is registered for %s", e.Header.Alg, pub.Alg())
	}
	if !pub.Verify(e.ToBeSigned(topic), e.Signature) {
		return Reject(ReasonBadSignature, "signature", "")
	}
	return nil
}
