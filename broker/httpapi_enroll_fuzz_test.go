package broker

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/signing"
)

// FuzzEnrollBody sends each input as the body of POST /api/v1/devices,
// with an admin's bearer token, through the real HTTP handler of a real
// server (its own store): a body is an untrusted input even from an admin
// (a script, a paste), so no body may panic the broker or earn a 5xx.
// After every input an honest enrolment must still be answered 201 now and
// then, so a body that wedged the enroller would be seen.
func FuzzEnrollBody(f *testing.F) {
	const token = "fuzz-enrol-token"
	sum := sha256.Sum256([]byte(token))
	cfg := DefaultConfig()
	cfg.Store, cfg.MQTT, cfg.HTTP, cfg.Audit = filepath.Join(f.TempDir(), "signet.db"), "127.0.0.1:0", "", ""
	cfg.Users = []User{{Name: "admin", Role: RoleAdmin, TokenSHA256: hex.EncodeToString(sum[:])}}
	srv, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	handler := srv.httpHandler()
	post := func(body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/api/v1/devices", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}
	// Seeds: real device documents, as signet device export and signet
	// flash --api write them, for every algorithm, and the usual mistakes.
	for i, alg := range []signing.Alg{signing.AlgEd25519, signing.AlgES256, signing.AlgEdDSA} {
		key, err := signing.GenerateKey(alg)
		if err != nil {
			f.Fatal(err)
		}
		pub := key.Public()
		d := devices.Device{ID: "seed-" + string(rune('a'+i)), Zone: "z1", Kind: "streetlight", Keys: []devices.Key{{
			KID: signing.KeyID(pub), Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive,
		}}}
		good, err := json.Marshal(d)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(good)
		f.Add(bytes.Replace(good, []byte(`"status":"active"`), []byte(`"status":"active","d":"AAAA"`), 1))
		f.Add(bytes.Replace(good, []byte(`"streetlight"`), []byte(`"toaster"`), 1))
		f.Add(bytes.Replace(good, []byte(`"z1"`), []byte(`"Z_1"`), 1))
		f.Add(good[:len(good)/2])
		f.Add(append(append([]byte{}, good...), good...))
		priv, err := signing.MarshalPrivateJWK(key, signing.KeyID(pub))
		if err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(`{"id":"seed-jwk","zone":"z1","kind":"streetlight","keys":[` + string(priv) + `]}`))
	}
	f.Add([]byte(`{"id":"tl-1","zone":"z1","kind":"traffic-signal","params":{"phases":[{"name":"ns","green_s":30}]},"keys":[]}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(strings.Repeat("[", 10000)))
	f.Add([]byte(`{"id":"x","id":"y"}`))
	f.Add([]byte{0xff, 0xfe, 0x00})

	honest := 0
	f.Fuzz(func(t *testing.T, body []byte) {
		if rec := post(body); rec.Code >= 500 {
			t.Fatalf("body %q: HTTP %d: %s", body, rec.Code, rec.Body.String())
		}
		honest++
		if honest%64 != 1 {
			return
		}
		// The enroller still takes an honest device.
		key, err := signing.GenerateKey(signing.AlgEd25519)
		if err != nil {
			t.Fatal(err)
		}
		pub := key.Public()
		kid := signing.KeyID(pub)
		good, _ := json.Marshal(devices.Device{ID: "honest-" + hex.EncodeToString(kid[:6]), Zone: "z1", Kind: "streetlight", Keys: []devices.Key{{
			KID: kid, Alg: pub.Alg(), Public: pub.Bytes(), Status: devices.StatusActive,
		}}})
		if rec := post(good); rec.Code != http.StatusCreated {
			t.Fatalf("after body %q an honest enrolment got HTTP %d: %s", body, rec.Code, rec.Body.String())
		}
	})
}
