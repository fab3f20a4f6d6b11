package broker

// oneOf reports whether event is among events: the hooks' Provides.
// mochi asks every hook's Provides for every event of every packet (a
// dozen per message at city rates), so this is a plain loop, where
// bytes.Contains cost a search call each time.
func oneOf(event byte, events ...byte) bool {
	for _, e := range events {
		if e == event {
			return true
		}
	}
	return false
}
