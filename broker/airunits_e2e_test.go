package broker_test

import (
	"testing"

	"github.com/signet-city/signet/signing"
)

// TestAirPollutantWithoutUnitIsRefused: an air-quality sensor's state or
// reading that carries a pollutant without its unit in "units" is refused
// as invalid_state naming units.<pollutant>, reaches no subscriber and
// leaves the twin alone, as does a state that drops a unit the twin keeps
// for a pollutant it still holds. The same sensor stating its units is
// accepted, and a later state may carry only the number: the unit stated
// once stays in the twin.
func TestAirPollutantWithoutUnitIsRefused(t *testing.T) {
	c := startCity(t, nil)
	aud := c.connect(t, "audit-1", "auditor")
	events := subscribe(t, aud, "$security/events")
	seen := subscribe(t, c.connect(t, "ops-console", "admin"), "city/z2/aq-9/#")
	d := c.devs["aq-9"]
	dev := c.connect5(t, "aq-9", "", "", nil)
	const st, tele = "city/z2/aq-9/state", "city/z2/aq-9/tele/air"
	sign := func(topic, p string) []byte { return d.sign(t, topic, []byte(p)) }

	expectRefused(t, dev, events, []refusal{
		{"state without units", st, sign(st, `{"pm25":9,"temp_c":4}`), 0x87, signing.ReasonInvalidState, "units.pm25"},
		{"state missing one unit", st, sign(st, `{"pm25":9,"no2":20,"units":{"pm25":"ug/m3"}}`), 0x87, signing.ReasonInvalidState, "units.no2"},
		{"reading without units", tele, sign(tele, `{"pm25":9,"pm10":14}`), 0x87, signing.ReasonInvalidState, "units.pm10"},
	})
	if doc, _ := c.srv.Edge().Twin("aq-9"); len(doc.Reported) != 0 {
		t.Fatalf("a refused state changed the twin: %v", doc.Reported)
	}

	honest := [][2]string{
		{st, `{"pm25":9,"temp_c":4,"units":{"pm25":"ug/m3"}}`},
		{st, `{"pm25":11}`}, // the unit is kept in the twin
		{tele, `{"pm25":10,"pm10":14,"units":{"pm25":"ug/m3","pm10":"ug/m3"}}`},
	}
	var sent []string
	for _, h := range honest {
		msg := sign(h[0], h[1])
		if code := publish5(t, dev, h[0], msg); code != 0 {
			t.Fatalf("honest %s %s: PUBACK 0x%02x", h[0], h[1], code)
		}
		sent = append(sent, h[0]+" "+string(msg))
	}
	doc, _ := c.srv.Edge().Twin("aq-9")
	units, _ := doc.Reported["units"].(map[string]any)
	if doc.Reported["pm25"] != 11.0 || units["pm25"] != "ug/m3" {
		t.Fatalf("twin after honest reports: %v", doc.Reported)
	}

	// Dropping the unit of a pollutant the twin still holds is refused.
	expectRefused(t, dev, events, []refusal{
		{"state removing a kept unit", st, sign(st, `{"units":{"pm25":null}}`), 0x87, signing.ReasonInvalidState, "units.pm25"},
	})
	last := sign(st, `{"pm25":12}`)
	if code := publish5(t, dev, st, last); code != 0 {
		t.Fatalf("honest state after the refusal: PUBACK 0x%02x", code)
	}
	sent = append(sent, st+" "+string(last))

	// The subscriber got the honest messages, in order, and nothing else.
	for i, want := range sent {
		m := seen.next(t)
		if got := m.Topic() + " " + string(m.Payload()); got != want {
			t.Fatalf("delivery %d: %.300q, want the honest %.300q", i, got, want)
		}
	}
	if doc, _ := c.srv.Edge().Twin("aq-9"); doc.Reported["pm25"] != 12.0 {
		t.Fatalf("twin after the last honest state: %v", doc.Reported)
	}
}
