package strictjson

import (
	"strconv"
)

// scalar reads the string, number or literal at d.pos (not at the end).
func (d *decoder) scalar() (any, *failure) {
	switch c := d.src[d.pos]; {
	case c == '"':
		s, f := d.str()
		if f != nil {
			return nil, f
		}
		return s, nil
	case c == '-' || '0' <= c && c <= '9':
		n, f := d.number()
		if f != nil {
			return nil, f
		}
		return n, nil
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, d.syntax(" looking for beginning of value")
}

// literal reads word, whose first byte is at d.pos.
func (d *decoder) literal(word string) *failure {
	for k := 1; k < len(word); k++ {
		i := d.pos + k
		if i >= len(d.src) {
			return d.end()
		}
		if d.src[i] != word[k] {
			d.pos = i
			return d.syntax(" in literal " + word + " (expecting " + quoteChar(word[k]) + ")")
		}
	}
	d.pos += len(word)
	return nil
}

// maxExactDigits is the longest run of decimal digits whose integer is
// below 2^53, so that float64 holds it exactly and converting it gives
// what strconv.ParseFloat would.
const maxExactDigits = 15

// number reads the RFC 8259 §6 number at d.pos: '-'?, an integer part
// with no leading zero, an optional fraction, an optional exponent.
func (d *decoder) number() (float64, *failure) {
	src, start, i := d.src, d.pos, d.pos
	if src[i] == '-' {
		i++
	}
	digits := i
	switch {
	case i >= len(src):
		return 0, d.end()
	case src[i] == '0':
		i++
	case '1' <= src[i] && src[i] <= '9':
		i = skipDigits(src, i+1)
	default:
		return 0, d.syntaxAt(i, " in numeric literal")
	}
	integer := i == len(src) || src[i] != '.' && src[i] != 'e' && src[i] != 'E'
	if i < len(src) && src[i] == '.' {
		i++
		if i >= len(src) {
			return 0, d.end()
		}
		if !isDigit(src[i]) {
			return 0, d.syntaxAt(i, " after decimal point in numeric literal")
		}
		i = skipDigits(src, i+1)
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		i++
		if i < len(src) && (src[i] == '+' || src[i] == '-') {
			i++
		}
		if i >= len(src) {
			return 0, d.end()
		}
		if !isDigit(src[i]) {
			return 0, d.syntaxAt(i, " in exponent of numeric literal")
		}
		i = skipDigits(src, i+1)
	}
	d.pos = i
	if integer && i-digits <= maxExactDigits {
		n := uint64(0)
		for _, c := range src[digits:i] {
			n = n*10 + uint64(c-'0')
		}
		f := float64(n)
		if digits > start {
			f = -f // -0 stays negative zero, as ParseFloat gives
		}
		return f, nil
	}
	// The grammar is checked, so ParseFloat's only complaint is a value
	// beyond float64 (ErrRange), which encoding/json refuses too; it reads
	// an underflow as 0 or a subnormal without complaint.
	f, err := strconv.ParseFloat(string(src[start:i]), 64)
	if err != nil {
		return 0, failAt(start, "number out of float64 range")
	}
	return f, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// skipDigits returns the index of the first non-digit from i on.
func skipDigits(src []byte, i int) int {
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	return i
}
