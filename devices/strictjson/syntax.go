package strictjson

import "strconv"

// syntax refuses the byte at d.pos. context says what was expected, in
// encoding/json's words (with a leading space), so that a refusal reads the
// same as the encoding/json.SyntaxError a caller may know.
func (d *decoder) syntax(context string) *failure {
	return d.syntaxAt(d.pos, context)
}

// syntaxAt refuses the byte at offset i.
func (d *decoder) syntaxAt(i int, context string) *failure {
	return failAt(i, "not JSON: invalid character "+quoteChar(d.src[i])+context)
}

// end refuses an input that stops inside a value.
func (d *decoder) end() *failure {
	return failAt(len(d.src), "unexpected end of input")
}

// quoteChar formats c as encoding/json's syntax errors do: in single
// quotes, escaped as a Go string would escape the code point c.
func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}
