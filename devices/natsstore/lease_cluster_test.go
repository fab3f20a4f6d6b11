package natsstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/signet-city/signet/devices"
	"github.com/signet-city/signet/devices/natsstore"
	"github.com/signet-city/signet/devices/natsstore/natstest"
)

// TestConcurrentLeasesNeverOverlap: two brokers' stores, connected to
// different nodes of a real 3-node JetStream cluster (replicas 3), extend
// the leases of the same keys from the same bound at the same moment, round
// after round. In every round exactly one of them takes each key's lease
// and the other is told the bound the winner wrote (SPEC §6), so every
// interval ever taken is disjoint from every other. Meanwhile a third key,
// extended by one broker alone, is never refused (the honest case).
func TestConcurrentLeasesNeverOverlap(t *testing.T) {
	c := natstest.StartCluster(t, 3)
	stores := []*natsstore.Store{openOn(t, c.Servers[0].ClientURL(), 3), openOn(t, c.Servers[1].ClientURL(), 3)}
	kids := [][]byte{[]byte("contested-1"), []byte("contested-2")}
	solo := []byte("solo")
	ctx := context.Background()

	type interval struct{ from, to uint64 }
	taken := map[string][]interval{} // kid -> every interval any broker took
	known := map[string]uint64{}     // the bound both brokers hold before a round
	var soloBound uint64
	const rounds = 150
	for round := range rounds {
		type answer struct {
			results []error
			err     error
			asked   []devices.LeaseExtension
		}
		answers := make(chan answer, len(stores))
		start := make(chan struct{})
		for i, s := range stores {
			var asked []devices.LeaseExtension
			for _, kid := range kids {
				asked = append(asked, devices.LeaseExtension{KID: kid, From: known[string(kid)], To: known[string(kid)] + 1 + rand.Uint64N(1024)})
			}
			if i == 0 {
				asked = append(asked, devices.LeaseExtension{KID: solo, From: soloBound, To: soloBound + 64})
			}
			go func() {
				<-start // both ask at once
				res, err := s.ExtendLeases(ctx, asked, nil)
				answers <- answer{res, err, asked}
			}()
		}
		close(start)
		won := map[string]int{}
		next := map[string]uint64{}
		stored := map[string]uint64{}
		for range stores {
			a := <-answers
			if a.err != nil {
				t.Fatalf("round %d: %v", round, a.err)
			}
			for j, l := range a.asked {
				k := string(l.KID)
				var conflict *devices.LeaseConflictError
				switch {
				case a.results[j] == nil:
					won[k]++
					next[k] = l.To
					taken[k] = append(taken[k], interval{l.From, l.To})
				case errors.As(a.results[j], &conflict):
					stored[k] = conflict.Stored
				default:
					t.Fatalf("round %d, kid %s: %v", round, k, a.results[j])
				}
			}
		}
		for _, kid := range kids {
			k := string(kid)
			if won[k] != 1 {
				t.Fatalf("round %d, kid %s: %d brokers took the lease from %d, want exactly one", round, k, won[k], known[k])
			}
			if s, lost := stored[k]; lost && s != next[k] {
				t.Fatalf("round %d, kid %s: the loser was told bound %d, the winner wrote %d", round, k, s, next[k])
			}
			known[k] = next[k]
		}
		if won[string(solo)] != 1 {
			t.Fatalf("round %d: the uncontested key's lease was refused", round)
		}
		soloBound += 64
	}
	for k, ivs := range taken {
		for i := range ivs {
			for j := range i {
				a, b := ivs[i], ivs[j]
				if a.from < b.to && b.from < a.to {
					t.Fatalf("kid %s: intervals (%d,%d] and (%d,%d] overlap", k, a.from, a.to, b.from, b.to)
				}
			}
		}
	}
	// What the brokers were told is what the cluster holds.
	snap, err := stores[1].Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range snap.Windows {
		want := known[string(w.KID)]
		if string(w.KID) == string(solo) {
			want = soloBound
		}
		if w.HighWater != want {
			t.Errorf("kid %s: stored bound %d, want %d", w.KID, w.HighWater, want)
		}
	}
	if len(snap.Windows) != 3 {
		t.Errorf("stored %d lease records, want 3: %v", len(snap.Windows), fmt.Sprint(snap.Windows))
	}
}
