package fleet

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The broker's verdict counters (broker/verify_metrics.go).
const (
	acceptedMetric = "signet_messages_accepted_total"
	rejectedMetric = "signet_messages_rejected_total" // label "reason": SPEC §4
)

// Verdicts are a broker's verdict counters at one moment: messages under
// city/ it accepted, and those it refused, by SPEC §4 reason.
//
// Over MQTT 3.1.1 a device cannot tell a refused message from an accepted
// one (both are acknowledged), so a fleet learns how many of its messages
// were refused from the broker's Prometheus endpoint. The counters are the
// broker's, for every client: only the difference between two scrapes
// while the fleet is the broker's only publisher is the fleet's own.
type Verdicts struct {
	Accepted float64
	Rejected map[string]float64 // by reason
}

// RejectedTotal is the sum over every reason.
func (v Verdicts) RejectedTotal() float64 {
	var n float64
	for _, c := range v.Rejected {
		n += c
	}
	return n
}

// Since is v minus an earlier scrape.
func (v Verdicts) Since(earlier Verdicts) Verdicts {
	d := Verdicts{Accepted: v.Accepted - earlier.Accepted, Rejected: map[string]float64{}}
	for r, n := range v.Rejected {
		if n -= earlier.Rejected[r]; n != 0 {
			d.Rejected[r] = n
		}
	}
	return d
}

// ScrapeVerdicts reads the verdict counters from a broker's /metrics URL.
// Errors name the URL.
func ScrapeVerdicts(ctx context.Context, client *http.Client, metricsURL string) (Verdicts, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return Verdicts{}, fmt.Errorf("metrics %s: %w", metricsURL, err)
	}
	// The classic text format: what promhttp serves without negotiation.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // it would repeat the URL
		}
		return Verdicts{}, fmt.Errorf("metrics %s: %w", metricsURL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Verdicts{}, fmt.Errorf("metrics %s: HTTP %s", metricsURL, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return Verdicts{}, fmt.Errorf("metrics %s: not Prometheus text: %w", metricsURL, err)
	}
	rej, ok := families[rejectedMetric]
	if !ok {
		return Verdicts{}, fmt.Errorf("metrics %s: no %s (is it a Signet broker's /metrics?)", metricsURL, rejectedMetric)
	}
	v := Verdicts{Rejected: map[string]float64{}}
	for _, m := range rej.GetMetric() {
		reason := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == "reason" {
				reason = l.GetValue()
			}
		}
		v.Rejected[reason] += m.GetCounter().GetValue()
	}
	if acc, ok := families[acceptedMetric]; ok {
		for _, m := range acc.GetMetric() {
			v.Accepted += m.GetCounter().GetValue()
		}
	}
	return v, nil
}

// ValidMetricsURL checks that s is an http(s) URL with a host.
func ValidMetricsURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an http://host:port/metrics URL", s)
	}
	return nil
}
