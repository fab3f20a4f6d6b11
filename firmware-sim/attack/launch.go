package attack

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/signet-city/signet/signing"
)

// Tally is what the broker answered to the messages of one kind of attack.
type Tally struct {
	Kind       Kind
	Expect     signing.Reason // the SPEC §4 reason the broker should have recorded
	Sent       int            // messages published
	Refused    int            // PUBACK reason code >= 0x80
	Accepted   int            // PUBACK reason code < 0x80: the broker took a hostile message
	Unanswered int            // no PUBACK (connection lost, timeout)
	Codes      map[byte]int   // PUBACK reason codes seen, with their counts
}

// CodeSummary lists the reason codes seen, e.g. "0x87 not authorized ×3".
func (t Tally) CodeSummary() string {
	codes := make([]int, 0, len(t.Codes))
	for c := range t.Codes {
		codes = append(codes, int(c))
	}
	sort.Ints(codes)
	parts := make([]string, 0, len(codes))
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%s ×%d", CodeName(byte(c)), t.Codes[byte(c)]))
	}
	if len(parts) == 0 {
		return "no answer"
	}
	return strings.Join(parts, ", ")
}

// Launch builds count fresh attacks of kind k from s, publishes each over c
// when pace ticks (nil pace: each as soon as the previous one is answered),
// and tallies the broker's answers. It stops early, without error, when
// ctx ends.
func Launch(ctx context.Context, c *Conn, s Scene, k Kind, count int, pace <-chan time.Time) (Tally, error) {
	t := Tally{Kind: k, Codes: map[byte]int{}}
	for i := 0; i < count; i++ {
		a, err := s.Build(k)
		if err != nil {
			return t, err
		}
		t.Expect = a.Expect
		if pace != nil {
			select {
			case <-pace:
			case <-ctx.Done():
				return t, nil
			}
		}
		if ctx.Err() != nil {
			return t, nil
		}
		t.Sent++
		code, err := c.Publish(ctx, a.Topic, a.Payload)
		switch {
		case err != nil:
			t.Unanswered++
		case Refused(code):
			t.Refused++
			t.Codes[code]++
		default:
			t.Accepted++
			t.Codes[code]++
		}
	}
	return t, nil
}
