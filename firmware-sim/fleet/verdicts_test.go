package fleet_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/signet-city/signet/firmware-sim/fleet"
)

// TestScrapeVerdicts reads the broker's verdict counters from Prometheus
// text, and says clearly when a URL is not a Signet broker's /metrics.
func TestScrapeVerdicts(t *testing.T) {
	body := map[string]string{
		"/metrics": `# TYPE signet_messages_accepted_total counter
signet_messages_accepted_total 40
# TYPE signet_messages_rejected_total counter
signet_messages_rejected_total{reason="replay"} 3
signet_messages_rejected_total{reason="zone_mismatch"} 2
signet_messages_rejected_total{reason="malformed"} 0
`,
		"/other": "# TYPE go_goroutines gauge\ngo_goroutines 7\n",
		"/html":  "<html>dashboard</html>\n",
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := body[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(b))
	}))
	defer srv.Close()
	ctx := context.Background()
	v, err := fleet.ScrapeVerdicts(ctx, srv.Client(), srv.URL+"/metrics")
	if err != nil {
		t.Fatal(err)
	}
	if v.Accepted != 40 || v.RejectedTotal() != 5 || v.Rejected["replay"] != 3 {
		t.Fatalf("scraped %+v; want 40 accepted, 5 rejected (3 replay)", v)
	}
	earlier := fleet.Verdicts{Accepted: 30, Rejected: map[string]float64{"replay": 3, "zone_mismatch": 1}}
	d := v.Since(earlier)
	if d.Accepted != 10 || d.RejectedTotal() != 1 || len(d.Rejected) != 1 || d.Rejected["zone_mismatch"] != 1 {
		t.Fatalf("since = %+v; want 10 accepted and 1 zone_mismatch", d)
	}
	for path, want := range map[string]string{
		"/other":   "no signet_messages_rejected_total",
		"/html":    "not Prometheus text",
		"/missing": "HTTP 404",
	} {
		_, err := fleet.ScrapeVerdicts(ctx, srv.Client(), srv.URL+path)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), srv.URL+path) {
			t.Errorf("%s: error %v; want one naming the URL and %q", path, err, want)
		}
	}
}
