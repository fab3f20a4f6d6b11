package strictjson

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// failure is a refusal on its way out of the recursion. Its path is
// gathered while unwinding, so that a document that is accepted never
// builds one.
type failure struct {
	offset int
	msg    string
	segs   []segment // innermost first
}

// segment is one step of a path: a member name, or an element index when
// index ≥ 0.
type segment struct {
	name  string
	index int
}

func failAt(offset int, msg string) *failure {
	return &failure{offset: offset, msg: msg}
}

// in places f inside the member name.
func (f *failure) in(name string) *failure {
	f.segs = append(f.segs, segment{name: name, index: -1})
	return f
}

// at places f inside the element index.
func (f *failure) at(index int) *failure {
	f.segs = append(f.segs, segment{index: index})
	return f
}

// err renders f as the *Error callers see.
func (f *failure) err() *Error {
	return &Error{Path: f.path(), Offset: int64(f.offset), Msg: f.msg}
}

// path renders the dotted path, as kinds names fields, stopping once it
// is longer than shorten keeps.
func (f *failure) path() string {
	var b strings.Builder
	for i := len(f.segs) - 1; i >= 0 && b.Len() <= maxPathBytes; i-- {
		s := f.segs[i]
		switch {
		case s.index >= 0:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case b.Len() == 0:
			b.WriteString(s.name)
		default:
			b.WriteByte('.')
			b.WriteString(s.name)
		}
	}
	return shorten(b.String())
}

// maxPathBytes bounds the path an error carries: a hostile member name may
// be tens of kilobytes, and errors end up in security events and logs.
const maxPathBytes = 128

// shorten cuts path to maxPathBytes, on a rune boundary, marking the cut.
func shorten(path string) string {
	if len(path) <= maxPathBytes {
		return path
	}
	cut := maxPathBytes
	for cut > 0 && !utf8.RuneStart(path[cut]) {
		cut--
	}
	return strings.ToValidUTF8(path[:cut], "?") + "…"
}
