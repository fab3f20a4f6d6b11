package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// growStore enrols new streetlights over the HTTP API (POST
// /api/v1/devices, as the admin) until the broker refuses refusalsInARow
// of them in a row or max were enrolled: on a full disk the store must
// grow to hold them, so this is what makes the disk's fullness matter. It
// returns the devices enrolled (HTTP 201), ready to publish, and the
// refusals seen.
func growStore(ctx context.Context, httpAddr string, site *faultSite, prefix string, max int) (enrolled []*faultDevice, refused int, err error) {
	const refusalsInARow = 3
	client := &http.Client{Timeout: 20 * time.Second}
	inARow := 0
	for i := 1; len(enrolled) < max && inARow < refusalsInARow; i++ {
		key, err := signing.GenerateKey(signing.AlgEd25519)
		if err != nil {
			return enrolled, refused, err
		}
		id := fmt.Sprintf("%s-%04d", prefix, i)
		kid := signing.KeyID(key.Public())
		dev := devices.Device{ID: id, Zone: FaultZone, Kind: "streetlight", Keys: []devices.Key{{
			KID: kid, Alg: key.Alg(), Public: key.Public().Bytes(), Status: devices.StatusActive,
		}}}
		body, err := json.Marshal(dev)
		if err != nil {
			return enrolled, refused, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+httpAddr+"/api/v1/devices", bytes.NewReader(body))
		if err != nil {
			return enrolled, refused, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+site.adminToken)
		resp, err := client.Do(req)
		if err != nil {
			return enrolled, refused, fmt.Errorf("enrolling %s: %w", id, err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusCreated {
			enrolled = append(enrolled, &faultDevice{id: id, zone: FaultZone, key: key, kid: kid})
			inARow = 0
			continue
		}
		refused++
		inARow++
	}
	return enrolled, refused, nil
}

// lostEnrolments counts the devices whose twin the broker does not serve.
func lostEnrolments(ctx context.Context, httpAddr string, site *faultSite, devs []*faultDevice) (uint64, error) {
	var lost uint64
	for _, d := range devs {
		if _, err := twinCounter(ctx, httpAddr, site.adminToken, d.id); err != nil {
			if ctx.Err() != nil {
				return lost, ctx.Err()
			}
			lost++
		}
	}
	return lost, nil
}
