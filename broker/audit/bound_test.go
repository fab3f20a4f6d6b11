package audit

import (
	"encoding/json"
	"strings"
	"testing"
)

// jsonLen is the length of s as encoding/json writes it, quotes excluded.
func jsonLen(t *testing.T, s string) int {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return len(b) - 2
}

func TestRuneEncodedLenAgreesWithEncodingJSON(t *testing.T) {
	for b := 0; b < 256; b++ {
		s := string([]byte{byte(b)})
		if got, want := encodedLen(s, 100), jsonLen(t, s); got != want {
			t.Errorf("byte %#x: encodedLen %d, encoding/json %d", b, got, want)
		}
	}
	for _, s := range []string{"é", "€", "𝄞", "\u2028", "\u2029", "\ufffd"} {
		if got, want := encodedLen(s, 100), jsonLen(t, s); got != want {
			t.Errorf("%q: encodedLen %d, encoding/json %d", s, got, want)
		}
	}
}

func TestBoundCutsEveryClientFieldAndMarksTheCut(t *testing.T) {
	const max = 256
	long := strings.Repeat("x", 60<<10)
	other := strings.Repeat("x", 60<<10-1) + "y" // same prefix, other value
	nasty := strings.Repeat("<\x01\xff\u2028", 20<<10)
	e := Bound(Event{Kind: "auth_failed", Client: long, User: nasty, Remote: long, Device: long, KID: long,
		Topic: long, Reason: long, Detail: nasty, Source: long, OfKind: long}, max)
	for name, v := range map[string]string{"client": e.Client, "user": e.User, "remote": e.Remote, "device": e.Device,
		"kid": e.KID, "topic": e.Topic, "reason": e.Reason, "detail": e.Detail, "source": e.Source, "of_kind": e.OfKind} {
		if n := jsonLen(t, v); n > max {
			t.Errorf("%s: %d encoded bytes, want at most %d", name, n, max)
		}
		if !strings.Contains(v, "...(cut, ") {
			t.Errorf("%s: %q carries no cut marker", name, v)
		}
	}
	if !strings.Contains(e.Client, "61440 bytes") {
		t.Errorf("client %q does not give the original length", e.Client)
	}
	if Bound(Event{Client: other}, max).Client == e.Client {
		t.Error("two long values with the same prefix are cut to the same text")
	}
	if e.Kind != "auth_failed" {
		t.Errorf("short kind changed to %q", e.Kind)
	}
	short := Event{Client: "sl-1", Topic: "city/z1/sl-1/state", Detail: `a "quoted" <detail>`}
	if got := Bound(short, max); got != short {
		t.Errorf("short event changed: %+v", got)
	}
}

func TestMaxLineBytesBoundsEveryBoundedEvent(t *testing.T) {
	const max = 256
	nasty := strings.Repeat("<\x01\xff\u2028\"", 20<<10)
	e := Bound(Event{Kind: nasty, Client: nasty, User: nasty, Remote: nasty, Device: nasty, KID: nasty, Topic: nasty,
		Reason: nasty, Detail: nasty, Source: nasty, OfKind: nasty, Counter: 1 << 63, Count: 1 << 63}, max)
	line, _, err := encodeLine(1<<62, genesis, e)
	if err != nil {
		t.Fatal(err)
	}
	if bound := MaxLineBytes(max); len(line) > bound || bound > 12*max+1024 {
		t.Fatalf("line of %d bytes, bound %d", len(line), bound)
	}
}
