package attack

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// probeCrossOriginEnrol is the cross-site request forgery of an enrolment:
// what a page on another site makes a browser send to the broker's API,
// with whatever credentials the browser has cached for it.
var probeCrossOriginEnrol = Probe{
	Name: "cross-origin-enrol",
	Doc:  "a text/plain form POST to /api/v1/devices from another site's page (cross-site request forgery)",
	Run:  runCrossOriginEnrol,
}

// runCrossOriginEnrol sends the request a browser sends for an
// auto-submitted form on another origin: Content-Type text/plain, an
// Origin and Sec-Fetch-Site: cross-site. The probe holds no credentials (a
// browser would add cached ones), so only a refusal that does not depend on
// them counts: 403 (cross-origin) or 415 (not JSON). A 401 says the broker
// asked for credentials first, which a victim's browser would have given.
func runCrossOriginEnrol(ctx context.Context, t Target) (Outcome, error) {
	if t.HTTP == "" {
		return Outcome{}, fmt.Errorf("%w: the broker's HTTP API (--api)", ErrNoTarget)
	}
	wctx, cancel := waitCtx(ctx, t.Patience)
	defer cancel()
	body := `{"id":"csrf-1","zone":"z1","kind":"streetlight","key":{"kty":"OKP"},"x":"="}`
	req, err := http.NewRequestWithContext(wctx, http.MethodPost, strings.TrimRight(t.HTTP, "/")+"/api/v1/devices", strings.NewReader(body))
	if err != nil {
		return Outcome{}, fmt.Errorf("%w: %v", ErrNoTarget, err)
	}
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", "http://attacker.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Sec-Fetch-Mode", "navigate")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Outcome{}, fmt.Errorf("the broker's API at %s: %w", t.HTTP, err)
	}
	resp.Body.Close()
	reason := fmt.Sprintf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	switch resp.StatusCode {
	case http.StatusForbidden, http.StatusUnsupportedMediaType:
		return Outcome{Refused: true, Sent: 1, Reason: reason, Detail: "refused for its origin or content type, whatever the credentials"}, nil
	case http.StatusUnauthorized:
		return Outcome{Sent: 1, Reason: reason, Detail: "the broker asked for credentials before checking the origin: a browser with cached ones would get through"}, nil
	}
	return Outcome{Sent: 1, Reason: reason, Detail: "the cross-origin enrolment was not refused"}, nil
}
