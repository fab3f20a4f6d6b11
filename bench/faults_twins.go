package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/signet-city/signet/devices/twin"
)

// twinCounter reads a device's twin over the HTTP API (GET
// /api/v1/twins/{id}, as the admin) and returns the newest counter that set
// one of its reported leaves: every state message of the harness sets the
// same fields, so the twin holds the newest accepted one's counter.
func twinCounter(ctx context.Context, httpAddr, token, device string) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/api/v1/twins/"+device, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("twin %s: %w", device, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("twin %s: HTTP %d: %.200s", device, resp.StatusCode, body)
	}
	// The API adds the device's connection beside the stored document.
	var answer map[string]json.RawMessage
	if err := json.Unmarshal(body, &answer); err != nil {
		return 0, fmt.Errorf("twin %s: %w", device, err)
	}
	delete(answer, "connection")
	stored, _ := json.Marshal(answer)
	doc, err := twin.Parse(stored)
	if err != nil {
		return 0, fmt.Errorf("twin %s: %w", device, err)
	}
	top, _ := doc.Meta.Reported.Newest()
	return top.Ctr, nil
}

// lostAcked counts the acknowledged state updates that the twins no longer
// hold: an acknowledged counter above the twin's newest one is an update
// the broker confirmed and then forgot.
func lostAcked(ctx context.Context, httpAddr string, site *faultSite) (uint64, error) {
	var lost uint64
	for _, d := range site.devices {
		top, err := twinCounter(ctx, httpAddr, site.adminToken, d.id)
		if err != nil {
			return lost, err
		}
		d.mu.Lock()
		counted := false
		for _, c := range d.ackedStates {
			if c > top {
				lost++
				counted = true
			}
		}
		if !counted && d.lastAckedState > top {
			lost++
		}
		d.mu.Unlock()
	}
	return lost, nil
}
