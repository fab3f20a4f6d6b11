package broker

import "github.com/signet-city/signet/devices/twin"

// Seed starts the accepted and rejected counters from the totals the twins
// have kept in the store (each twin's security counters, summed), so that
// a restart does not drop them to zero: a dashboard that graphs them, or
// `signet sim --metrics`, which subtracts one scrape from another, then
// sees a broker that carried on rather than one that forgot. Rejections the
// broker could not attribute to a device (an unknown key, a message too
// malformed to name one) live in no twin and so start again from zero;
// a twin also counts its device's accepted connect tokens, which the live
// counter does not, so a restart may start a little above the last scrape,
// never below it.
// It returns m for chaining; a nil m seeds nothing.
func (m *VerifyMetrics) Seed(twins []*twin.Document) *VerifyMetrics {
	if m == nil {
		return nil
	}
	var accepted uint64
	rejected := map[string]uint64{}
	for _, d := range twins {
		accepted += d.Security.Accepted
		for reason, n := range d.Security.Rejected {
			rejected[reason] += n
		}
	}
	m.accepted.Add(float64(accepted))
	for reason, n := range rejected {
		m.rejected.WithLabelValues(reason).Add(float64(n))
	}
	return m
}
