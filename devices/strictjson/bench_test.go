package strictjson

import (
	"fmt"
	"strings"
	"testing"
)

// benchInputs are the documents DecodeObject reads most: a streetlight's
// power reading (every telemetry message), a traffic signal's state patch
// (nested groups), and a 4 KiB object of every kind of value.
var benchInputs = []struct{ name, doc string }{
	{"power", `{"power_w":36.75}`},
	{"signal-patch", signalPatch()},
	{"4KiB", object4KiB()},
}

func signalPatch() string {
	var b strings.Builder
	b.WriteString(`{"mode":"normal","plan":"weekday-am","cycle_s":90,"boot":1764740000000,"groups":{`)
	for g := 1; g <= 4; g++ {
		state, ped := "red", "dont-walk"
		if g%2 == 1 {
			state, ped = "green", "walk"
		}
		if g > 1 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"%d":{"state":%q,"since":%d,"next_change_ms":%d,"ped":%q,"ped_since":%d}`,
			g, state, 1764740012345+g, 12000+g*500, ped, 1764740012345+g)
	}
	b.WriteString(`}}`)
	return b.String()
}

// object4KiB is a document of about 4 KiB: numbers, plain and escaped
// strings, literals, arrays and nested objects in turn.
func object4KiB() string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; b.Len() < 4000; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"field_%03d":`, i)
		switch i % 6 {
		case 0:
			fmt.Fprintf(&b, "%d.%02d", i*37, i%100)
		case 1:
			fmt.Fprintf(&b, `"sensor reading number %d, within limits"`, i)
		case 2:
			b.WriteString(`"line\nbreak \"quoted\" caf\u00e9"`)
		case 3:
			b.WriteString(`[true,false,null]`)
		case 4:
			fmt.Fprintf(&b, `[%d,%d,%d.5,-%d]`, i, i*2, i*3, i*4)
		case 5:
			fmt.Fprintf(&b, `{"x":%d,"y":-0.25,"label":"zone-%d","ok":true}`, i, i%7)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// BenchmarkDecodeObject compares the scanner with the Token-based decoder
// it replaced (decoder=oracle) on each input.
func BenchmarkDecodeObject(b *testing.B) {
	for _, in := range benchInputs {
		doc := []byte(in.doc)
		for _, dec := range []struct {
			name   string
			decode func([]byte, int) (map[string]any, error)
		}{{"scanner", DecodeObject}, {"oracle", oracleDecodeObject}} {
			b.Run("in="+in.name+"/decoder="+dec.name, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(doc)))
				for b.Loop() {
					if _, err := dec.decode(doc, 0); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
