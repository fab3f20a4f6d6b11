package strictjson

import (
	"unicode/utf16"
	"unicode/utf8"
)

// str reads the RFC 8259 §7 string whose opening quote is at d.pos and
// leaves d.pos after its closing quote. A string without escapes costs
// only the returned string; one with escapes is built in d.buf.
//
// encoding/json turns invalid UTF-8 and lone surrogate escapes into
// U+FFFD without complaint; here they are refused (§8.2), but only once
// the string has ended, so that a syntax error later in the same string
// wins, as it does in encoding/json, and invalid UTF-8 wins over a lone
// surrogate, as it did in the Token-based decoder this one replaced.
func (d *decoder) str() (string, *failure) {
	src := d.src
	i := d.pos + 1
	begin := i
	from := i      // the first byte not yet copied into buf
	var buf []byte // nil until the first escape
	badUTF8, lone := -1, -1
	for i < len(src) {
		c := src[i]
		if c >= 0x20 && c < utf8.RuneSelf && c != '"' && c != '\\' {
			i++
			continue
		}
		switch {
		case c == '"':
			d.pos = i + 1
			if badUTF8 >= 0 {
				return "", failAt(badUTF8, "invalid UTF-8")
			}
			if lone >= 0 {
				return "", failAt(lone, "lone UTF-16 surrogate escape")
			}
			if buf == nil {
				return string(src[begin:i]), nil
			}
			buf = append(buf, src[from:i]...)
			d.buf = buf
			return string(buf), nil
		case c == '\\':
			if buf == nil {
				buf = d.buf[:0]
			}
			buf = append(buf, src[from:i]...)
			var f *failure
			if buf, i, f = d.escape(buf, i, &lone); f != nil {
				return "", f
			}
			from = i
		case c < 0x20:
			return "", d.syntaxAt(i, " in string literal")
		default:
			r, size := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && size == 1 && badUTF8 < 0 {
				badUTF8 = i
			}
			i += size
		}
	}
	return "", d.end()
}

// escape decodes the escape whose backslash is at i onto buf and returns
// the index after it. A surrogate escape that is not a high one followed
// at once by a low one is lone: the first such backslash goes to *lone.
func (d *decoder) escape(buf []byte, i int, lone *int) ([]byte, int, *failure) {
	src := d.src
	if i+1 >= len(src) {
		return buf, i, d.end()
	}
	switch c := src[i+1]; c {
	case '"', '\\', '/':
		return append(buf, c), i + 2, nil
	case 'b':
		return append(buf, '\b'), i + 2, nil
	case 'f':
		return append(buf, '\f'), i + 2, nil
	case 'n':
		return append(buf, '\n'), i + 2, nil
	case 'r':
		return append(buf, '\r'), i + 2, nil
	case 't':
		return append(buf, '\t'), i + 2, nil
	case 'u':
	default:
		return buf, i, d.syntaxAt(i+1, " in string escape code")
	}
	r, f := d.hex4(i + 2)
	if f != nil {
		return buf, i, f
	}
	if !utf16.IsSurrogate(r) {
		return utf8.AppendRune(buf, r), i + 6, nil
	}
	if r2, ok := lowSurrogate(src, i+6); ok && r < 0xDC00 {
		return utf8.AppendRune(buf, utf16.DecodeRune(r, r2)), i + 12, nil
	}
	if *lone < 0 {
		*lone = i
	}
	return utf8.AppendRune(buf, utf8.RuneError), i + 6, nil
}

// hex4 reads the four hexadecimal digits of a \u escape from i on.
func (d *decoder) hex4(i int) (rune, *failure) {
	r := rune(0)
	for k := i; k < i+4; k++ {
		if k >= len(d.src) {
			return 0, d.end()
		}
		v, ok := hexDigit(d.src[k])
		if !ok {
			return 0, d.syntaxAt(k, ` in \u hexadecimal character escape`)
		}
		r = r<<4 | v
	}
	return r, nil
}

// lowSurrogate reports the code unit of a \u escape at i that is a low
// surrogate (U+DC00..U+DFFF), the second half of a pair.
func lowSurrogate(src []byte, i int) (rune, bool) {
	if i+6 > len(src) || src[i] != '\\' || src[i+1] != 'u' {
		return 0, false
	}
	r := rune(0)
	for _, c := range src[i+2 : i+6] {
		v, ok := hexDigit(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | v
	}
	return r, 0xDC00 <= r && r < 0xE000
}

func hexDigit(c byte) (rune, bool) {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0'), true
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10), true
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10), true
	}
	return 0, false
}
