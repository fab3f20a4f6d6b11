package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// MinFieldBytes is the smallest field bound Bound accepts: room for the cut
// marker and a few bytes of the value.
const MinFieldBytes = 64

// Bound returns e with every string member cut so that its JSON encoding
// (as it appears in the log, quotes excluded) takes at most max bytes. A cut
// value keeps its beginning and ends with a marker giving the original length
// in bytes and the first 16 hex digits of its SHA-256, so two long values
// that share a prefix can still be told apart. Many of these strings come
// straight from a client (client id, user name, topic, and errors quoting
// them), so without this one event could cost the log megabytes.
func Bound(e Event, max int) Event {
	if max < MinFieldBytes {
		max = MinFieldBytes
	}
	for _, s := range []*string{&e.Kind, &e.Client, &e.User, &e.Remote, &e.Device, &e.KID, &e.Topic, &e.Reason, &e.Detail, &e.Source, &e.OfKind} {
		*s = boundString(*s, max)
	}
	return e
}

// boundString cuts s to at most max encoded bytes (see Bound).
func boundString(s string, max int) string {
	if encodedLen(s, max) <= max {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	marker := fmt.Sprintf("...(cut, %d bytes, sha256 %s)", len(s), hex.EncodeToString(sum[:8]))
	room := max - len(marker)
	n, used := 0, 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		w := runeEncodedLen(r, size)
		if used+w > room {
			break
		}
		used += w
		n += size
	}
	return s[:n] + marker
}

// encodedLen is the length of s as encoding/json writes it inside quotes,
// counted only up to a little past limit.
func encodedLen(s string, limit int) int {
	total := 0
	for i := 0; i < len(s) && total <= limit; {
		r, size := utf8.DecodeRuneInString(s[i:])
		total += runeEncodedLen(r, size)
		i += size
	}
	return total
}

// runeEncodedLen is how many bytes encoding/json (with its default HTML
// escaping) writes for one decoded rune of a string.
func runeEncodedLen(r rune, size int) int {
	switch {
	case r == utf8.RuneError && size == 1:
		return len(`\ufffd`) // invalid UTF-8 is replaced by an escaped U+FFFD
	case r == '\u2028' || r == '\u2029':
		return len(`\u2028`)
	case r >= utf8.RuneSelf:
		return size
	case r == '"' || r == '\\' || r == '\b' || r == '\f' || r == '\n' || r == '\r' || r == '\t':
		return 2
	case r < 0x20 || r == '<' || r == '>' || r == '&':
		return len(`\u003c`)
	}
	return 1
}

// MaxLineBytes is the longest line, newline included, that an event bounded
// with Bound(e, maxField) can make: every string member at its bound and
// every number at its widest.
func MaxLineBytes(maxField int) int {
	if maxField < MinFieldBytes {
		maxField = MinFieldBytes
	}
	s := strings.Repeat("x", maxField)
	e := Event{
		Time: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", -(23*3600+59*60))),
		Kind: s, Client: s, User: s, Remote: s, Device: s, KID: s, Topic: s, Reason: s, Counter: math.MaxUint64,
		Detail: s, Source: s, OfKind: s, Count: math.MaxUint64,
	}
	line, _, err := encodeLine(math.MaxUint64, genesis, e)
	if err != nil {
		panic(err) // a fixed event always encodes
	}
	return len(line)
}
